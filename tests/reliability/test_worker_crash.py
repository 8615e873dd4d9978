"""Worker crash: SIGKILL the worker at three random moments mid-run and restart it.

Every image still ends COMPLETED or FAILED exactly once, no variant set is written twice
under different keys, and every client registered for an image (two per image, like two
browser tabs) gets its terminal event.
A killed worker's message reappears after the (short) visibility timeout and its record's
lease, of the same length, lets the restarted worker take the image over.

Modest: 40 uploads. ``--full``: 200.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

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
)
from tests.reliability.invariants import settle, summarize

KILLS = 3


@pytest.mark.timeout(900)
async def test_worker_sigkilled_three_times_loses_nothing(stack: Stack, full_size: bool) -> None:
    uploads, concurrency = (200, 20) if full_size else (40, 10)
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    # Kill when a random share of the images has finished: always mid-run, never after.
    thresholds = sorted(rng.sample(range(uploads // 10, uploads * 7 // 10), KILLS))
    worker = stack.processes["worker"]
    kills: list[dict[str, Any]] = []

    async with (
        Inspector(stack) as inspector,
        WsPool(stack.ws_url, pool_size(uploads, 2), ALLOWED_ORIGIN, watchers=2) as pool,
        RssSampler(stack, SERVICES) as rss,
    ):
        uploading = asyncio.create_task(
            run_uploads(stack.url("upload"), pool, jpeg_items(uploads), concurrency)
        )
        for threshold in thresholds:
            reached = await pool.wait_terminal_count(threshold, within=180)
            assert reached, f"stuck before {threshold} terminal events\n{tails(stack)}"
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            kills.append({"after_terminal_events": len(pool.terminal), "pid": worker.pid})
            worker.kill()
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            worker.restart()
            await asyncio.to_thread(worker.wait_healthy, 60)
        run = await uploading
        assert not run.failures(), [o.error for o in run.failures()][:10]
        settled = await settle(
            inspector,
            pool,
            run.image_ids,
            events_within=400 if full_size else 150,
            records_within=15,
        )
        attempts = await inspector.attempts(run.image_ids)

    statuses = settled.statuses
    reclaimed = sum(1 for n in attempts.values() if n > 1)
    write_figures(
        run_figures(
            "worker-crash",
            run,
            pool,
            dict(statuses),
            full=full_size,
            concurrency=concurrency,
            rss=rss,
            extra={"seed": seed, "kills": kills, "images_claimed_more_than_once": reclaimed},
        )
    )

    assert len(kills) == KILLS
    assert run.server_errors == 0, run.statuses
    assert not settled.missing, (
        f"{len(settled.missing)} clients never got a terminal event\n{tails(stack)}"
    )
    assert not settled.problems, summarize(settled.problems) + "\n" + tails(stack)
    assert statuses == {"COMPLETED": uploads}, statuses
