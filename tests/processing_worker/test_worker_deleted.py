"""An image deleted while the worker processes it leaves no objects behind; an image another
worker took over keeps its variants (same keys)."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import IO, Any

import pytest
from PIL import Image
from worker_helpers import FAST, jobs_settled, queue_url, raw_item, running_worker, upload

from processing_worker import job as job_module
from processing_worker.app import WorkerApp
from processing_worker.pipeline import ProcessResult
from processing_worker.settings import WorkerSettings
from snapqueue_core.aws import AwsClients
from snapqueue_core.schemas import upload_key
from tests.sqs_helpers import messages_on_queue


def jpeg(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, "JPEG")
    return buffer.getvalue()


class PausedTransform:
    """Holds the Pillow thread at the start of each transform until the test lets it go,
    so the test can change the record exactly between claim and completion."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.proceed = threading.Event()
        original: Callable[..., Any] = job_module.timed_process_file

        def paused(source: IO[bytes], settings: WorkerSettings) -> Any:
            self.started.set()
            # Bounded: a failing test must not hang the worker's drain for ever.
            self.proceed.wait(30)
            result: tuple[ProcessResult, Any] = original(source, settings)
            return result

        monkeypatch.setattr(job_module, "timed_process_file", paused)

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 30), "the transform never started"


@asynccontextmanager
async def paused_worker(
    settings: WorkerSettings, paused: PausedTransform
) -> AsyncIterator[WorkerApp]:
    async with running_worker(settings) as app:
        try:
            yield app
        finally:
            paused.proceed.set()


async def outcome_counted(app: WorkerApp, outcome: str, within: float = 20) -> str:
    deadline = time.monotonic() + within
    series = f'snapqueue_worker_jobs_total{{outcome="{outcome}"}} 1.0'
    while True:
        text = app.metrics.render().decode()
        if series in text:
            await jobs_settled(app)
            return text
        assert time.monotonic() < deadline, text
        await asyncio.sleep(0.1)


def requests(metrics: str, operation: str) -> float:
    """The worker's own S3 requests of one operation (the test's are not counted)."""
    series = f'snapqueue_worker_aws_requests_total{{operation="{operation}",service="s3"}} '
    for row in metrics.splitlines():
        if row.startswith(series):
            return float(row.removeprefix(series))
    return 0.0


async def processed_keys(clients: AwsClients, settings: WorkerSettings, image_id: str) -> list[str]:
    listed = await clients.s3.list_objects_v2(
        Bucket=settings.processed_bucket, Prefix=f"processed/{image_id}/"
    )
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


async def upload_exists(clients: AwsClients, settings: WorkerSettings, image_id: str) -> bool:
    listed = await clients.s3.list_objects_v2(
        Bucket=settings.uploads_bucket, Prefix=upload_key(image_id)
    )
    return bool(listed.get("Contents"))


async def queue_drained(clients: AwsClients, settings: WorkerSettings, within: float = 10) -> None:
    url = await queue_url(clients, settings.upload_queue)
    deadline = time.monotonic() + within
    while await messages_on_queue(clients.sqs, url):
        assert time.monotonic() < deadline, "the message was not deleted"
        await asyncio.sleep(0.2)


async def test_an_image_deleted_while_processing_leaves_no_objects(
    resources_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=1, **FAST)
    paused = PausedTransform(monkeypatch)
    async with paused_worker(settings, paused) as app:
        image_id = await upload(clients, settings, jpeg())
        await paused.wait_started()
        assert (await raw_item(clients, settings, image_id))["status"] == "PROCESSING"
        # What DELETE /image does first; the service's object deletes found no variants yet.
        await clients.dynamodb.delete_item(
            TableName=settings.images_table, Key={"imageId": {"S": image_id}}
        )
        paused.proceed.set()
        metrics = await outcome_counted(app, "deleted")
        await queue_drained(clients, settings)
    assert await processed_keys(clients, settings, image_id) == []
    assert not await upload_exists(clients, settings, image_id)
    assert await raw_item(clients, settings, image_id) == {}  # nothing wrote it back
    assert 'snapqueue_worker_jobs_total{outcome="completed"}' not in metrics
    # The variants were uploaded (then removed), so the cleanup did real work.
    assert requests(metrics, "PutObject") == 3
    assert requests(metrics, "DeleteObjects") == 1


