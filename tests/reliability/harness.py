"""The reliability harness: drive the real stack with real clients and record what happened.

- :class:`WsPool`: WebSocket clients that register each image before its upload, reconnect
  with backoff when the notifier goes away, register their pending images again, and record
  every frame with a timestamp.
- :func:`run_uploads`: N uploads at concurrency C through the presigned-POST path with
  snapqueue-client (``request_upload``, then ``send_file``), counting the status codes the
  server answered (a 5xx is a failure, never retried silently).
- :class:`Inspector`: the stack's own buckets, table and queues, read over HTTP with the real
  aiobotocore clients, for the invariant checks in :mod:`invariants`.

Every wait has a deadline, so a broken service fails a test instead of hanging CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from aiobotocore.session import AioSession
from PIL import Image, ImageDraw
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from devstack.stack import Stack
from devstack.users import SignedInUser, stack_user
from snapqueue_client import (
    ApiError,
    AsyncSnapQueue,
    NetworkError,
    SnapQueueError,
    UploadTicket,
)
from snapqueue_core.aws import AwsClients, create_client
from snapqueue_core.schemas import ImageRecord
from snapqueue_core.settings import CoreSettings
from snapqueue_core.store import ImageStore
from tests.sqs_helpers import messages_on_queue

TERMINAL_TYPES = frozenset({"imageProcessed", "imageFailed"})
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED"})


# ---------------------------------------------------------------------------
# Payloads


def small_jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A small, real, distinct JPEG: the load tests measure the pipeline, not Pillow."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randrange(20, 120), y0 + rng.randrange(20, 120)
        draw.rectangle((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


@dataclass(frozen=True)
class UploadItem:
    payload: bytes
    content_type: str = "image/jpeg"
    filename: str = "photo.jpg"
    label: str = ""


def jpeg_items(count: int, distinct: int = 16) -> list[UploadItem]:
    images = [small_jpeg(seed) for seed in range(min(count, distinct))]
    return [
        UploadItem(images[i % len(images)], filename=f"load-{i}.jpg", label=str(i))
        for i in range(count)
    ]


# ---------------------------------------------------------------------------
# WebSocket clients


@dataclass(frozen=True)
class Frame:
    at: float
    client: int
    data: dict[str, Any]


class WsClient:
    """One reconnecting WebSocket client; it owns the images registered through it."""

    def __init__(self, pool: WsPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.watching: set[str] = set()
        self.acks: dict[str, asyncio.Future[None]] = {}
        self.connection: ClientConnection | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        self.closes: list[tuple[float, int | None]] = []
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        delay = 0.05
        while not self.pool.closing:
            try:
                async with websockets.connect(
                    self.pool.url,
                    origin=self.pool.origin,  # type: ignore[arg-type]
                    # A non-browser client's way to sign in: the header on the handshake.
                    additional_headers=auth_headers(self.pool.url),
                    open_timeout=10,
                    close_timeout=2,
                    ping_interval=None,
                    compression=None,
                    proxy=None,
                ) as connection:
                    self.connection = connection
                    self.connects += 1
                    delay = 0.05
                    # A client that reconnects registers again: the notifier then sends the
                    # current state of anything already finished.
                    for image_id in sorted(self.watching):
                        await connection.send(_register(image_id))
                    self.connected.set()
                    async for message in connection:
                        self._on_message(message)
                    self.closes.append((time.monotonic(), connection.close_code))
            except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError) as exc:
                code = exc.rcvd.code if isinstance(exc, ConnectionClosed) and exc.rcvd else None
                self.closes.append((time.monotonic(), code))
            finally:
                self.connected.clear()
                self.connection = None
            if self.pool.closing:
                return
            await asyncio.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)

    def _on_message(self, message: str | bytes) -> None:
        now = time.monotonic()
        try:
            data = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            self.pool.protocol_errors.append(f"client {self.index}: unreadable frame {message!r}")
            return
        if not isinstance(data, dict):
            self.pool.protocol_errors.append(f"client {self.index}: not an object {data!r}")
            return
        self.pool.frames.append(Frame(now, self.index, data))
        kind = data.get("type")
        image_id = data.get("imageId")
        if kind == "registered" and isinstance(image_id, str):
            ack = self.acks.get(image_id)
            if ack is not None and not ack.done():
                ack.set_result(None)
        elif kind in TERMINAL_TYPES and isinstance(image_id, str):
            self.pool.on_terminal(self, image_id, data, now)
        elif kind == "error":
            self.pool.error_frames.append((self.index, data))

    async def send(self, text: str) -> None:
        connection = self.connection
        if connection is None:
            return  # the reconnect loop sends registrations once it is back
        with contextlib.suppress(ConnectionClosed):
            await connection.send(text)

    async def register(self, image_id: str, within: float) -> None:
        self.watching.add(image_id)
        ack = self.acks[image_id] = asyncio.get_running_loop().create_future()
        await self.send(_register(image_id))
        await asyncio.wait_for(asyncio.shield(ack), within)


# The suite's signed-in user on each running stack, by the stack's service URLs: every
# upload and socket of the suite is that user's, as one person's browser tabs are.
_tokens: dict[str, str] = {}


async def sign_in_stack_user(stack: Stack) -> SignedInUser:
    """Sign up (once per stack) the user the suite acts as; its token serves every request."""
    user = await stack_user(stack)
    for url in (stack.url("upload"), stack.ws_url):
        _tokens[url] = user.access_token
    return user


def token_for(url: str) -> str:
    """The suite user's access token for the stack serving ``url``."""
    try:
        return _tokens[url]
    except KeyError:
        raise RuntimeError(f"no signed-in user for {url}: use the `stack` fixture") from None


