"""Collector pauses: a closed connection's websockets side needs no cycle collection, and
the service freezes what lives on once connections arrive (in child processes: freezing pins
a whole heap)."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import weakref
from collections.abc import Awaitable, Callable

import httpx
from websockets.asyncio.client import ClientConnection

from tests.notifier_service.helpers import Replica, ServiceProcess, Stack, eventually, register

OpenClient = Callable[..., Awaitable[ClientConnection]]
StartService = Callable[..., Awaitable[ServiceProcess]]


async def test_a_closed_connection_is_freed_without_the_cycle_collector(
    replica: Replica, open_client: OpenClient
) -> None:
    """The websockets connection (its buffers, tasks and handshake) goes by reference
    counting; only asyncio's transport object waits for a collection."""
    registry = replica.notifier.registry
    clients = [await open_client(replica.ws_url) for _ in range(4)]

    async def all_connected() -> bool:
        return registry.connection_count == len(clients)

    await eventually(all_connected)
    alive = [weakref.ref(client.socket) for client in registry.clients]
    gc.collect()
    gc.disable()
    try:
        await asyncio.gather(*(client.close() for client in clients))

        async def all_freed() -> bool:
            return all(ref() is None for ref in alive)

        await eventually(all_freed, within=5)
    finally:
        gc.enable()


FREEZER = textwrap.dedent(
    """
    import asyncio, gc, weakref
    from notifier_service.heap import ConnectionFreezer

    class Accepted:
        connections_accepted = 0

    class Node:
        pass

    def cycle():
        node = Node()
        node.me = node
        return node

    async def until(check, within=10.0):
        for _ in range(int(within / 0.02)):
            if check():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("condition not met in time")

    async def main():
        accepted, kinds = Accepted(), []
        freezer = ConnectionFreezer(accepted, 0.05, 3.0, on_freeze=kinds.append)
        task = asyncio.create_task(freezer.run())
        await asyncio.sleep(0.3)
        assert kinds == [], kinds  # no connection arrived: nothing frozen

        kept = Node()
        dead = weakref.ref(cycle())  # garbage the young collection frees first
        accepted.connections_accepted += 1
        await until(lambda: kinds == ["connections"])
        assert dead() is None, "young cyclic garbage was frozen instead of collected"
        assert not any(obj is kept for obj in gc.get_objects()), "the living were not frozen"

        late = cycle()
        late_ref = weakref.ref(late)
        accepted.connections_accepted += 1
        await until(lambda: kinds.count("connections") == 2)
        del late
        gc.collect()
        assert late_ref() is not None, "a frozen cycle was collected"
        # The periodic full collection frees what died in a cycle after its freeze.
        await until(lambda: "full" in kinds)
        assert late_ref() is None, "the full collection missed a frozen cycle"
        assert gc.get_freeze_count() > 0, "everything was not frozen again"
        task.cancel()
        print(kinds.count("connections"), kinds.count("full"))

    asyncio.run(main())
    """
)


def test_the_freezer_freezes_after_new_connections_and_collects_in_full_periodically() -> None:
    result = subprocess.run(
        [sys.executable, "-c", FREEZER], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    freezes, full = map(int, result.stdout.split())
    assert freezes == 2
    assert full >= 1


async def test_the_service_freezes_once_connections_arrive(
    stack: Stack, service_process: StartService, open_client: OpenClient
) -> None:
    service = await service_process(heap_freeze_interval_seconds="0.2")
    metrics_url = f"http://127.0.0.1:{service.port}/metrics"
    freezes = 'notifier_heap_freezes_total{kind="connections"}'
    async with httpx.AsyncClient() as http:

        async def frozen_count() -> float:
            for line in (await http.get(metrics_url)).text.splitlines():
                if line.startswith(freezes):
                    return float(line.split()[-1])
            return 0.0

        await asyncio.sleep(0.6)
        assert await frozen_count() == 0  # nothing arrived: nothing frozen
        client = await open_client(service.ws_url)
        await register(client, await stack.new_image())

        async def froze() -> bool:
            return await frozen_count() >= 1

        await eventually(froze)
