"""WebSocket fuzz against the real notifier process.

Invalid UTF-8, invalid JSON, binary frames, 1 MB frames, 10,000 registrations on one
connection and a flood of connections from one client: each gets an error frame or a clean
close, the notifier never crashes, and another client's delivery works during and after.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from devstack.stack import Stack
from snapqueue_client import AsyncSnapQueue
from tests.reliability.harness import (
    ALLOWED_ORIGIN,
    UploadItem,
    WsPool,
    auth_headers,
    run_uploads,
    small_jpeg,
    tails,
    token_for,
)

REGISTRATIONS = 10_000


def connect(stack: Stack, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "origin": ALLOWED_ORIGIN,
        "open_timeout": 30,
        "close_timeout": 5,
        "ping_interval": None,
        "compression": None,
        "proxy": None,
        "max_size": None,
    }
    # Signed in on the handshake, as the suite's user (a non-browser client's way).
    options["additional_headers"] = auth_headers(stack.ws_url)
    return websockets.connect(stack.ws_url, **{**options, **kwargs})


async def next_frame(ws: ClientConnection, within: float = 15) -> dict[str, Any]:
    async with asyncio.timeout(within):
        frame: dict[str, Any] = json.loads(await ws.recv())
    return frame


async def issued_ids(stack: Stack, count: int) -> list[str]:
    """Image ids the upload-service issued (records PENDING_UPLOAD, nothing uploaded)."""
    async with AsyncSnapQueue(
        stack.url("upload"), stack.ws_url, token=token_for(stack.url("upload")), timeout=30
    ) as client:
        gate = asyncio.Semaphore(10)

        async def one() -> str:
            async with gate:
                ticket = await client.request_upload("a.jpg", "image/jpeg", 1000)
                return ticket.image_id

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def bystander_delivery(stack: Stack, seed: int) -> None:
    """Another client: its upload's terminal event still arrives."""
    async with WsPool(stack.ws_url, 1, ALLOWED_ORIGIN) as pool:
        item = UploadItem(small_jpeg(seed), label="bystander")
        run = await run_uploads(stack.url("upload"), pool, [item], concurrency=1)
        assert not run.failures(), run.failures()
        missing = await pool.wait_terminal(run.image_ids, within=90)
        assert not missing, "the bystander's terminal event never arrived\n" + tails(stack)


async def send_and_read(ws: ClientConnection, frame: str | bytes) -> dict[str, Any]:
    await ws.send(frame)
    return await next_frame(ws)


def assert_notifier_alive(stack: Stack) -> None:
    notifier = stack.processes["notifier"]
    assert notifier.running, notifier.tail()
    assert httpx.get(f"{stack.url('notifier')}/healthz", timeout=10).status_code == 200


async def test_bad_frames_get_error_frames_and_the_socket_stays(stack: Stack) -> None:
    (real,) = await issued_ids(stack, 1)
    cases: list[tuple[str | bytes, str]] = [
        ("{not json", "invalid_json"),
        ("", "invalid_json"),
        (b"\x00\x01\x02binary", "invalid_frame"),
        ("[1, 2, 3]", "invalid_frame"),
        ('"registerImage"', "invalid_frame"),
        (json.dumps({"action": "dropTables"}), "unknown_action"),
        (json.dumps({"imageId": real}), "unknown_action"),
        (json.dumps({"action": "registerImage", "imageId": "../../etc"}), "invalid_image_id"),
        (json.dumps({"action": "registerImage", "imageId": real.upper()}), "invalid_image_id"),
        (json.dumps({"action": "registerImage", "imageId": {"$ne": 1}}), "invalid_image_id"),
        (json.dumps({"action": "registerImage", "imageId": uuid.uuid4().hex}), "unknown_image"),
        ('{"action": "registerImage", "imageId": "\\ud800"}', "invalid_image_id"),
    ]
    async with connect(stack) as ws:
        for frame, code in cases:
            reply = await send_and_read(ws, frame)
            if code == "unknown_image":
                # The routing row is written before the record is read (so that no event
                # can slip between them): "registered" first, then the error, row removed.
                assert reply["type"] == "registered", reply
                reply = await next_frame(ws)
            assert reply["type"] == "error", (frame, reply)
            assert reply["code"] == code, (frame, reply)
            assert reply["message"], reply
        # Still open and working after all of it.
        await ws.send(json.dumps({"action": "registerImage", "imageId": real}))
        assert await next_frame(ws) == {"type": "registered", "imageId": real}
    assert_notifier_alive(stack)


