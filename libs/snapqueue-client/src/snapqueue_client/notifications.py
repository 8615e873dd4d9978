"""One WebSocket to the notifier, shared by every wait of a client (docs/websocket.md).

Each wait subscribes to one image and reads its own queue of frames; the socket is opened on
the first subscription and reopened by the next one after it dropped. Frames of types this
client does not know are ignored, as the contract asks.

Signed in, the access token goes both ways the contract allows: as ``Authorization: Bearer``
on the handshake (for servers that check it there) and as the first frame,
``{"action": "authenticate", "token": ...}`` (for servers that wait for it), so either server
accepts the socket. A refreshed token is sent again as an ``authenticate`` frame; a socket
closed for an expired token (4001) is reopened with a fresh one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import websockets
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from snapqueue_client.models import ImageEvent

_log = logging.getLogger(__name__)
EVENT_TYPES = frozenset({"status", "imageProcessed", "imageFailed"})
# After a failed connect, waits go straight to polling for this long instead of each paying
# the connect timeout again (a CLI uploading 100 files against a notifier that is down).
RECONNECT_HOLD_SECONDS = 5.0
# The notifier's close code for a token that expired while the socket was open.
TOKEN_EXPIRED_CLOSE = 4001

# Called for the access token to present; given the token the server just refused (or
# ``None``), it returns a fresh one. ``None`` means not signed in.
TokenSource = Callable[[str | None], Awaitable[str | None]]


async def _anonymous(_rejected: str | None) -> None:
    return None


class NotifierUnavailable(Exception):
    """The socket could not be opened (refused, handshake 403/503, timeout)."""


@dataclass(frozen=True)
class Signal:
    """Something other than an event reached a subscription."""

    kind: Literal["registered", "error", "dropped", "deleted"]
    code: str = ""
    message: str = ""


Item = ImageEvent | Signal
DROPPED = Signal("dropped")


class Notifier:
    def __init__(
        self,
        url: str,
        *,
        open_timeout: float,
        headers: Mapping[str, str],
        token_source: TokenSource = _anonymous,
    ) -> None:
        self.url = url
        self.open_timeout = open_timeout
        self.headers = dict(headers)
        self.token_source = token_source
        self.connects = 0
        self._connection: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._queues: dict[str, set[asyncio.Queue[Item]]] = defaultdict(set)
        self._hold_until = 0.0
        # The token the open socket was authenticated with, and one the server refused.
        self._token: str | None = None
        self._rejected: str | None = None

    async def subscribe(self, image_id: str) -> Subscription:
        """Register ``image_id``; its frames go to the returned subscription from now on."""
        connection = await self._connect()
        queue: asyncio.Queue[Item] = asyncio.Queue()
        self._queues[image_id].add(queue)
        subscription = Subscription(self, image_id, queue)
        try:
            await connection.send(_frame("registerImage", image_id))
        except ConnectionClosed as exc:
            await subscription.close()
            raise NotifierUnavailable(f"the notifier closed the socket: {exc}") from exc
        return subscription

    async def _connect(self) -> ClientConnection:
        async with self._lock:
            if self._connection is not None:
                return self._connection
            if time.monotonic() < self._hold_until:
                raise NotifierUnavailable(f"{self.url} was unreachable moments ago")
            token = await self.token_source(self._rejected)
            self._rejected = None
            try:
                connection = await self._open(token)
            except InvalidStatus as exc:
                if exc.response.status_code != 401 or token is None:
                    self._hold_off()
                    raise NotifierUnavailable(f"cannot open {self.url}: {exc}") from exc
                # The handshake refused the token (expired in between): once more, fresh.
                token = await self.token_source(token)
                try:
                    connection = await self._open(token)
                except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as again:
                    self._hold_off()
                    raise NotifierUnavailable(f"cannot open {self.url}: {again}") from again
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                self._hold_off()
                raise NotifierUnavailable(f"cannot open {self.url}: {exc}") from exc
            self.connects += 1
            self._connection = connection
            self._token = token
            self._reader = asyncio.create_task(self._read(connection), name="snapqueue-ws")
            return connection

    def _hold_off(self) -> None:
        self._hold_until = time.monotonic() + RECONNECT_HOLD_SECONDS

    async def _open(self, token: str | None) -> ClientConnection:
        headers = dict(self.headers)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        connection = await websockets.connect(
            self.url, additional_headers=headers, open_timeout=self.open_timeout, close_timeout=2
        )
        if token is not None:
            try:
                # Frames are handled in order, so every registration after this is
                # authenticated; a server that took the header answers it the same way.
                await connection.send(_authenticate(token))
            except ConnectionClosed:
                await connection.close()
                raise
        return connection

    async def reauthenticate(self, token: str) -> None:
        """Present a refreshed token on the open socket, before the old one expires."""
        connection = self._connection
        if connection is None or token == self._token:
            return
        try:
            await connection.send(_authenticate(token))
        except ConnectionClosed:
            return  # the reader sees the close; the next subscription reconnects
        self._token = token

    async def _read(self, connection: ClientConnection) -> None:
        try:
            async for message in connection:
                self._dispatch(message)
        except ConnectionClosed as exc:
            # An abnormal close (1006, 1011) ends the socket like a clean one: every wait is
            # told below and subscribes again (or polls).
            _log.debug("notifier socket closed: %s", exc)
        finally:
            close = connection.close_code
            if close == TOKEN_EXPIRED_CLOSE:
                # The next connect must not present the same token again.
                self._rejected = self._token
            if self._connection is connection:
                self._connection = None
            for queues in self._queues.values():
                for queue in queues:
                    queue.put_nowait(DROPPED)

    def _dispatch(self, message: str | bytes) -> None:
        try:
            data = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            return
        if not isinstance(data, dict) or not isinstance(data.get("imageId"), str):
            return
        queues = self._queues.get(data["imageId"])
        if not queues:
            return
        kind = data.get("type")
        item: Item
        if kind in EVENT_TYPES:
            try:
                item = ImageEvent.model_validate(data)
            except ValidationError:
                return
        elif kind == "registered":
            item = Signal("registered")
        elif kind == "imageDeleted":
            item = Signal("deleted")
        elif kind == "error":
            item = Signal("error", str(data.get("code", "")), str(data.get("message", "")))
        else:
            return
        for queue in queues:
            queue.put_nowait(item)

    async def release(self, image_id: str, queue: asyncio.Queue[Item]) -> None:
        queues = self._queues.get(image_id)
        if queues is None:
            return
        queues.discard(queue)
        if queues:
            return
        del self._queues[image_id]
        connection = self._connection
        if connection is not None:
            try:
                await connection.send(_frame("unregisterImage", image_id))
            except ConnectionClosed:
                # Nothing to free: the server drops a closed socket's registrations itself.
                self._connection = None

    async def close(self) -> None:
        connection, reader = self._connection, self._reader
        self._connection = self._reader = None
        if connection is not None:
            await connection.close()
        if reader is not None:
            await reader


class Subscription:
    """The frames about one image, in arrival order (duplicates included)."""

    def __init__(self, notifier: Notifier, image_id: str, queue: asyncio.Queue[Item]) -> None:
        self.notifier = notifier
        self.image_id = image_id
        self.queue = queue
        self.closed = False

    async def next(self, within: float) -> Item:
        """The next frame; ``TimeoutError`` if none arrives ``within`` seconds."""
        async with asyncio.timeout(within):
            return await self.queue.get()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.notifier.release(self.image_id, self.queue)


def _frame(action: str, image_id: str) -> str:
    return json.dumps({"action": action, "imageId": image_id})


def _authenticate(token: str) -> str:
    return json.dumps({"action": "authenticate", "token": token})
