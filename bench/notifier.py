"""The notifier benchmark: idle connections per replica and event delivery latency.

Idle connections are opened by ``bench.ws_holder`` processes in steps (1k, 5k, 10k); the
replica's RSS over its baseline, divided by the connections, is the cost of one. For
latency, clients register one image each (records created through the core store, rows
written by the notifier itself), then a publisher sends ``status`` events to the
replica's queue at a fixed rate, and each client times send → frame received.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import time
import uuid
from collections import deque
from contextlib import AsyncExitStack
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from devstack.stack import ROOT, Stack
from devstack.users import SignedInUser, stack_user
from snapqueue_core.aws import open_clients
from snapqueue_core.schemas import (
    ImageRecord,
    ImageStatus,
    NotificationEvent,
)
from snapqueue_core.store import ConnectionStore, ImageStore

from .holders import SETTLE_SECONDS, Holders, allow_many_sockets, rss_bytes
from .notifier_churn import churn_pauses
from .profile import Profile
from .results import DeliveryLatency, IdleLevel, NotifierResult, Stamp
from .stack_session import stack_settings
from .stats import summary_ms


def idle_connections(stack: Stack, levels: tuple[int, ...], log: Any) -> list[IdleLevel]:
    pid = stack.processes["notifier"].pid
    allow_many_sockets(pid)
    time.sleep(SETTLE_SECONDS)
    baseline = rss_bytes(pid)
    holders = Holders.enough_for(stack.ws_url, max(levels))
    rows = []
    try:
        for level in levels:
            start = time.perf_counter()
            holders.hold(level)
            opened_in = time.perf_counter() - start
            time.sleep(SETTLE_SECONDS)
            rss = rss_bytes(pid)
            rows.append(
                IdleLevel(
                    connections=level,
                    rss_bytes=rss,
                    baseline_bytes=baseline,
                    open_seconds=opened_in,
                )
            )
            log(
                f"notifier: {level} idle connections, RSS {rss / 2**20:.0f} MiB "
                f"({(rss - baseline) / level / 1024:.1f} KiB each)"
            )
    finally:
        holders.close()
    return rows


class LatencyClient:
    """One socket registered for one image; records when each progress frame lands.

    A raw socket, not :class:`snapqueue_client.AsyncSnapQueue`: the publisher sends the
    same PROCESSING event over and over, and the client's ``watch`` rightly passes each
    status on once; here every frame is a sample.
    """

    def __init__(self, image_id: str, socket: ClientConnection) -> None:
        self.image_id = image_id
        self.socket = socket
        self.received: list[float] = []

    async def register(self) -> None:
        await self.socket.send(json.dumps({"action": "registerImage", "imageId": self.image_id}))
        seen: set[str] = set()
        # "registered", then the record's current status (PENDING_UPLOAD).
        while not {"registered", "status"} <= seen:
            frame = json.loads(await self.socket.recv())
            if frame["type"] == "error":
                raise RuntimeError(f"registration failed: {frame}")
            seen.add(frame["type"])

    async def listen(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in self.socket:
                frame = json.loads(message)
                if frame.get("status") == ImageStatus.PROCESSING.value:
                    self.received.append(time.time())


async def _create_images(images: ImageStore, count: int, owner: SignedInUser) -> list[str]:
    ids = [uuid.uuid4().hex for _ in range(count)]
    gate = asyncio.Semaphore(16)

    async def create(image_id: str) -> None:
        async with gate:
            await images.create(ImageRecord.pending(image_id, owner_id=owner.user_id))

    await asyncio.gather(*(create(image_id) for image_id in ids))
    return ids


async def _open_tabs(ws_url: str, ids: list[str], owner: SignedInUser) -> list[LatencyClient]:
    gate = asyncio.Semaphore(32)

    async def open_client(image_id: str) -> LatencyClient:
        async with gate:
            # Signed in on the handshake, as the images' owner.
            socket = await connect(
                ws_url, ping_interval=None, compression=None, additional_headers=owner.headers
            )
            client = LatencyClient(image_id, socket)
            await client.register()
            return client

    return list(await asyncio.gather(*(open_client(image_id) for image_id in ids)))


async def _collect(
    tabs: list[LatencyClient], sent: dict[str, list[float]], expected: int
) -> list[float]:
    """Wait for the frames (up to 10 s more), then pair each with its send time, in order."""
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        if sum(len(tab.received) for tab in tabs) >= expected:
            break
        await asyncio.sleep(0.05)
    latencies = []
    for tab in tabs:
        queue = deque(sent[tab.image_id])
        for received in tab.received:
            if queue:
                latencies.append(received - queue.popleft())
    return latencies


async def _close_tabs(tabs: list[LatencyClient], listeners: list[asyncio.Task[None]]) -> None:
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    await asyncio.gather(*(tab.socket.close() for tab in tabs), return_exceptions=True)


def _latency_result(
    rate: int, clients: int, sent: int, seconds: float, latencies: list[float], warmup: float
) -> DeliveryLatency:
    return DeliveryLatency(
        rate=rate,
        clients=clients,
        sent=sent,
        delivered=len(latencies),
        seconds=seconds,
        latency_ms=summary_ms(latencies),
        warmup_seconds=warmup,
    )


async def _publish_at_rate(
    sqs: Any, queue_url: str, ids: list[str], rate: int, seconds: float
) -> tuple[dict[str, list[float]], int, float]:
    """Progress events for ``ids`` in turn, in batches of 10: send times, count, duration."""
    sent: dict[str, list[float]] = {image_id: [] for image_id in ids}
    total = int(rate * seconds)
    sends: list[asyncio.Task[Any]] = []
    start = time.perf_counter()
    published = 0
    while published < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while published < due:
            batch: list[dict[str, str]] = []
            for _ in range(min(10, due - published)):
                image_id = ids[published % len(ids)]
                published += 1
                event = NotificationEvent.progress(image_id, ImageStatus.PROCESSING)
                sent[image_id].append(time.time())
                batch.append({"Id": str(len(batch)), "MessageBody": event.to_json()})
            sends.append(
                asyncio.create_task(sqs.send_message_batch(QueueUrl=queue_url, Entries=batch))
            )
        await asyncio.sleep(0.02)
    seconds_taken = time.perf_counter() - start
    await asyncio.gather(*sends)
    return sent, total, seconds_taken


async def emulator_latency(stack: Stack, profile: Profile, log: Any) -> DeliveryLatency:
    """The whole path: SQS (the emulator) → the replica's consumer → sockets."""
    settings = stack_settings()
    rate, seconds = profile.notifier_event_rate, profile.notifier_event_seconds
    async with AsyncExitStack() as exits:
        clients = await open_clients(exits, settings)
        images = ImageStore(clients.dynamodb, settings)
        owner = await stack_user(stack)
        ids = await _create_images(images, min(profile.notifier_event_clients, 100), owner)
        tabs = await _open_tabs(stack.ws_url, ids, owner)
        listeners = [asyncio.create_task(tab.listen()) for tab in tabs]
        rows = await ConnectionStore(clients.dynamodb, settings).for_image(ids[0])
        queue_url = rows[0].queue_url
        # A fifth of the run at the same rate first, not measured: the first seconds
        # through a fresh path (connection pools, the emulator's threads) run slower.
        warm_sent, warm_total, _ = await _publish_at_rate(
            clients.sqs, queue_url, ids, rate, seconds / 5
        )
        await _collect(tabs, warm_sent, warm_total)
        for tab in tabs:
            tab.received.clear()
        log(f"notifier: via SQS, {len(tabs)} clients, {rate} events/s for {seconds}s")
        sent, total, seconds_taken = await _publish_at_rate(
            clients.sqs, queue_url, ids, rate, seconds
        )
        latencies = await _collect(tabs, sent, total)
        await _close_tabs(tabs, listeners)
    return _latency_result(
        rate,
        len(ids),
        total,
        seconds_taken,
        latencies,
        seconds / 5,
    )


