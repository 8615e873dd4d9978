"""Fan-out: events reach exactly the clients waiting for them, across replicas, and a client
that stops reading cannot hold up anyone else."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from websockets.asyncio.client import ClientConnection

from notifier_service.delivery import EventRenderer, latency_seconds
from notifier_service.settings import NotifierSettings
from snapqueue_core.schemas import ImageError, ImageStatus, NotificationEvent, StoredVariant
from snapqueue_core.urls import VariantUrls
from tests.notifier_service.helpers import (
    Replica,
    Stack,
    assert_silent,
    eventually,
    recv_json,
    register,
)
from tests.sqs_helpers import messages_on_queue

OpenClient = Callable[..., Awaitable[ClientConnection]]
StartReplica = Callable[..., Awaitable[Replica]]


def consumed(replica: Replica) -> float:
    """How many events this replica took off its own queue."""
    registry = replica.notifier.metrics.registry
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "notifier_queue_events"
        for sample in metric.samples
        if sample.name == "notifier_queue_events_total"
    )


async def test_two_replicas_each_client_gets_exactly_its_own_events(
    stack: Stack, start_replica: StartReplica, open_client: OpenClient
) -> None:
    a, b = await start_replica(), await start_replica()
    assert a.queue_url != b.queue_url
    a1, a2 = await open_client(a.ws_url), await open_client(a.ws_url)
    b1 = await open_client(b.ws_url)
    only_a, shared, only_b = [await stack.new_image() for _ in range(3)]
    await register(a1, only_a)
    await register(a2, shared)
    await register(b1, shared)
    await register(b1, only_b)

    # One queue per replica that holds a client, whatever the number of replicas.
    assert await stack.publish(NotificationEvent.progress(only_a, ImageStatus.PROCESSING)) == 1
    assert await stack.publish(NotificationEvent.progress(shared, ImageStatus.PROCESSING)) == 2
    assert await stack.publish(NotificationEvent.progress(only_b, ImageStatus.PROCESSING)) == 1

    assert (await recv_json(a1))["imageId"] == only_a
    assert (await recv_json(a2))["imageId"] == shared
    got_b1 = {(await recv_json(b1))["imageId"] for _ in range(2)}
    assert got_b1 == {shared, only_b}
    await asyncio.gather(*(assert_silent(client) for client in (a1, a2, b1)))
    # Each replica's queue carried only the events of its own clients' images.
    assert consumed(a) == 2
    assert consumed(b) == 2


async def test_delivered_events_leave_the_queue_in_shared_deletes(
    stack: Stack, start_replica: StartReplica, open_client: OpenClient
) -> None:
    replica = await start_replica()
    client = await open_client(replica.ws_url)
    images = [await stack.new_image() for _ in range(6)]
    for image_id in images:
        await register(client, image_id)
    for image_id in images:
        await stack.publish(NotificationEvent.progress(image_id, ImageStatus.PROCESSING))
    assert {(await recv_json(client))["imageId"] for _ in images} == set(images)

    async def queue_empty() -> bool:
        return await messages_on_queue(stack.clients.sqs, replica.queue_url) == 0

    await eventually(queue_empty, within=5)
    assert replica.notifier.consumer is not None
    # Six events arrived within one linger: fewer delete requests than events.
    assert replica.notifier.consumer.deletes.requests < len(images)


async def test_a_client_that_stops_reading_does_not_delay_others(
    stack: Stack, start_replica: StartReplica, open_client: OpenClient
) -> None:
    send_timeout = 3.0
    replica = await start_replica(send_timeout_seconds=send_timeout)
    slow = await open_client(replica.ws_url)
    normal = await open_client(replica.ws_url)
    slow_image, normal_image = await stack.new_image(), await stack.new_image()
    await register(slow, slow_image)
    await register(normal, normal_image)
    (server_side,) = replica.notifier.registry.clients_for(slow_image)
    # From here on the slow client reads nothing: the kernel buffers fill, then the
    # server's write buffer does, and a send to it can only wait.
    slow.transport.pause_reading()
    big = NotificationEvent(
        type="imageFailed",
        image_id=slow_image,
        status=ImageStatus.FAILED,
        error=ImageError(code="big", message="x" * 200_000),
    )
    published = 0
    while server_side.socket.transport.get_write_buffer_size() <= 64 * 1024:
        assert published < 200, "could not fill the slow client's buffers"
        await stack.publish(big)
        published += 1
        await asyncio.sleep(0.05)
    print(f"slow client's buffers full after {published} events of 200 KB")

    started = time.monotonic()
    await stack.publish(NotificationEvent.progress(normal_image, ImageStatus.PROCESSING))
    assert (await recv_json(normal))["imageId"] == normal_image
    assert time.monotonic() - started < send_timeout

    # The slow client is dropped once a send to it times out, and its rows go with it.
    async def slow_dropped() -> bool:
        return await stack.connections.for_image(slow_image) == []

    await eventually(slow_dropped, within=send_timeout + 10)
    metrics = replica.notifier.metrics.registry
    assert metrics.get_sample_value("notifier_slow_clients_disconnected_total") == 1
    assert replica.notifier.registry.connection_count == 1
    # The test's end of the slow socket has megabytes it will never read: drop it too.
    slow.transport.abort()


def test_latency_is_measured_from_emitted_at() -> None:
    now = datetime(2026, 1, 1, 12, 0, 1, 500_000, tzinfo=UTC)
    assert latency_seconds("2026-01-01T12:00:00.000000Z", now) == 1.5
    assert latency_seconds("2026-01-01T12:00:02.000000Z", now) == 0.0  # clock skew
    assert latency_seconds("yesterday", now) is None
    assert latency_seconds("2026-01-01T12:00:00", now) is None  # no zone: meaningless


async def test_rendered_events_use_the_cdn_when_configured() -> None:
    settings = NotifierSettings.from_env(cdn_base_url="https://cdn.example/")
    renderer = EventRenderer(VariantUrls(s3_presign=None, settings=settings))
    variant = StoredVariant(
        key="processed/abc/thumbnail.jpg", width=2, height=1, content_type="image/jpeg", bytes=3
    )
    event = NotificationEvent(
        type="imageProcessed",
        image_id="a" * 32,
        status=ImageStatus.COMPLETED,
        variants={"thumbnail": variant},
    )
    assert json.loads(await renderer.render(event)) == {
        "type": "imageProcessed",
        "imageId": "a" * 32,
        "status": "COMPLETED",
        "variants": {
            "thumbnail": {
                "url": "https://cdn.example/processed/abc/thumbnail.jpg",
                "width": 2,
                "height": 1,
                "contentType": "image/jpeg",
                "bytes": 3,
            }
        },
    }


async def test_an_event_without_status_is_dropped_as_malformed(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    image_id = await stack.new_image()
    await register(client, image_id)
    body = json.dumps({"type": "status", "imageId": image_id})
    await stack.clients.sqs.send_message(QueueUrl=replica.queue_url, MessageBody=body)

    async def counted() -> bool:
        registry = replica.notifier.metrics.registry
        value = registry.get_sample_value("notifier_queue_events_total", {"type": "malformed"})
        return value == 1

    await eventually(counted)
    await assert_silent(client)
    # The consumer lives on: the next event is delivered.
    await stack.publish(NotificationEvent.progress(image_id, ImageStatus.PROCESSING))
    assert (await recv_json(client))["status"] == "PROCESSING"
