"""Collector pauses under churn: one replica holds many idle connections while others
open and close; probe clients ping it and time the round trips.

Run once with heap freezing off (``SNAPQUEUE_HEAP_FREEZE_INTERVAL_SECONDS=0``, the
baseline) and once at the service's default, on the same replica process, restarted in
between. A full collection holds the replica's event loop: every probe's ping waits
for it, so the round trips show the pauses as browsers would feel them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import connect

from devstack.stack import Stack

from .holders import SETTLE_SECONDS, Holders, allow_many_sockets, rss_bytes
from .profile import Profile
from .results import ChurnRow
from .stats import summary_ms

FREEZE_SETTING = "SNAPQUEUE_HEAP_FREEZE_INTERVAL_SECONDS"
VARIANTS = (("no freezing", "0"), ("freezing (default)", None))
PROBES = 20
PING_EVERY_SECONDS = 0.1
# A round trip this long is a pause a browser would notice.
SLOW_PING_SECONDS = 0.1
# Churned connections kept open for a while before they close, like short-lived tabs.
CHURN_KEPT = 200


async def _probe(url: str, until: float, rtts: list[float]) -> None:
    async with connect(url, ping_interval=None, compression=None) as socket:
        while time.monotonic() < until:
            started = time.perf_counter()
            await (await socket.ping())
            rtts.append(time.perf_counter() - started)
            await asyncio.sleep(PING_EVERY_SECONDS)


async def _churn(url: str, rate: int, until: float) -> int:
    """Open ``rate`` connections a second; close the oldest beyond ``CHURN_KEPT``."""
    live: list[Any] = []
    opened = 0
    try:
        while time.monotonic() < until:
            tick = time.monotonic()
            batch = await asyncio.gather(
                *(connect(url, ping_interval=None, compression=None) for _ in range(rate))
            )
            opened += len(batch)
            live += batch
            if len(live) > CHURN_KEPT:
                old, live = live[:rate], live[rate:]
                await asyncio.gather(*(socket.close() for socket in old))
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    finally:
        await asyncio.gather(*(socket.close() for socket in live), return_exceptions=True)
    return opened


async def _measure(url: str, rate: int, seconds: float) -> tuple[list[float], int]:
    until = time.monotonic() + seconds
    rtts: list[float] = []
    probes = [asyncio.create_task(_probe(url, until, rtts)) for _ in range(PROBES)]
    opened = await _churn(url, rate, until)
    await asyncio.gather(*probes)
    return rtts, opened


def churn_pauses(stack: Stack, profile: Profile, log: Any) -> list[ChurnRow]:
    notifier = stack.processes["notifier"]
    default_env = dict(notifier.env)
    rows = []
    try:
        for label, interval in VARIANTS:
            notifier.stop()
            notifier.env = dict(default_env)
            if interval is not None:
                notifier.env[FREEZE_SETTING] = interval
            notifier.start()
            notifier.wait_healthy(120)
            allow_many_sockets(notifier.pid)
            holders = Holders.enough_for(stack.ws_url, profile.notifier_churn_idle)
            try:
                holders.hold(profile.notifier_churn_idle)
                # Past the ramp's own collections: the steady state is what is measured.
                time.sleep(SETTLE_SECONDS * 4)
                rss_before = rss_bytes(notifier.pid)
                rtts, opened = asyncio.run(
                    _measure(
                        stack.ws_url, profile.notifier_churn_rate, profile.notifier_churn_seconds
                    )
                )
                rss_after = rss_bytes(notifier.pid)
            finally:
                holders.close()
            row = ChurnRow(
                variant=label,
                freeze_interval=interval,
                idle=profile.notifier_churn_idle,
                churn_rate=profile.notifier_churn_rate,
                seconds=profile.notifier_churn_seconds,
                churned=opened,
                probes=PROBES,
                ping_every_s=PING_EVERY_SECONDS,
                pings=len(rtts),
                rtt_ms=summary_ms(rtts, p999=True),
                slow_ping_ms=1000 * SLOW_PING_SECONDS,
                slow_pings=sum(rtt > SLOW_PING_SECONDS for rtt in rtts),
                rss_before_bytes=rss_before,
                rss_after_bytes=rss_after,
            )
            log(
                f"notifier churn, {label}: ping p99 {row.rtt_ms.p99:.1f} ms, "
                f"max {row.rtt_ms.max:.1f} ms, {row.slow_pings} of {len(rtts)} slow"
            )
            rows.append(row)
    finally:
        notifier.stop()
        notifier.env = default_env
        notifier.start()
        notifier.wait_healthy(120)
    return rows