async def test_invalid_utf8_closes_cleanly_with_1007(stack: Stack) -> None:
    async with connect(stack) as ws:
        await ws.send(b'{"action": "\xff\xfe\xfd"}', text=True)
        with pytest.raises(ConnectionClosed) as closed:
            await next_frame(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1007  # invalid frame payload data
    assert_notifier_alive(stack)
    await bystander_delivery(stack, seed=21)


async def test_one_megabyte_frames_close_cleanly_with_1009(stack: Stack) -> None:
    for frame in ("x" * 1024 * 1024, b"\x00" * 1024 * 1024):
        async with connect(stack) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await send_and_read(ws, frame)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009  # message too big
    assert_notifier_alive(stack)
    await bystander_delivery(stack, seed=22)


async def test_ten_thousand_registrations_on_one_connection(stack: Stack) -> None:
    """The per-connection cap answers every frame beyond it, without touching AWS."""
    real = await issued_ids(stack, 100)
    extra = [uuid.uuid4().hex for _ in range(REGISTRATIONS - len(real))]
    replies: Counter[str] = Counter()
    async with connect(stack) as ws:

        async def read_all() -> None:
            expected = len(real) + len(extra)
            while replies["registered"] + replies["error"] < expected:
                frame = await next_frame(ws, within=60)
                key = frame["type"] if frame["type"] != "error" else "error"
                replies[key] += 1
                if frame["type"] == "error":
                    replies[f"error:{frame['code']}"] += 1

        reader = asyncio.create_task(read_all())
        during = asyncio.create_task(bystander_delivery(stack, seed=23))
        for image_id in real + extra:
            await ws.send(json.dumps({"action": "registerImage", "imageId": image_id}))
        await asyncio.wait_for(reader, 120)
        await asyncio.wait_for(during, 120)
        limit = replies["registered"]
        # Room again after an unregister: the connection is healthy, not wedged.
        await ws.send(json.dumps({"action": "unregisterImage", "imageId": real[0]}))
        assert (await next_frame(ws))["type"] == "unregistered"
        await ws.send(json.dumps({"action": "registerImage", "imageId": real[0]}))
        assert (await next_frame(ws))["type"] == "registered"

    print(f"\n[ws fuzz] {REGISTRATIONS} registrations on one connection: {dict(replies)}")
    assert 1 <= limit <= len(real), replies
    assert replies["error:too_many_registrations"] == REGISTRATIONS - limit, replies
    assert_notifier_alive(stack)
    await bystander_delivery(stack, seed=24)


async def test_connection_flood_from_one_client(stack: Stack, full_size: bool) -> None:
    flood = 1000 if full_size else 500
    outcomes: Counter[str] = Counter()
    opened: list[ClientConnection] = []

    async def one() -> None:
        try:
            ws = await connect(stack, open_timeout=60)
        except InvalidStatus as exc:
            outcomes[f"refused:{exc.response.status_code}"] += 1
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            outcomes[f"failed:{type(exc).__name__}"] += 1
        else:
            opened.append(ws)
            outcomes["opened"] += 1

    during = asyncio.create_task(bystander_delivery(stack, seed=25))
    try:
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(flood))), 120)
        await asyncio.wait_for(during, 120)
        assert_notifier_alive(stack)
        # The open ones still answer.
        sample = opened[:20]
        for ws in sample:
            await ws.send("{}")
        for ws in sample:
            assert (await next_frame(ws))["type"] == "error"
    finally:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    print(f"\n[ws fuzz] flood of {flood} connections: {dict(outcomes)}")
    # Each one either opened or was refused at the handshake with an HTTP status.
    assert not [k for k in outcomes if k.startswith("failed")], outcomes
    assert outcomes["opened"] >= 1, outcomes
    assert_notifier_alive(stack)
    await bystander_delivery(stack, seed=26)