async def test_an_image_taken_over_by_another_worker_keeps_its_variants(
    resources_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=1, **FAST)
    paused = PausedTransform(monkeypatch)
    async with paused_worker(settings, paused) as app:
        image_id = await upload(clients, settings, jpeg())
        await paused.wait_started()
        # Another worker's claim, as ImageStore.claim writes it after this lease ran out.
        await clients.dynamodb.update_item(
            TableName=settings.images_table,
            Key={"imageId": {"S": image_id}},
            UpdateExpression="SET processingToken = :token, leaseUntil = :lease",
            ExpressionAttributeValues={
                ":token": {"S": uuid.uuid4().hex},
                ":lease": {"N": str(int(time.time()) + 300)},
            },
        )
        paused.proceed.set()
        await outcome_counted(app, "stale")
        await queue_drained(clients, settings)
    keys = await processed_keys(clients, settings, image_id)
    assert [key.rsplit("/", 1)[1].split(".")[0] for key in keys] == [
        "grayscale",
        "resized",
        "thumbnail",
    ]
    assert await upload_exists(clients, settings, image_id)
    record = await raw_item(clients, settings, image_id)
    assert record["status"] == "PROCESSING"  # the other worker's to complete


async def test_a_claim_on_a_deleted_record_writes_nothing(resources_factory: Any) -> None:
    """The record went before any worker claimed it: the claim is rejected, nothing is
    processed or written, and the upload is dropped as an orphan."""
    settings, clients = await resources_factory(WorkerSettings, concurrency=1, **FAST)
    image_id = uuid.uuid4().hex
    # Left over from an earlier delivery that failed mid-upload before the delete.
    stale_variant = f"processed/{image_id}/thumbnail.jpg"
    await clients.s3.put_object(Bucket=settings.processed_bucket, Key=stale_variant, Body=b"x")
    async with running_worker(settings) as app:
        await clients.s3.put_object(
            Bucket=settings.uploads_bucket, Key=upload_key(image_id), Body=jpeg()
        )
        metrics = await outcome_counted(app, "orphan")
        await queue_drained(clients, settings)
    assert await processed_keys(clients, settings, image_id) == []
    assert not await upload_exists(clients, settings, image_id)
    assert await raw_item(clients, settings, image_id) == {}
    assert requests(metrics, "PutObject") == 0
    assert requests(metrics, "GetObject") == 0  # not even downloaded
    assert requests(metrics, "DeleteObjects") == 1


async def test_an_image_deleted_before_its_failure_is_recorded_is_dropped(
    resources_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transform rejects the file, but the record went meanwhile: no FAILED record is
    written back, no event sent, and the original goes too."""
    settings, clients = await resources_factory(WorkerSettings, concurrency=1, **FAST)
    paused = PausedTransform(monkeypatch)
    async with paused_worker(settings, paused) as app:
        image_id = await upload(clients, settings, b"%PDF-1.4 not an image")
        await paused.wait_started()
        await clients.dynamodb.delete_item(
            TableName=settings.images_table, Key={"imageId": {"S": image_id}}
        )
        paused.proceed.set()
        metrics = await outcome_counted(app, "deleted")
        await queue_drained(clients, settings)
    assert await raw_item(clients, settings, image_id) == {}
    assert not await upload_exists(clients, settings, image_id)
    assert await processed_keys(clients, settings, image_id) == []
    assert 'snapqueue_worker_jobs_total{outcome="failed"}' not in metrics