def auth_headers(url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(url)}"}


def _register(image_id: str) -> str:
    return json.dumps({"action": "registerImage", "imageId": image_id})


class WsPool:
    """Clients sharing the registrations; every terminal event is recorded per image."""

    def __init__(
        self, url: str, size: int, origin: str | None = None, *, watchers: int = 1
    ) -> None:
        """``watchers``: how many clients (browser tabs) register for each image."""
        if not 1 <= watchers <= size:
            raise ValueError("watchers must be between 1 and the pool size")
        self.url = url
        self.origin = origin
        self.watchers = watchers
        self.clients = [WsClient(self, i) for i in range(size)]
        self.frames: list[Frame] = []
        self.error_frames: list[tuple[int, dict[str, Any]]] = []
        self.protocol_errors: list[str] = []
        # image → (client index, frame type, time) for every terminal frame received
        self.terminal: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
        self.owners: dict[str, frozenset[int]] = {}
        self.registered_at: dict[str, float] = {}
        self._done: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._background: set[asyncio.Task[None]] = set()
        self.closing = False

    async def __aenter__(self) -> WsPool:
        for client in self.clients:
            client.task = asyncio.create_task(client.run(), name=f"ws-client-{client.index}")
        await self.wait_connected(within=30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closing = True
        for client in self.clients:
            if client.connection is not None:
                with contextlib.suppress(ConnectionClosed, OSError):
                    await client.connection.close()
        tasks = [c.task for c in self.clients if c.task is not None]
        _, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            task.cancel()

    async def wait_connected(self, within: float) -> None:
        """Wait until every client is connected (again)."""
        await _wait_all((c.connected.wait() for c in self.clients), within, "WebSocket connect")

    @property
    def reconnects(self) -> int:
        return sum(max(c.connects - 1, 0) for c in self.clients)

    async def register(self, image_id: str, within: float = 60.0) -> None:
        """Register ``image_id`` on the ``watchers`` least busy clients; wait for the acks."""
        chosen = sorted(self.clients, key=lambda c: len(c.watching))[: self.watchers]
        self.owners[image_id] = frozenset(c.index for c in chosen)
        self.registered_at[image_id] = time.monotonic()
        await asyncio.gather(*(client.register(image_id, within) for client in chosen))

    def seen_by(self, image_id: str) -> set[int]:
        return {index for index, _, _ in self.terminal.get(image_id, [])}

    def on_terminal(self, client: WsClient, image_id: str, data: dict[str, Any], at: float) -> None:
        self.terminal[image_id].append((client.index, str(data.get("type")), at))
        owners = self.owners.get(image_id, frozenset())
        if owners and owners <= self.seen_by(image_id):
            self._done[image_id].set()
        if image_id in client.watching:
            client.watching.discard(image_id)
            # Frees the slot (registrations per connection are capped).
            unregister = json.dumps({"action": "unregisterImage", "imageId": image_id})
            task = asyncio.get_running_loop().create_task(client.send(unregister))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def first_terminal(self, image_id: str) -> float | None:
        """When the first of the image's clients heard it was done."""
        owners = self.owners.get(image_id, frozenset())
        times = [at for index, _, at in self.terminal.get(image_id, []) if index in owners]
        return min(times) if times else None

    async def wait_terminal_count(self, count: int, within: float) -> bool:
        """Wait until ``count`` images have had a terminal event (a moment mid-run)."""

        async def reached() -> bool:
            return len(self.terminal) >= count

        return await poll_until(reached, within, interval=0.05)

    async def wait_terminal(self, image_ids: Iterable[str], within: float) -> set[str]:
        """Wait until every client of each image saw its terminal event; return the others."""
        ids = list(image_ids)
        deadline = time.monotonic() + within
        for image_id in ids:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done[image_id].wait(), remaining)
        return {i for i in ids if not self._done[i].is_set()}


