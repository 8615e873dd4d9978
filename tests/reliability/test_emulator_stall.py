"""Emulator stall: SIGSTOP the AWS emulator in the middle of a load, then SIGCONT.

During the stall every service's ``/readyz`` answers 503 (not ready); after it, all of them
are ready again, and nothing is lost: every image ends terminal and every client hears.

Modest: 30 uploads, a 5 s stall. ``--full``: 100 uploads, a 10 s stall.
"""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from devstack.stack import Stack
from tests.reliability.figures import RssSampler, run_figures, write_figures
from tests.reliability.harness import (
    ALLOWED_ORIGIN,
    SERVICES,
    Inspector,
    WsPool,
    jpeg_items,
    pool_size,
    run_uploads,
    tails,
    wait_http,
)
from tests.reliability.invariants import settle, summarize


async def probe_readiness(
    stack: Stack, until: float, every: float = 0.5
) -> dict[str, list[tuple[float, int | str]]]:
    """Ask every service's /readyz every ``every`` seconds until ``until``; record answers."""
    answers: dict[str, list[tuple[float, int | str]]] = {name: [] for name in SERVICES}
    async with httpx.AsyncClient(timeout=8) as http:

        async def ask(name: str) -> None:
            sent = time.monotonic()
            try:
                response = await http.get(f"{stack.url(name)}/readyz")
                answers[name].append((sent, response.status_code))
            except httpx.HTTPError as exc:
                answers[name].append((sent, type(exc).__name__))

        probes = []
        while time.monotonic() < until:
            probes += [asyncio.create_task(ask(name)) for name in SERVICES]
            await asyncio.sleep(every)
        await asyncio.gather(*probes)
    return answers


@pytest.mark.timeout(900)
async def test_emulator_stall_makes_services_not_ready_and_loses_nothing(
    stack: Stack, full_size: bool
) -> None:
    # Paced, so that uploads are still arriving when the emulator stops.
    uploads, concurrency, rate, stall = (100, 10, 5.0, 10.0) if full_size else (30, 5, 3.0, 5.0)
    emulator = stack.processes["emulator"]

    async with (
        Inspector(stack) as inspector,
        WsPool(stack.ws_url, pool_size(uploads), origin=ALLOWED_ORIGIN) as pool,
        RssSampler(stack, SERVICES) as rss,
    ):
        halfway = asyncio.Event()

        async def progress(done: int) -> None:
            if done >= uploads // 2:
                halfway.set()

        uploading = asyncio.create_task(
            run_uploads(
                stack.url("upload"),
                pool,
                jpeg_items(uploads),
                concurrency,
                rate=rate,
                on_progress=progress,
            )
        )
        # Mid-load: half of the uploads done, the rest still arriving, images in the worker.
        await asyncio.wait_for(halfway.wait(), 180)
        assert len(pool.terminal) < uploads, "the stall came after the load"
        emulator.signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            answers = await probe_readiness(stack, until=stopped_at + stall - 3.5)
            await asyncio.sleep(max(0.0, stopped_at + stall - time.monotonic()))
        finally:
            emulator.signal(signal.SIGCONT)
        resumed_at = time.monotonic()
        ready_again = {
            name: await wait_http(f"{stack.url(name)}/readyz", 200, within=60) for name in SERVICES
        }
        recovered_in = time.monotonic() - resumed_at
        run = await uploading
        # Uploads that were under way while the emulator was stopped.
        spanning = sum(
            1
            for o in run.outcomes
            if o.started < resumed_at and (o.uploaded is None or o.uploaded > stopped_at)
        )
        settled = await settle(
            inspector,
            pool,
            run.image_ids,
            events_within=300 if full_size else 120,
            records_within=15,
        )

    statuses = settled.statuses
    not_ready = {name: [a for _, a in answers[name]] for name in SERVICES}
    write_figures(
        run_figures(
            "emulator-stall",
            run,
            pool,
            dict(statuses),
            full=full_size,
            concurrency=concurrency,
            rss=rss,
            extra={
                "stall_seconds": stall,
                "uploads_under_way_during_stall": spanning,
                "readyz_during_stall": not_ready,
                "all_ready_again_after_seconds": round(recovered_in, 2),
            },
        )
    )

    assert spanning >= 1, "the stall did not hit any upload"
    for name in SERVICES:
        assert 503 in not_ready[name], f"{name} never reported not-ready: {not_ready[name]}"
        assert all(a in (200, 503) for a in not_ready[name]), (name, not_ready[name])
    assert all(ready_again.values()), f"not ready after the stall: {ready_again}\n{tails(stack)}"
    assert not run.failures(), [o.error for o in run.failures()][:10]
    assert run.server_errors == 0, run.statuses
    assert not settled.missing, (
        f"{len(settled.missing)} clients never got a terminal event\n{tails(stack)}"
    )
    assert not settled.problems, summarize(settled.problems) + "\n" + tails(stack)
    assert statuses == {"COMPLETED": uploads}, statuses
