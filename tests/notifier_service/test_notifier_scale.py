"""1,000 concurrent connections on one replica (a real ``python -m notifier_service``
process, so its memory can be measured on its own), then a SIGTERM that closes them all."""

from __future__ import annotations

import asyncio
import resource
import signal
import time
from collections.abc import Awaitable, Callable

import psutil
from websockets.asyncio.client import ClientConnection, connect

from snapqueue_core.schemas import NotificationEvent
from tests.notifier_service.helpers import (
    ServiceProcess,
    Stack,
    authenticate,
    recv_json,
    register,
)

StartService = Callable[..., Awaitable[ServiceProcess]]

CONNECTIONS = 1_000
# Registration is two DynamoDB calls on the emulator; a quarter of the connections is
# enough to measure what a registration adds, and keeps the test quick.
REGISTERED = 250
IMAGES = 10
# Generous: measured figures are in notifier-service/README.md.
MAX_BYTES_PER_CONNECTION = 100 * 1024


def ensure_file_descriptors(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


async def test_one_replica_holds_1000_connections(
    stack: Stack, service_process: StartService
) -> None:
    # This process holds the client ends; the service inherits the raised limit too.
    ensure_file_descriptors(CONNECTIONS * 2 + 256)
    service = await service_process(shutdown_timeout_seconds="60")
    server = psutil.Process(service.pid)
    images = [await stack.new_image() for _ in range(IMAGES)]

    # Warm up (lazy imports, first AWS calls) so the baseline is the steady state.
    token = stack.user.access_token
    warmup = await connect(service.ws_url)
    assert (await authenticate(warmup, token))["type"] == "authenticated"
    await register(warmup, images[0])
    await warmup.close()
    baseline = server.memory_info().rss

    gate = asyncio.Semaphore(100)

    async def open_one() -> ClientConnection:
        async with gate:
            return await connect(service.ws_url, open_timeout=30)

    started = time.monotonic()
    clients = await asyncio.gather(*(open_one() for _ in range(CONNECTIONS)))
    opened_in = time.monotonic() - started
    try:
        await asyncio.sleep(0.5)
        connected = server.memory_info().rss

        async def register_one(index: int, client: ClientConnection) -> None:
            async with gate:
                assert (await authenticate(client, token))["type"] == "authenticated"
                await register(client, images[index % IMAGES])

        started = time.monotonic()
        registering = clients[:REGISTERED]
        await asyncio.gather(*(register_one(i, c) for i, c in enumerate(registering)))
        registered_in = time.monotonic() - started
        registered = server.memory_info().rss

        # One event for one image reaches every connection waiting for it.
        image_id, token = images[0], "scale-token"
        await stack.images.claim(image_id, token, lease_seconds=60)
        record = await stack.complete(image_id, token)
        started = time.monotonic()
        assert await stack.publish(NotificationEvent.terminal(record)) == 1
        waiting = registering[::IMAGES]
        events = await asyncio.gather(*(recv_json(client, 30) for client in waiting))
        fanout_in = time.monotonic() - started
        assert {(e["type"], e["imageId"]) for e in events} == {("imageProcessed", image_id)}
        assert len(events) == REGISTERED // IMAGES

        per_connection = (connected - baseline) / CONNECTIONS
        per_registration = (registered - connected) / REGISTERED
        print(
            f"\nnotifier with {CONNECTIONS} connections: RSS {baseline / 2**20:.1f} MiB → "
            f"{connected / 2**20:.1f} MiB with all open → {registered / 2**20:.1f} MiB with "
            f"{REGISTERED} registered; {per_connection / 1024:.1f} KiB per open connection, "
            f"{per_registration / 1024:.1f} KiB more per registration; "
            f"opened in {opened_in:.1f} s, registered in {registered_in:.1f} s, "
            f"one event to {len(waiting)} sockets in {fanout_in * 1000:.0f} ms"
        )
        assert per_connection < MAX_BYTES_PER_CONNECTION
        assert per_registration < MAX_BYTES_PER_CONNECTION

        # Shutdown at scale: every socket gets 1001, every row is deleted, exit 0.
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)
        assert await service.wait(90) == 0, service.log
        await asyncio.wait_for(asyncio.gather(*(c.wait_closed() for c in clients)), 30)
        assert {client.close_code for client in clients} == {1001}
        for image_id in images:
            assert await stack.connections.for_image(image_id) == []
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
