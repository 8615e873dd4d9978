"""Helpers for the notifier tests: replicas running in this process, the worker's side of
the stack (ImageStore records, NotificationPublisher), and JSON frame helpers.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection

from notifier_service.app import Notifier
from notifier_service.settings import NotifierSettings
from snapqueue_core.aws import AwsClients
from snapqueue_core.publisher import NotificationPublisher
from snapqueue_core.schemas import (
    ImageError,
    ImageRecord,
    ImageStatus,
    NotificationEvent,
    StoredVariant,
    isoformat,
    upload_key,
    utcnow,
)
from snapqueue_core.store import ConnectionStore, ImageStore

# Short long-polls keep shutdown quick; everything else keeps the production defaults
# unless a test says otherwise.
TEST_OVERRIDES: dict[str, Any] = {"notify_wait_seconds": 1, "shutdown_timeout_seconds": 5}

VARIANTS = {
    name: StoredVariant(
        key=f"processed/{name}.jpg", width=w, height=h, content_type="image/jpeg", bytes=b
    )
    for name, w, h, b in (
        ("thumbnail", 200, 150, 4_000),
        ("resized", 1024, 768, 90_000),
        ("grayscale", 1024, 768, 70_000),
    )
}


@dataclass
class Replica:
    """A notifier running in this process."""

    notifier: Notifier
    settings: NotifierSettings
    task: asyncio.Task[None]
    stop: asyncio.Event

    @property
    def port(self) -> int:
        assert self.notifier.port is not None
        return self.notifier.port

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def queue_url(self) -> str:
        assert self.notifier.queue_url is not None
        return self.notifier.queue_url

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=20)


@dataclass
class Stack:
    """Shared resources (tables, buckets) and the tools the worker would use on them."""

    settings: NotifierSettings
    clients: AwsClients

    @property
    def images(self) -> ImageStore:
        return ImageStore(self.clients.dynamodb, self.settings)

    @property
    def connections(self) -> ConnectionStore:
        return ConnectionStore(self.clients.dynamodb, self.settings)

    @property
    def publisher(self) -> NotificationPublisher:
        return NotificationPublisher(self.clients.sqs, self.connections)

    async def new_image(self) -> str:
        image_id = uuid.uuid4().hex
        now = isoformat(utcnow())
        await self.images.create(
            ImageRecord(
                image_id=image_id,
                status=ImageStatus.PENDING_UPLOAD,
                source_key=upload_key(image_id),
                upload_timestamp=now,
                updated_at=now,
            )
        )
        return image_id

    async def processing_image(self) -> tuple[str, str]:
        """An image a worker has claimed: (imageId, lease token)."""
        image_id = await self.new_image()
        token = uuid.uuid4().hex
        await self.images.claim(image_id, token, lease_seconds=60)
        return image_id, token

    async def complete(self, image_id: str, token: str) -> ImageRecord:
        variants = {
            name: v.model_copy(update={"key": f"processed/{image_id}/{name}.jpg"})
            for name, v in VARIANTS.items()
        }
        return await self.images.complete(image_id, token, variants, {"format": "JPEG"})

    async def fail(self, image_id: str, token: str) -> ImageRecord:
        record = await self.images.fail(
            image_id, ImageError(code="unsupported_format", message="Not an image."), token=token
        )
        assert record is not None
        return record

    async def completed_image(self) -> ImageRecord:
        image_id, token = await self.processing_image()
        return await self.complete(image_id, token)

    async def failed_image(self) -> ImageRecord:
        image_id, token = await self.processing_image()
        return await self.fail(image_id, token)

    async def publish(self, event: NotificationEvent) -> int:
        return await self.publisher.publish(event)


async def recv_json(client: ClientConnection, within: float = 10.0) -> dict[str, Any]:
    frame = await asyncio.wait_for(client.recv(), within)
    assert isinstance(frame, str), f"expected a text frame, got {frame!r}"
    payload = json.loads(frame)
    assert isinstance(payload, dict)
    return payload


async def send_json(client: ClientConnection, payload: dict[str, Any]) -> None:
    await client.send(json.dumps(payload))


async def register(client: ClientConnection, image_id: str) -> dict[str, Any]:
    """Register and return the current-state frame that follows the acknowledgement."""
    await send_json(client, {"action": "registerImage", "imageId": image_id})
    assert await recv_json(client) == {"type": "registered", "imageId": image_id}
    return await recv_json(client)


async def assert_silent(client: ClientConnection, seconds: float = 0.5) -> None:
    """Nothing more arrives on ``client`` for ``seconds``."""
    try:
        frame = await asyncio.wait_for(client.recv(), seconds)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected frame: {frame!r}")


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 10.0, interval: float = 0.05
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
