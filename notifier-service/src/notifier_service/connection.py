"""One WebSocket's life: read client frames, register images, clean up when it ends.

Registration order is what makes late and racing registrations lose nothing: the routing
row is written first, then the image record is read. An event the worker publishes after
the row exists reaches this replica; one published before it is already in the record
and is sent from there. Either way the client gets it, possibly twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from snapqueue_core.schemas import NotificationEvent
from snapqueue_core.store import ConnectionRow, ConnectionStore, ImageStore
from snapqueue_core.transient import AWS_CALL_ERRORS

from .delivery import EventRenderer, Sender
from .errors import NotifierError, ServiceUnavailableError
from .metrics import Metrics
from .protocol import (
    ClientFrameError,
    RegisterImage,
    encode,
    error_frame,
    parse_client_frame,
    registered_frame,
    status_frame,
    unregistered_frame,
)
from .registry import Client, Registry
from .settings import NotifierSettings

log = logging.getLogger(__name__)

IDLE_CLOSE_REASON = "idle timeout"


@dataclass(frozen=True)
class ReplicaAddress:
    """Where publishers reach this replica: written into every routing row."""

    replica_id: str
    queue_url: str


class ConnectionHandler:
    """The ``handler`` given to ``websockets.asyncio.server.serve``."""

    def __init__(
        self,
        *,
        settings: NotifierSettings,
        address: ReplicaAddress,
        registry: Registry,
        connections: ConnectionStore,
        images: ImageStore,
        renderer: EventRenderer,
        sender: Sender,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._address = address
        self._registry = registry
        self._connections = connections
        self._images = images
        self._renderer = renderer
        self._sender = sender
        self._metrics = metrics

    async def __call__(self, socket: ServerConnection) -> None:
        client = Client(socket)
        self._registry.connect(client)
        self._metrics.open_connections.inc()
        try:
            await self._serve(client)
        finally:
            images = self._registry.disconnect(client)
            self._metrics.open_connections.dec()
            self._metrics.registrations.dec(len(images))
            await self._delete_rows(client, images)

    async def _serve(self, client: Client) -> None:
        while True:
            # Only a connection that waits for nothing can be idle; one with registrations
            # is kept alive (and checked) by the ping/pong keepalive instead.
            idle_timeout = None if client.images else self._settings.idle_timeout_seconds
            try:
                async with asyncio.timeout(idle_timeout):
                    frame = await client.socket.recv()
            except TimeoutError:
                await client.socket.close(CloseCode.NORMAL_CLOSURE, IDLE_CLOSE_REASON)
                return
            except ConnectionClosed:
                return
            try:
                await self._handle(client, frame)
            except NotifierError as exc:
                self._metrics.error_frames.labels(exc.code).inc()
                await self._sender.send(client, encode(error_frame(exc)))

    async def _handle(self, client: Client, frame: str | bytes) -> None:
        action = parse_client_frame(frame)
        if isinstance(action, RegisterImage):
            await self._register(client, action.image_id)
        else:
            await self._drop(client, action.image_id)
            await self._sender.send(client, encode(unregistered_frame(action.image_id)))

    async def _register(self, client: Client, image_id: str) -> None:
        limit = self._settings.max_registrations_per_connection
        if image_id not in client.images and len(client.images) >= limit:
            raise ClientFrameError(
                "too_many_registrations",
                f"A connection may wait for at most {limit} images; unregister some first.",
                image_id=image_id,
            )
        row = ConnectionRow(
            image_id=image_id,
            connection_id=client.connection_id,
            replica=self._address.replica_id,
            queue_url=self._address.queue_url,
        )
        # 1. The routing row, so that every event published from now on reaches us.
        try:
            await self._connections.put(row, ttl_seconds=self._settings.connection_ttl_seconds)
        except AWS_CALL_ERRORS as exc:
            log.warning("could not store registration", extra={"error": repr(exc)})
            raise ServiceUnavailableError(
                "The registration could not be recorded; try again.", image_id=image_id
            ) from exc
        if self._registry.register(client, image_id):
            self._metrics.registrations.inc()
        await self._sender.send(client, encode(registered_frame(image_id)))
        # 2. Only then the record: whatever happened before the row existed is in it.
        try:
            record = await self._images.get(image_id)
        except AWS_CALL_ERRORS as exc:
            log.warning("could not read image record", extra={"error": repr(exc)})
            raise ServiceUnavailableError(
                "Registered, but the image's current state could not be read; "
                "register again to get it.",
                image_id=image_id,
            ) from exc
        if record is None:
            await self._drop(client, image_id)
            raise ClientFrameError("unknown_image", "No image has this id.", image_id=image_id)
        self._metrics.registrations_made.inc()
        if record.status.is_terminal:
            event = NotificationEvent.terminal(record)
            try:
                text = await self._renderer.render(event)
            except AWS_CALL_ERRORS as exc:
                log.warning("could not render variant URLs", extra={"error": repr(exc)})
                raise ServiceUnavailableError(
                    "Registered, but the result could not be prepared; register again to get it.",
                    image_id=image_id,
                ) from exc
            await self._sender.send(client, text, kind=event.type)
        else:
            text = encode(status_frame(image_id, record.status))
            await self._sender.send(client, text, kind="status")

    async def _drop(self, client: Client, image_id: str) -> None:
        if self._registry.unregister(client, image_id):
            self._metrics.registrations.dec()
            await self._delete_rows(client, {image_id})

    async def _delete_rows(self, client: Client, images: set[str]) -> None:
        """Best effort: a row left behind only costs one wasted send until its TTL."""
        if not images:
            return
        ordered = sorted(images)
        results = await asyncio.gather(
            *(self._connections.delete(image_id, client.connection_id) for image_id in ordered),
            return_exceptions=True,
        )
        for image_id, result in zip(ordered, results, strict=True):
            if isinstance(result, AWS_CALL_ERRORS):
                log.warning(
                    "could not delete registration row",
                    extra={"imageId": image_id, "error": repr(result)},
                )
            elif isinstance(result, BaseException):
                raise result
