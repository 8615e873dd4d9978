"""Notifier crash: kill it (SIGKILL) and later stop it (SIGTERM) under load, restart it each time.

Each image has two clients (two browser tabs). They reconnect with backoff and register
their pending images again; the notifier then sends the current state of anything that
finished meanwhile. No client misses its terminal event; some see one twice (they dedup by
imageId).

Modest: 40 uploads. ``--full``: 200.
"""

from __future__ import annotations

import asyncio
import signal
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


@pytest.mark.timeout(900)
async def test_notifier_killed_and_restarted_under_load(stack: Stack, full_size: bool) -> None:
    # Paced, so that the load is still running when the second fault comes.
    uploads, concurrency, rate = (200, 10, 10.0) if full_size else (40, 4, 3.0)
    notifier = stack.processes["notifier"]
    faults: list[dict[str, Any]] = []

    async with (
        Inspector(stack) as inspector,
        WsPool(stack.ws_url, pool_size(uploads, 2), ALLOWED_ORIGIN, watchers=2) as pool,
        RssSampler(stack, SERVICES) as rss,
    ):
        uploading = asyncio.create_task(
            run_uploads(stack.url("upload"), pool, jpeg_items(uploads), concurrency, rate=rate)
        )
        for kind in ("SIGKILL", "SIGTERM"):
            if kind == "SIGKILL":
                reached = await pool.wait_terminal_count(uploads // 4, within=180)
                assert reached, f"stuck before the {kind}\n{tails(stack)}"
            else:
                # Right after the clients are back, while the load is still running.
                await asyncio.sleep(0.5)
            queues_before = len(await inspector.replica_queues())
            faults.append({"fault": kind, "after_terminal_events": len(pool.terminal)})
            if kind == "SIGKILL":
                notifier.kill()
            else:
                notifier.signal(signal.SIGTERM)
                exit_code = await asyncio.to_thread(notifier.stop, 15)
                faults[-1]["exit_code"] = exit_code
            # Events published while it is down go nowhere: the clients get them from
            # the record when they register again.
            await asyncio.sleep(1.0)
            notifier.restart()
            await asyncio.to_thread(notifier.wait_healthy, 60)
            await pool.wait_connected(within=30)
            # A graceful stop deletes its replica queue; a killed replica leaves it behind
            # (its messages expire with the queue's retention).
            faults[-1]["replica_queues_added"] = (
                len(await inspector.replica_queues()) - queues_before
            )
        run = await uploading
        assert not run.failures(), [o.error for o in run.failures()][:10]
        settled = await settle(
            inspector,
            pool,
            run.image_ids,
            events_within=300 if full_size else 120,
            records_within=15,
        )

    statuses = settled.statuses
    figures = run_figures(
        "notifier-crash",
        run,
        pool,
        dict(statuses),
        full=full_size,
        concurrency=concurrency,
        rss=rss,
        extra={"faults": faults},
    )
    write_figures(figures)

    assert run.server_errors == 0, run.statuses
    assert not settled.missing, (
        f"{len(settled.missing)} clients missed their terminal event\n{tails(stack)}"
    )
    assert not settled.problems, summarize(settled.problems) + "\n" + tails(stack)
    assert statuses == {"COMPLETED": uploads}, statuses
    # Every client lost its connection twice and came back.
    assert pool.reconnects >= 2 * len(pool.clients), pool.reconnects
    # A graceful stop exits 0 and closes sockets with 1001 (going away).
    # The SIGKILL hit a running load (the SIGTERM usually does too; it is recorded).
    assert faults[0]["after_terminal_events"] < uploads, faults
    assert faults[1]["exit_code"] == 0, faults
    assert faults[1]["replica_queues_added"] == 0, faults
    assert any(code == 1001 for client in pool.clients for _, code in client.closes)
