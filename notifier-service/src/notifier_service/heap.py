"""Short garbage-collector pauses with thousands of open sockets.

Each open WebSocket is about 85 objects the cycle collector tracks (the connection, its
transport, tasks, futures, handshake headers). A full collection walks all of them and
holds the event loop meanwhile: with 10,000 idle connections and 50 connections opened
and closed per second, one ran every 20 s or so and stopped every delivery for 550 to
700 ms.

Two parts:

- :class:`AcyclicServerConnection` lets a closed connection go by reference counting
  alone. asyncio's socket transport keeps a bound method of itself, a cycle that only
  the collector could free, and it holds the socket. websockets breaks its own cycles
  the same way (``keepalive_task``).
- :class:`ConnectionFreezer`, run by the service's entry point, moves what lives on into
  the collector's permanent generation when new connections have arrived, so that full
  collections walk only what came since.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Literal, Protocol

from websockets.asyncio.server import ServerConnection


class AcyclicServerConnection(ServerConnection):
    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # Called by the transport once it has stopped reading: the callback is never
        # used again. The name is asyncio's (3.11 to 3.13); other transports lack it.
        if getattr(self.transport, "_read_ready_cb", None) is not None:
            self.transport._read_ready_cb = None  # type: ignore[attr-defined]


class AcceptCounter(Protocol):
    @property
    def connections_accepted(self) -> int: ...


class ConnectionFreezer:
    """Freeze the heap every ``interval`` seconds if connections arrived meanwhile.

    For a service process only, like ``freeze_startup_heap``: freezing pins every live
    object of the process, a test run's included. ``gc.freeze`` only splices the
    collector's lists: it costs the same for ten objects as for a million.

    A frozen object is never freed as part of a cycle. Closed connections need no cycle
    collection (above), but a few objects alive at a freeze do: aiobotocore's response
    parsers, about one cycle per freeze. So every ``full_every`` seconds everything is
    unfrozen, collected once in full (one long pause instead of one every 20 s), and
    frozen again.
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