async def _wait_all(awaitables: Iterable[Awaitable[Any]], within: float, what: str) -> None:
    try:
        async with asyncio.timeout(within):
            await asyncio.gather(*awaitables)
    except TimeoutError as exc:
        raise AssertionError(f"{what} did not finish within {within}s") from exc


# ---------------------------------------------------------------------------
# Uploads


@dataclass
class UploadOutcome:
    item: UploadItem
    image_id: str | None = None
    request_status: int | None = None
    upload_status: int | None = None
    started: float = 0.0
    uploaded: float | None = None
    error: str | None = None
    retries: int = 0
    ticket: UploadTicket | None = None

    @property
    def ok(self) -> bool:
        return self.image_id is not None and self.uploaded is not None


@dataclass
class UploadRun:
    outcomes: list[UploadOutcome] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    finished: float = 0.0

    @property
    def image_ids(self) -> list[str]:
        return [o.image_id for o in self.outcomes if o.ok and o.image_id]

    @property
    def server_errors(self) -> int:
        return sum(n for key, n in self.statuses.items() if key.split(":")[1].startswith("5"))

    def failures(self) -> list[UploadOutcome]:
        return [o for o in self.outcomes if not o.ok]


# Which upload an HTTP exchange belongs to: each upload runs in its own task, and the
# client's requests run in the task that made them, so the transport can tell.
_current_outcome: ContextVar[UploadOutcome | None] = ContextVar("outcome", default=None)


