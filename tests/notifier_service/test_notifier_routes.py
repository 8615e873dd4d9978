"""Plain HTTP on the WebSocket port, and who may open a WebSocket at all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from snapqueue_core.schemas import ImageStatus, NotificationEvent
from tests.notifier_service.helpers import Replica, Stack, eventually, recv_json, register

OpenClient = Callable[..., Awaitable[ClientConnection]]
StartReplica = Callable[..., Awaitable[Replica]]


async def test_healthz(replica: Replica) -> None:
    async with httpx.AsyncClient(base_url=replica.http_url) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}


async def test_readyz_follows_the_replica_queue(stack: Stack, replica: Replica) -> None:
    async with httpx.AsyncClient(base_url=replica.http_url) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready"}
        # Someone deleted this replica's queue: it can no longer receive events.
        await stack.clients.sqs.delete_queue(QueueUrl=replica.queue_url)
        gone = await http.get("/readyz")
    assert gone.status_code == 503
    assert gone.json() == {"status": "not-ready", "reason": "the replica queue is gone"}


async def test_readyz_is_503_while_draining(start_replica: StartReplica) -> None:
    replica = await start_replica(shutdown_drain_seconds=1.0)
    async with httpx.AsyncClient(base_url=replica.http_url) as http:
        assert (await http.get("/readyz")).status_code == 200
        replica.stop.set()
        await asyncio.sleep(0.2)
        draining = await http.get("/readyz")
        assert draining.status_code == 503
        assert draining.json()["reason"] == "shutting down"
        with pytest.raises(InvalidStatus) as refused:
            await connect(replica.ws_url)
        assert refused.value.response.status_code == 503
    await replica.shutdown()


async def test_metrics(stack: Stack, replica: Replica, open_client: OpenClient) -> None:
    client = await open_client(replica.ws_url)
    image_id = await stack.new_image()
    await register(client, image_id)
    await stack.publish(NotificationEvent.progress(image_id, ImageStatus.PROCESSING))
    await recv_json(client)
    await client.send("nope")
    await recv_json(client)
    async with httpx.AsyncClient(base_url=replica.http_url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = set(response.text.splitlines())
    assert "notifier_open_connections 1.0" in lines
    assert "notifier_registrations 1.0" in lines
    assert "notifier_registrations_made_total 1.0" in lines
    # One status frame at registration (PENDING_UPLOAD), one from the queue (PROCESSING).
    assert 'notifier_events_delivered_total{type="status"} 2.0' in lines
    assert 'notifier_queue_events_total{type="status"} 1.0' in lines
    assert "notifier_delivery_latency_seconds_count 1.0" in lines
    assert 'notifier_error_frames_total{code="invalid_json"} 1.0' in lines
    # The registration: the record read to authorize it, its row written, then the record
    # read for the current state; the queue made at start.
    assert 'notifier_aws_requests_total{operation="PutItem",service="dynamodb"} 1.0' in lines
    assert 'notifier_aws_requests_total{operation="GetItem",service="dynamodb"} 2.0' in lines
    assert 'notifier_aws_requests_total{operation="CreateQueue",service="sqs"} 1.0' in lines
    assert "notifier_authenticated_connections 1.0" in lines
    assert 'notifier_authentications_total{via="frame"} 1.0' in lines


async def test_other_paths_are_404(replica: Replica) -> None:
    async with httpx.AsyncClient(base_url=replica.http_url) as http:
        response = await http.get("/")
    assert response.status_code == 404
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://127.0.0.1:{replica.port}/other")
    assert refused.value.response.status_code == 404


async def test_connections_beyond_the_cap_are_refused_with_503(
    start_replica: StartReplica, open_client: OpenClient
) -> None:
    replica = await start_replica(max_connections=2)
    first = await open_client(replica.ws_url)
    await open_client(replica.ws_url)
    with pytest.raises(InvalidStatus) as refused:
        await open_client(replica.ws_url)
    assert refused.value.response.status_code == 503
    assert refused.value.response.headers["Retry-After"] == "2"
    await first.close()

    async def room() -> bool:
        return replica.notifier.registry.connection_count < 2

    await eventually(room)
    await open_client(replica.ws_url)


async def test_origin_allowlist(start_replica: StartReplica, open_client: OpenClient) -> None:
    replica = await start_replica(allowed_origins="https://app.example,https://www.app.example")
    await open_client(replica.ws_url, origin="https://app.example")
    # Non-browser clients send no Origin; allowed by default.
    await open_client(replica.ws_url)
    with pytest.raises(InvalidStatus) as refused:
        await open_client(replica.ws_url, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    metrics = replica.notifier.metrics.registry
    assert metrics.get_sample_value("notifier_rejected_handshakes_total", {"reason": "origin"}) == 1


async def test_default_origins_are_the_spa_origins_and_missing_origin_can_be_refused(
    start_replica: StartReplica, open_client: OpenClient
) -> None:
    replica = await start_replica(allow_missing_origin=False)
    for origin in replica.settings.cors_origins:
        await open_client(replica.ws_url, origin=origin)
    with pytest.raises(InvalidStatus) as refused:
        await open_client(replica.ws_url)
    assert refused.value.response.status_code == 403
