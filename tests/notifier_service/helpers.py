"""Helpers for the notifier tests: replicas running in this process, the worker's side of
the stack (ImageStore records, NotificationPublisher), and JSON frame helpers.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aiobotocore.session import AioSession
from websockets.asyncio.client import ClientConnection

from notifier_service.app import Notifier
from notifier_service.settings import NotifierSettings
from snapqueue_core.aws import AwsClients
from snapqueue_core.publisher import NotificationPublisher
from snapqueue_core.schemas import (
    ImageError,
    ImageRecord,
    NotificationEvent,
    StoredVariant,
)
from snapqueue_core.store import ConnectionStore, ImageStore

if TYPE_CHECKING:
    from tests.conftest import SignedInUser

# ``owner`` of Stack.new_image meaning "the stack's user" (None means no owner at all).
STACK_USER = "<the stack's user>"

# How a test client authenticates: the first frame, the handshake's header, or not at all.
AuthMode = Literal["frame", "header"] | None

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
    """Shared resources (tables, buckets) and the tools the worker would use on them.

    ``user`` owns the images the helpers make (unless told otherwise), and is who the
    ``open_client`` fixture authenticates as.
    """

    settings: NotifierSettings
    clients: AwsClients
    session: AioSession
    user: SignedInUser

    @property
    def images(self) -> ImageStore:
        return ImageStore(self.clients.dynamodb, self.settings)

    @property
    def connections(self) -> ConnectionStore:
        return ConnectionStore(self.clients.dynamodb, self.settings)

    @property
    def publisher(self) -> NotificationPublisher:
        return NotificationPublisher(self.clients.sqs, self.connections)

    async def new_image(
        self,
        *,
        owner: str | None = STACK_USER,
        visibility: Literal["private", "public"] = "private",
    ) -> str:
        """A pending image of ``owner`` (a user id; the stack's user by default; ``None``: no
        owner, as records from before accounts)."""
        image_id = uuid.uuid4().hex
        owner_id = self.user.user_id if owner == STACK_USER else owner
        record = ImageRecord.pending(image_id, owner_id=owner_id, visibility=visibility)
        await self.images.create(record)
        return image_id

    async def processing_image(self, **owner: Any) -> tuple[str, str]:
        """An image a worker has claimed: (imageId, lease token)."""
        image_id = await self.new_image(**owner)
        token = uuid.uuid4().hex
        await self.images.claim(image_id, token, lease_seconds=60)
        return image_id, token

    async def complete(self, image_id: str, token: str) -> ImageRecord:
        variants = {
            name: v.model_copy(update={"key": f"processed/{image_id}/{name}.jpg"})
            for name, v in VARIANTS.items()
        }
        await self.images.complete(image_id, token, variants, {"format": "JPEG"})
        record = await self.images.get(image_id)
        assert record is not None
        return record

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


async def authenticate(client: ClientConnection, token: str) -> dict[str, Any]:
    """Send an authenticate frame; return the server's answer."""
    await send_json(client, {"action": "authenticate", "token": token})
    return await recv_json(client)


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


class ServiceProcess:
    """``python -m notifier_service`` in a subprocess, on the stack's tables."""

    def __init__(self, stack: Stack, **settings: str) -> None:
        self.replica_id = uuid.uuid4().hex[:12]
        self.queue_name = f"{stack.settings.notify_queue_prefix}{self.replica_id}"
        self.env = {
            **os.environ,
            "SNAPQUEUE_IMAGES_TABLE": stack.settings.images_table,
            "SNAPQUEUE_CONNECTIONS_TABLE": stack.settings.connections_table,
            "SNAPQUEUE_NOTIFY_QUEUE_PREFIX": stack.settings.notify_queue_prefix,
            "SNAPQUEUE_REPLICA_ID": self.replica_id,
            "SNAPQUEUE_HTTP_PORT": "0",
            "SNAPQUEUE_NOTIFY_WAIT_SECONDS": "1",
            **{f"SNAPQUEUE_{name.upper()}": value for name, value in settings.items()},
        }
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "notifier_service",
            env=self.env,
            stderr=asyncio.subprocess.PIPE,
        )
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(listening))
        self.port = await asyncio.wait_for(listening, 30)

    async def _read(self, listening: asyncio.Future[int]) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if not listening.done() and '"listening"' in line:
                listening.set_result(int(json.loads(line)["port"]))
        if not listening.done():
            listening.set_exception(AssertionError("exited before listening:\n" + self.log))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    async def wait(self, within: float = 30.0) -> int:
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), within)
        if self._reader is not None:
            await self._reader
        return code

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.wait()
