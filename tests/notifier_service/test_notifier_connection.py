"""One connection's life: registration, current state, events through the real queue,
unregistration, malformed input, limits, and the cleanup of its routing rows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from snapqueue_core.schemas import ImageStatus, NotificationEvent
from tests.notifier_service.helpers import (
    Replica,
    Stack,
    assert_silent,
    eventually,
    recv_json,
    register,
    send_json,
)

OpenClient = Callable[..., Awaitable[ClientConnection]]


def assert_variants(variants: dict[str, Any], image_id: str) -> None:
    """The GET /image shape: url, width, height, contentType, bytes per variant."""
    assert set(variants) == {"thumbnail", "resized", "grayscale"}
    assert variants["thumbnail"]["width"] == 200
    assert variants["thumbnail"]["height"] == 150
    assert variants["resized"]["bytes"] == 90_000
    for name, variant in variants.items():
        assert set(variant) == {"url", "width", "height", "contentType", "bytes"}
        assert variant["contentType"] == "image/jpeg"
        assert urlsplit(variant["url"]).path.endswith(f"processed/{image_id}/{name}.jpg")


async def test_events_published_through_the_queue_arrive(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    image_id = await stack.new_image()
    assert await register(client, image_id) == {
        "type": "status",
        "imageId": image_id,
        "status": "PENDING_UPLOAD",
    }
    rows = await stack.connections.for_image(image_id)
    assert [(r.replica, r.queue_url) for r in rows] == [
        (replica.settings.replica_id, replica.queue_url)
    ]

    # The worker's side: claim, tell, complete, tell.
    token = "lease-token"
    await stack.images.claim(image_id, token, lease_seconds=60)
    assert await stack.publish(NotificationEvent.progress(image_id, ImageStatus.PROCESSING)) == 1
    assert await recv_json(client) == {
        "type": "status",
        "imageId": image_id,
        "status": "PROCESSING",
    }
    record = await stack.complete(image_id, token)
    assert await stack.publish(NotificationEvent.terminal(record)) == 1
    event = await recv_json(client)
    assert event["type"] == "imageProcessed"
    assert event["imageId"] == image_id
    assert event["status"] == "COMPLETED"
    assert set(event) == {"type", "imageId", "status", "variants"}
    assert_variants(event["variants"], image_id)
    await assert_silent(client)


async def test_failed_event_carries_the_reason(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    image_id, token = await stack.processing_image()
    assert (await register(client, image_id))["status"] == "PROCESSING"
    record = await stack.fail(image_id, token)
    await stack.publish(NotificationEvent.terminal(record))
    assert await recv_json(client) == {
        "type": "imageFailed",
        "imageId": image_id,
        "status": "FAILED",
        "error": {"code": "unsupported_format", "message": "Not an image."},
    }


async def test_late_registration_after_completed_gets_the_result_at_once(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    record = await stack.completed_image()
    client = await open_client(replica.ws_url)
    event = await register(client, record.image_id)
    assert event["type"] == "imageProcessed"
    assert event["status"] == "COMPLETED"
    assert_variants(event["variants"], record.image_id)


async def test_late_registration_after_failed_gets_the_result_at_once(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    record = await stack.failed_image()
    client = await open_client(replica.ws_url)
    assert await register(client, record.image_id) == {
        "type": "imageFailed",
        "imageId": record.image_id,
        "status": "FAILED",
        "error": {"code": "unsupported_format", "message": "Not an image."},
    }


async def test_reconnect_and_register_again_gets_the_current_state(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    image_id, token = await stack.processing_image()
    first = await open_client(replica.ws_url)
    assert (await register(first, image_id))["status"] == "PROCESSING"
    await first.close()
    # Completed while the client was away: nobody was registered to be told.
    record = await stack.complete(image_id, token)
    await stack.publish(NotificationEvent.terminal(record))
    second = await open_client(replica.ws_url)
    assert (await register(second, image_id))["type"] == "imageProcessed"


async def test_unregister_stops_delivery(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    image_id, token = await stack.processing_image()
    await register(client, image_id)
    await send_json(client, {"action": "unregisterImage", "imageId": image_id})
    assert await recv_json(client) == {"type": "unregistered", "imageId": image_id}
    assert await stack.connections.for_image(image_id) == []
    # Idempotent: unregistering again is acknowledged the same way.
    await send_json(client, {"action": "unregisterImage", "imageId": image_id})
    assert await recv_json(client) == {"type": "unregistered", "imageId": image_id}
    record = await stack.complete(image_id, token)
    # No row is left, so the publisher sends nowhere; and the replica has no local
    # registration either, which the direct send below proves.
    assert await stack.publish(NotificationEvent.terminal(record)) == 0
    await stack.clients.sqs.send_message(
        QueueUrl=replica.queue_url, MessageBody=NotificationEvent.terminal(record).to_json()
    )
    await assert_silent(client, 1.5)


async def test_disconnect_removes_the_rows(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    images = [await stack.new_image() for _ in range(3)]
    for image_id in images:
        await register(client, image_id)
    for image_id in images:
        assert len(await stack.connections.for_image(image_id)) == 1
    assert replica.notifier.registry.registration_count == 3
    await client.close()

    async def rows_gone() -> bool:
        return all([await stack.connections.for_image(i) == [] for i in images])

    await eventually(rows_gone)
    assert replica.notifier.registry.connection_count == 0
    assert replica.notifier.registry.registration_count == 0


async def test_registering_twice_refreshes_and_resends_the_state(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    image_id, _ = await stack.processing_image()
    assert (await register(client, image_id))["status"] == "PROCESSING"
    assert (await register(client, image_id))["status"] == "PROCESSING"
    assert replica.notifier.registry.registration_count == 1
    assert len(await stack.connections.for_image(image_id)) == 1


UPPERCASE_ID = "0123456789ABCDEF" * 2
MALFORMED: list[tuple[str | bytes, str]] = [
    ("not json {", "invalid_json"),
    ("[1, 2]", "invalid_frame"),
    (b"\x00\x01binary", "invalid_frame"),
    ('{"imageId": "0123456789abcdef0123456789abcdef"}', "unknown_action"),
    ('{"action": "subscribe", "imageId": "0123456789abcdef0123456789abcdef"}', "unknown_action"),
    ('{"action": "registerImage"}', "invalid_image_id"),
    (json.dumps({"action": "registerImage", "imageId": UPPERCASE_ID}), "invalid_image_id"),
    ('{"action": "registerImage", "imageId": "../../etc/passwd"}', "invalid_image_id"),
    ('{"action": "unregisterImage", "imageId": 42}', "invalid_image_id"),
]


async def test_malformed_input_gets_an_error_frame_and_the_socket_stays(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    image_id, _ = await stack.processing_image()
    for frame, code in MALFORMED:
        await client.send(frame)
        error = await recv_json(client)
        assert error["type"] == "error", frame
        assert error["code"] == code, frame
        assert isinstance(error["message"], str)
        assert error["message"]
        # Still usable afterwards.
        assert (await register(client, image_id))["status"] == "PROCESSING"
    metrics = replica.notifier.metrics.registry
    sample = metrics.get_sample_value("notifier_error_frames_total", {"code": "invalid_image_id"})
    assert sample == 4


async def test_unknown_image_is_an_error_and_leaves_no_registration(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    missing = "0" * 32
    await send_json(client, {"action": "registerImage", "imageId": missing})
    assert await recv_json(client) == {"type": "registered", "imageId": missing}
    error = await recv_json(client)
    assert error["type"] == "error"
    assert error["code"] == "unknown_image"
    assert error["imageId"] == missing
    assert await stack.connections.for_image(missing) == []
    assert replica.notifier.registry.registration_count == 0
    image_id, _ = await stack.processing_image()
    assert (await register(client, image_id))["status"] == "PROCESSING"


async def test_too_many_registrations(
    stack: Stack, start_replica: Callable[..., Awaitable[Replica]], open_client: OpenClient
) -> None:
    replica = await start_replica(max_registrations_per_connection=2)
    client = await open_client(replica.ws_url)
    first, second, third = [await stack.new_image() for _ in range(3)]
    await register(client, first)
    await register(client, second)
    await send_json(client, {"action": "registerImage", "imageId": third})
    error = await recv_json(client)
    assert (error["type"], error["code"], error["imageId"]) == (
        "error",
        "too_many_registrations",
        third,
    )
    assert await stack.connections.for_image(third) == []
    # Re-registering a held image is not a new registration; freeing one makes room.
    await register(client, first)
    await send_json(client, {"action": "unregisterImage", "imageId": second})
    assert (await recv_json(client))["type"] == "unregistered"
    assert (await register(client, third))["status"] == "PENDING_UPLOAD"


async def test_invalid_utf8_text_is_closed_by_the_library_with_1007(
    replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    await client.send(b"\xff\xfe not utf-8", text=True)
    with pytest.raises(ConnectionClosed):
        await recv_json(client)
    assert client.close_code == 1007
    # The server is fine; others connect and are served.
    other = await open_client(replica.ws_url)
    await other.send("{")
    assert (await recv_json(other))["code"] == "invalid_json"


async def test_frame_above_max_size_closes_with_1009_and_the_server_stays_up(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    bystander = await open_client(replica.ws_url)
    image_id, token = await stack.processing_image()
    await register(bystander, image_id)
    client = await open_client(replica.ws_url)
    await client.send("x" * (replica.settings.max_message_bytes + 1))
    with pytest.raises(ConnectionClosed):
        await recv_json(client)
    assert client.close_code == 1009
    record = await stack.complete(image_id, token)
    await stack.publish(NotificationEvent.terminal(record))
    assert (await recv_json(bystander))["type"] == "imageProcessed"


async def test_idle_connection_is_closed(
    stack: Stack, start_replica: Callable[..., Awaitable[Replica]], open_client: OpenClient
) -> None:
    replica = await start_replica(idle_timeout_seconds=0.5)
    idle = await open_client(replica.ws_url)
    waiting = await open_client(replica.ws_url)
    await register(waiting, await stack.new_image())
    await idle.wait_closed()
    assert idle.close_code == 1000
    assert idle.close_reason == "idle timeout"
    # A connection with registrations is not idle, however quiet.
    await assert_silent(waiting, 1.0)
    assert waiting.close_code is None


async def test_keepalive_drops_a_peer_that_never_answers_pings(
    stack: Stack, start_replica: Callable[..., Awaitable[Replica]], open_client: OpenClient
) -> None:
    replica = await start_replica(ping_interval=0.3, ping_timeout=0.3, close_timeout_seconds=0.5)
    answering = await open_client(replica.ws_url)
    await register(answering, await stack.new_image())
    silent = await open_client(replica.ws_url)
    image_id = await stack.new_image()
    await register(silent, image_id)
    # A vanished peer: it reads nothing, so it never answers a ping.
    silent.transport.pause_reading()

    async def dropped() -> bool:
        return await stack.connections.for_image(image_id) == []

    await eventually(dropped)
    assert replica.notifier.registry.connection_count == 1
    await assert_silent(answering, 1.0)  # pings answered: still open
    assert answering.close_code is None
    silent.transport.abort()


async def test_registration_racing_the_worker_never_loses_the_result(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    """Register while the worker completes and publishes, in every order the scheduler
    happens to produce: each image's terminal event arrives once or twice, never zero."""
    client = await open_client(replica.ws_url)
    claimed = [await stack.processing_image() for _ in range(12)]

    async def worker(image_id: str, token: str, delay: float) -> None:
        await asyncio.sleep(delay)
        record = await stack.complete(image_id, token)
        await stack.publish(NotificationEvent.terminal(record))

    async def registrations() -> None:
        for image_id, _ in claimed:
            await send_json(client, {"action": "registerImage", "imageId": image_id})
            await asyncio.sleep(0.01)

    workers = [
        worker(image_id, token, delay=0.012 * index)
        for index, (image_id, token) in enumerate(claimed)
    ]
    await asyncio.gather(registrations(), *workers)
    terminal: dict[str, int] = {}
    while len(terminal) < len(claimed):
        frame = await recv_json(client)
        if frame["type"] == "imageProcessed":
            terminal[frame["imageId"]] = terminal.get(frame["imageId"], 0) + 1
    # Late duplicates (the "twice" case) may still be on their way; collect them.
    try:
        while True:
            frame = await recv_json(client, within=1.0)
            if frame["type"] == "imageProcessed":
                terminal[frame["imageId"]] += 1
    except TimeoutError:
        pass
    assert set(terminal) == {image_id for image_id, _ in claimed}
    assert set(terminal.values()) <= {1, 2}
    print(f"\nduplicates seen: {sum(1 for n in terminal.values() if n == 2)} of {len(terminal)}")