async def direct_latency(stack: Stack, profile: Profile, log: Any) -> DeliveryLatency:
    """The replica's own delivery path at the full rate, fed by ``bench.notifier_direct``."""
    settings = stack_settings()
    rate, seconds = profile.notifier_event_rate, profile.notifier_event_seconds
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.notifier_direct",
        cwd=ROOT,
        env=stack.env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=64 * 2**20,  # the answer lists every send time
    )
    stdin, stdout = child.stdin, child.stdout
    assert stdin is not None
    assert stdout is not None
    try:
        port = json.loads(await asyncio.wait_for(stdout.readline(), 120))["port"]
        owner = await stack_user(stack)
        async with AsyncExitStack() as exits:
            clients = await open_clients(exits, settings)
            ids = await _create_images(
                ImageStore(clients.dynamodb, settings), profile.notifier_event_clients, owner
            )
        tabs = await _open_tabs(f"ws://127.0.0.1:{port}/ws", ids, owner)
        listeners = [asyncio.create_task(tab.listen()) for tab in tabs]
        log(f"notifier: direct, {len(tabs)} clients, {rate} events/s for {seconds}s")
        command = {"rate": rate, "seconds": seconds, "images": ids}
        stdin.write((json.dumps(command) + "\n").encode())
        await stdin.drain()
        answer = json.loads(await asyncio.wait_for(stdout.readline(), seconds + 120))
        total = sum(len(times) for times in answer["sent"].values())
        latencies = await _collect(tabs, answer["sent"], total)
        await _close_tabs(tabs, listeners)
        stdin.write(b"done\n")
        await stdin.drain()
        await asyncio.wait_for(child.wait(), 60)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return _latency_result(
        rate,
        len(ids),
        total,
        answer["seconds"],
        latencies,
        0.0,
    )


def run(stack: Stack, profile: Profile, measured: Stamp, log: Any = print) -> NotifierResult:
    idle = idle_connections(stack, profile.notifier_connections, log)
    latencies: dict[str, DeliveryLatency] = {}
    # The clients stamp each frame in this process: its own full collections (over all
    # that the earlier benchmarks left here) would count as delivery latency.
    gc.collect()
    gc.freeze()
    try:
        for key, measure in (("direct", direct_latency), ("via SQS", emulator_latency)):
            result = asyncio.run(measure(stack, profile, log))
            log(
                f"notifier: {key}: {result.delivered}/{result.sent} events, "
                f"p99 {result.latency_ms.p99:.1f} ms"
            )
            latencies[key] = result
        # Last: it restarts the replica twice.
        churn = churn_pauses(stack, profile, log)
    finally:
        gc.unfreeze()
    return NotifierResult(
        measured=measured,
        idle=idle,
        direct=latencies["direct"],
        via_sqs=latencies["via SQS"],
        churn=churn,
    )
