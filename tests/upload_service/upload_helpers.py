"""Helpers for the upload-service tests: an in-loop uvicorn server and COMPLETED records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Literal

import httpx
import uvicorn

from devstack.users import new_user
from snapqueue_core.aws import AwsClients
from snapqueue_core.schemas import ImageRecord, StoredVariant
from snapqueue_core.store import ImageStore
from snapqueue_core.user_pool import UserPoolIds
from tests.conftest import REGION, SignedInUser
from upload_service.app import create_app
from upload_service.settings import UploadServiceSettings


class InLoopServer(uvicorn.Server):
    """uvicorn without signal handling: pytest keeps Ctrl-C."""

    def capture_signals(self) -> AbstractContextManager[None]:
        return nullcontext()


@dataclass
class RunningService:
    """A started service. ``http`` sends ``user``'s access token with every request;
    ``anonymous`` sends none."""

    settings: UploadServiceSettings
    clients: AwsClients
    base_url: str
    http: httpx.AsyncClient
    user: SignedInUser
    anonymous: httpx.AsyncClient

    @property
    def store(self) -> ImageStore:
        return ImageStore(self.clients.dynamodb, self.settings)


async def sign_in_new_user(
    emulator_url: str, user_pool: UserPoolIds, *, admin: bool = False
) -> SignedInUser:
    """A fresh, confirmed user of the session's pool, signed in (as ``user_factory`` does,
    for fixtures that outlive one test)."""
    return await new_user(
        emulator_url, user_pool.user_pool_id, user_pool.client_id, region=REGION, admin=admin
    )


async def start_server(settings: UploadServiceSettings) -> tuple[InLoopServer, asyncio.Task[None]]:
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_config=None, lifespan="on"
    )
    server = InLoopServer(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("upload-service did not start")
            await asyncio.sleep(0.01)
    return server, task


VARIANTS = {
    name: StoredVariant(
        key=f"processed/x/{name}.jpg", width=w, height=h, content_type="image/jpeg", bytes=100
    )
    for name, w, h in (("thumbnail", 256, 256), ("resized", 1024, 768), ("grayscale", 1024, 768))
}


async def completed_record(
    store: ImageStore,
    image_id: str,
    *,
    owner_id: str | None = "someone",
    visibility: Literal["private", "public"] = "public",
) -> ImageRecord:
    """An image taken through the real state machine: created, claimed, completed.

    Public by default, so that anyone may read it and the gallery lists it."""
    await store.create(
        ImageRecord.pending(
            image_id,
            filename=f"{image_id[:6]}.jpg",
            content_type="image/jpeg",
            declared_size=100,
            owner_id=owner_id,
            visibility=visibility,
        )
    )
    claimed = await store.claim(image_id, "test-token", lease_seconds=60)
    await store.complete(
        image_id,
        "test-token",
        {
            k: v.model_copy(update={"key": f"processed/{image_id}/{k}.jpg"})
            for k, v in VARIANTS.items()
        },
        {"width": 1024, "height": 768},
        visibility=claimed.visibility,
    )
    record = await store.get(image_id)
    assert record is not None
    return record


BOUNDARY = "snapqueue-test-boundary-7f3a"


def multipart_content_type(boundary: str = BOUNDARY) -> str:
    return f"multipart/form-data; boundary={boundary}"


def part_head(
    name: str, filename: str | None, content_type: str | None, boundary: str = BOUNDARY
) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def closing(boundary: str = BOUNDARY) -> bytes:
    return f"\r\n--{boundary}--\r\n".encode()


async def streamed_file(
    size: int,
    *,
    filename: str = "big.jpg",
    content_type: str = "image/jpeg",
    chunk: int = 256 * 1024,
) -> AsyncIterator[bytes]:
    """A multipart body with one ``file`` part of ``size`` bytes, generated as it is sent."""
    yield part_head("file", filename, content_type)
    block = bytes(range(256)) * (chunk // 256)
    sent = 0
    while sent < size:
        piece = block[: min(chunk, size - sent)]
        sent += len(piece)
        yield piece
    yield closing()
