"""The worker's HTTP endpoints and start-up wait against the emulator: routes, status codes,
JSON bodies, the Prometheus content type, and why /readyz says not ready."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from worker_helpers import FAST, running_worker

from processing_worker.app import StartupError, WorkerApp, wait_for_queue
from processing_worker.job import Outcome
from processing_worker.settings import WorkerSettings


async def test_routes_bodies_and_content_types(resources_factory: Any) -> None:
    settings, _ = await resources_factory(WorkerSettings, concurrency=1, **FAST)
    async with running_worker(settings) as app, httpx.AsyncClient() as http:
        assert app.port > 0  # port 0 binds a free one, and the app reports it
        base = f"http://127.0.0.1:{app.port}"
        healthz = await http.get(f"{base}/healthz?probe=ecs")  # a query string is ignored
        assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
        assert healthz.headers["content-type"] == "application/json"
        assert (await http.head(f"{base}/healthz")).status_code == 200
        metrics = await http.get(f"{base}/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"] == CONTENT_TYPE_LATEST
        assert "snapqueue_worker_job_slots" in metrics.text
        missing = await http.get(f"{base}/nope")
        assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
        posted = await http.post(f"{base}/readyz")
        assert (posted.status_code, posted.json()) == (405, {"error": "only GET"})


async def test_readyz_names_why_it_is_not_ready(resources_factory: Any) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=1, **FAST)
    async with WorkerApp(settings) as app, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{app.port}"
        # Started but not yet receiving (run() not called).
        response = await http.get(f"{base}/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "not-ready", "reason": "not receiving"}
        assert app.consumer is not None
        stop = asyncio.Event()
        task = asyncio.create_task(app.run(stop))
        try:
            deadline = time.monotonic() + 10
            while (await http.get(f"{base}/readyz")).status_code != 200:
                assert time.monotonic() < deadline, "never ready"
                await asyncio.sleep(0.05)
            await clients.sqs.delete_queue(QueueUrl=app.consumer.queue_url)
            gone = await http.get(f"{base}/readyz")
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=settings.shutdown_grace_seconds + 10)
    assert gone.status_code == 503
    body = gone.json()
    assert body["status"] == "not-ready"
    assert body["reason"].startswith("queue: ")


async def test_startup_gives_up_on_a_missing_queue(resources_factory: Any) -> None:
    _, clients = await resources_factory(WorkerSettings, **FAST)
    started = time.monotonic()
    with pytest.raises(StartupError, match="never-created"):
        await wait_for_queue(clients.sqs, "never-created", 0.6)
    assert time.monotonic() - started < 5


def test_outcome_labels_stay_as_dashboards_know_them() -> None:
    """The values are the ``outcome`` label of snapqueue_worker_jobs_total."""
    assert {outcome.value for outcome in Outcome} == {
        "completed",
        "failed",
        "duplicate",
        "busy",
        "stale",
        "retry",
        "failed_dead_letter",
        "stale_dead_letter",
        "cancelled",
        "no_record",
        "orphan",
        "malformed",
        "test_event",
        "foreign_bucket",
        "ignored_event",
        "ignored_key",
        "deleted",
    }