class CountingTransport(httpx.AsyncBaseTransport):
    """The client's transport, counting every answer as ``step:status``.

    It sees each request the client sends, so the counts are the server's real answers
    (``upload-request:201``, ``s3-post:204``, a 503 included), and it records the upload's
    own request and S3 statuses on its :class:`UploadOutcome`.
    """

    def __init__(self, statuses: Counter[str], limits: httpx.Limits) -> None:
        self.statuses = statuses
        self.inner = httpx.AsyncHTTPTransport(limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        step = _step(request)
        self.statuses[f"{step}:{response.status_code}"] += 1
        outcome = _current_outcome.get()
        if outcome is not None and step == "upload-request":
            outcome.request_status = response.status_code
        elif outcome is not None and step == "s3-post":
            outcome.upload_status = response.status_code
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _step(request: httpx.Request) -> str:
    if request.url.path.endswith("/upload-request"):
        return "upload-request"
    if request.method == "POST":
        return "s3-post"  # the presigned POST: the only other POST the harness sends
    return f"{request.method} {request.url.path}"


async def upload_one(
    client: AsyncSnapQueue,
    pool: WsPool | None,
    item: UploadItem,
    run: UploadRun,
    *,
    retry_unavailable: float = 0.0,
) -> UploadOutcome:
    """Presign, register, POST to S3: the browser's path, through snapqueue-client's two
    steps (``request_upload``, ``send_file``). 503s are retried only if asked."""
    outcome = UploadOutcome(item, started=time.monotonic())
    run.outcomes.append(outcome)
    _current_outcome.set(outcome)
    give_up = time.monotonic() + retry_unavailable
    try:
        while True:
            try:
                ticket = await client.request_upload(
                    item.filename, item.content_type, len(item.payload)
                )
            except ApiError as exc:
                if exc.status == 503 and time.monotonic() < give_up:
                    outcome.retries += 1
                    await asyncio.sleep(0.5)
                    continue
                outcome.error = f"upload-request {exc.status}: {exc.body[:200]}"
                return outcome
            break
        outcome.ticket = ticket
        outcome.image_id = ticket.image_id
        if pool is not None:
            await pool.register(ticket.image_id)
        try:
            await client.send_file(
                ticket, item.payload, filename=item.filename, content_type=item.content_type
            )
        except ApiError as exc:
            outcome.error = f"S3 POST {exc.status}: {exc.body[:200]}"
            return outcome
        outcome.uploaded = time.monotonic()
    except NetworkError as exc:
        # Labelled by the underlying httpx error (ReadTimeout, ConnectError...), as before.
        cause = exc.__cause__ or exc
        outcome.error = f"{type(cause).__name__}: {exc}"
        run.statuses[f"client-error:{type(cause).__name__}"] += 1
    except (SnapQueueError, TimeoutError) as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
        run.statuses[f"client-error:{type(exc).__name__}"] += 1
    return outcome


async def run_uploads(
    api: str,
    pool: WsPool | None,
    items: Sequence[UploadItem],
    concurrency: int,
    *,
    request_timeout: float = 60.0,
    retry_unavailable: float = 0.0,
    on_progress: Callable[[int], Awaitable[None]] | None = None,
    rate: float | None = None,
) -> UploadRun:
    """Upload ``items`` at ``concurrency`` (and at most ``rate`` starts per second).

    Every request has ``request_timeout``; ``on_progress`` gets the number of uploads done.
    The pool, not the client, waits for the results: it is the many-tab load the tests
    measure.
    """
    run = UploadRun(started=time.monotonic())
    gate = asyncio.Semaphore(concurrency)
    finished = [0]  # uploads done, for ``on_progress``
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    transport = CountingTransport(run.statuses, limits)
    async with AsyncSnapQueue(
        api, token=token_for(api), timeout=request_timeout, transport=transport
    ) as client:

        async def one(index: int, item: UploadItem) -> None:
            if rate:
                await asyncio.sleep(max(0.0, run.started + index / rate - time.monotonic()))
            async with gate:
                await upload_one(client, pool, item, run, retry_unavailable=retry_unavailable)
            finished[0] += 1
            if on_progress is not None:
                await on_progress(finished[0])

        await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    run.finished = time.monotonic()
    return run


# ---------------------------------------------------------------------------
# The stack's AWS resources, read directly


def stack_settings(stack: Stack) -> CoreSettings:
    """Core settings naming exactly this stack's resources (nothing from os.environ wins)."""
    names = {
        key.removeprefix("SNAPQUEUE_").lower(): value
        for key, value in stack.env.items()
        if key.startswith("SNAPQUEUE_")
        and key.removeprefix("SNAPQUEUE_").lower() in CoreSettings.model_fields
    }
    return CoreSettings.from_env(aws_region=stack.env["AWS_REGION"], **names)


class Inspector:
    """Real aiobotocore clients on the stack's emulator, with explicit endpoint and creds."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.settings = stack_settings(stack)
        self._exit = AsyncExitStack()
        self.clients: AwsClients | None = None

    async def __aenter__(self) -> Inspector:
        session = AioSession()
        session.set_credentials(
            self.stack.env["AWS_ACCESS_KEY_ID"], self.stack.env["AWS_SECRET_ACCESS_KEY"]
        )
        url = self.stack.emulator_url
        made = [
            await self._exit.enter_async_context(
                create_client(session, service, self.settings, endpoint_url=url)
            )
            for service in ("s3", "sqs", "dynamodb")
        ]
        self.clients = AwsClients(s3=made[0], sqs=made[1], dynamodb=made[2], s3_presign=made[0])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._exit.aclose()

    @property
    def aws(self) -> AwsClients:
        if self.clients is None:
            raise RuntimeError("Inspector not entered")
        return self.clients

    async def records(self, image_ids: Iterable[str]) -> dict[str, ImageRecord | None]:
        store = ImageStore(self.aws.dynamodb, self.settings)
        gate = asyncio.Semaphore(16)

        async def one(image_id: str) -> tuple[str, ImageRecord | None]:
            async with gate:
                return image_id, await store.get(image_id)

        return dict(await asyncio.gather(*(one(i) for i in image_ids)))

    async def attempts(self, image_ids: Iterable[str]) -> dict[str, int]:
        """How many times each image was claimed (the store's ``attempts`` counter)."""
        result = {}
        for image_id in image_ids:
            response = await self.aws.dynamodb.get_item(
                TableName=self.settings.images_table,
                Key={"imageId": {"S": image_id}},
                ProjectionExpression="attempts",
                ConsistentRead=True,
            )
            raw = response.get("Item", {}).get("attempts", {}).get("N")
            result[image_id] = int(raw) if raw else 0
        return result

    async def record_count(self) -> int:
        response = await self.aws.dynamodb.scan(
            TableName=self.settings.images_table, Select="COUNT", ConsistentRead=True
        )
        return int(response["Count"])

    async def keys(self, bucket: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        paginator = self.aws.s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    async def processed_keys(self) -> list[str]:
        return await self.keys(self.settings.processed_bucket, "")

    async def get_object(self, bucket: str, key: str) -> bytes:
        response = await self.aws.s3.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def queue_depth(self, queue_name: str) -> int:
        url = (await self.aws.sqs.get_queue_url(QueueName=queue_name))["QueueUrl"]
        return await messages_on_queue(self.aws.sqs, url)

    async def replica_queues(self) -> list[str]:
        """The notifier replicas' own queues that exist right now."""
        response = await self.aws.sqs.list_queues(QueueNamePrefix=self.settings.notify_queue_prefix)
        urls: list[str] = response.get("QueueUrls", [])
        return urls

    async def dlq_depth(self) -> int:
        return await self.queue_depth(self.settings.upload_dlq)


async def poll_until(
    check: Callable[[], Awaitable[bool]], within: float, interval: float = 0.25
) -> bool:
    """True as soon as ``check()`` is; False once ``within`` seconds have passed."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


async def wait_records_terminal(
    inspector: Inspector, image_ids: Iterable[str], within: float
) -> dict[str, ImageRecord | None]:
    """Poll the table until every record is COMPLETED or FAILED (or the deadline passes)."""
    ids = list(image_ids)
    records: dict[str, ImageRecord | None] = {}

    async def all_terminal() -> bool:
        nonlocal records
        records = await inspector.records(ids)
        return all(r is not None and r.status.value in TERMINAL_STATUSES for r in records.values())

    await poll_until(all_terminal, within, interval=0.5)
    return records


async def wait_http(url: str, expect: int, within: float) -> bool:
    async with httpx.AsyncClient(timeout=5) as http:

        async def check() -> bool:
            try:
                return (await http.get(url)).status_code == expect
            except httpx.HTTPError:
                return False

        return await poll_until(check, within)


# ---------------------------------------------------------------------------
# Stacks

# Origin of the SPA in every reliability stack: CORS and the WebSocket allowlist.
ALLOWED_ORIGIN = "http://127.0.0.1:8080"
SERVICES = ("upload", "notifier", "worker")

# A killed worker's message reappears after this, and its record's lease (same length)
# lets the next worker take over; the heartbeat must be at most half of it.
RELIABILITY_ENV = {
    # One user uploads everything: limits far above the suite's load (still counted).
    "SNAPQUEUE_USER_UPLOADS_PER_MINUTE": "100000000",
    "SNAPQUEUE_USER_MAX_BYTES": str(10**15),
    "SNAPQUEUE_QUEUE_VISIBILITY_TIMEOUT_SECONDS": "10",
    "SNAPQUEUE_HEARTBEAT_INTERVAL_SECONDS": "3",
    "SNAPQUEUE_RETRY_VISIBILITY_SECONDS": "2",
    "SNAPQUEUE_STARTUP_TIMEOUT_SECONDS": "30",
    "SNAPQUEUE_SHUTDOWN_GRACE_SECONDS": "5",
    "SNAPQUEUE_SHUTDOWN_TIMEOUT_SECONDS": "5",
    "SNAPQUEUE_CORS_ORIGINS": ALLOWED_ORIGIN,
    "SNAPQUEUE_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
}


@contextlib.contextmanager
def launched(
    workdir: Path, extra_env: dict[str, str] | None = None, services: Sequence[str] = SERVICES
) -> Iterator[Stack]:
    """The emulator and ``services`` as processes; stopped (SIGTERM, then SIGKILL) after."""
    stack = Stack(workdir, {**RELIABILITY_ENV, **(extra_env or {})})
    try:
        stack.start_emulator()
        stack.start(*services, timeout=90)
        yield stack
    finally:
        stack.stop()


def tails(stack: Stack, lines: int = 15) -> str:
    """The end of every process's log, for assertion messages."""
    return "\n".join(
        f"--- {name} ---\n{process.tail(lines)}" for name, process in stack.processes.items()
    )


def pool_size(uploads: int, watchers: int = 1) -> int:
    """Enough connections that none nears the notifier's per-connection registration cap."""
    return max(4, -(-uploads * watchers // 50))
