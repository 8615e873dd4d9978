"""Short garbage-collector pauses with thousands of open sockets.

Each open WebSocket is dozens of objects the cycle collector tracks (the connection, its
transport, tasks, futures, handshake headers). A full collection walks all of them and
holds the event loop meanwhile: with many idle connections and steady churn, full
collections came regularly and each one stopped every delivery for long enough to show in
the notifier benchmark's ping round trips (bench/notifier_churn.py has the figures).

:class:`ConnectionFreezer`, run by the service's entry point, moves what lives on into the
collector's permanent generation when new connections have arrived, so that full
collections walk only what came since. It uses only :mod:`gc`'s public API.

A closed connection's websockets side goes by reference counting alone; asyncio's socket
transport is left for the collector, since it keeps a bound method of itself (a cycle)
and no public API breaks it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Literal, Protocol


class AcceptCounter(Protocol):
    @property
    def connections_accepted(self) -> int: ...


class ConnectionFreezer:
    """Freeze the heap every ``interval`` seconds if connections arrived meanwhile.

    For a service process only, like ``freeze_startup_heap``: freezing pins every live
    object of the process, a test run's included. ``gc.freeze`` only splices the
    collector's lists: it costs the same for ten objects as for a million.

    A frozen object is never freed as part of a cycle, and some objects alive at a freeze
    end up in one: the transports of connections that close later (above) and aiobotocore's
    response parsers. So every ``full_every`` seconds everything is unfrozen, collected
    once in full (one long pause instead of regular ones), and frozen again.
    """

    def __init__(
        self,
        accepted: AcceptCounter,
        interval: float,
        full_every: float,
        on_freeze: Callable[[Literal["connections", "full"]], None],
    ) -> None:
        self._accepted = accepted
        self._interval = interval
        self._full_every = full_every
        self._on_freeze = on_freeze

    async def run(self) -> None:
        seen = self._accepted.connections_accepted
        last_full = time.monotonic()
        while True:
            await asyncio.sleep(self._interval)
            if time.monotonic() - last_full >= self._full_every:
                last_full = time.monotonic()
                gc.unfreeze()
                gc.collect()
                gc.freeze()
                self._on_freeze("full")
                continue
            now = self._accepted.connections_accepted
            if now != seen:
                seen = now
                # Cycles that died young would be frozen with the living: collect the
                # young generations first.
                gc.collect(1)
                gc.freeze()
                self._on_freeze("connections")
