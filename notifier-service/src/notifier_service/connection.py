"""One WebSocket's life: authenticate, read client frames, register images, close it when
its token expires, clean up when it ends.

Registration order is what makes late and racing registrations lose nothing: the routing
row is written first, then the image record is read. An event the worker publishes after
the row exists reaches this replica; one published before it is already in the record
and is sent from there. Either way the client gets it, possibly twice.

Authorization comes before both for everyone but administrators (who may watch any
image): the record is read once to decide, so that no routing row, and so no event, exists
for an image the connection may not watch. A refusal looks exactly like a missing image.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import NoReturn

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from snapqueue_core.schemas import ImageRecord, NotificationEvent
from snapqueue_core.store import ConnectionRow, ConnectionStore, ImageStore
from snapqueue_core.tokens import Principal
from snapqueue_core.transient import AWS_CALL_ERRORS

from .auth import Authenticator, HandshakePrincipals, UnauthenticatedError, grant_for
from .delivery import EventRenderer, Sender
from .errors import NotifierError, ServiceUnavailableError
from .metrics import Metrics
from .protocol import (
    Authenticate,
    ClientFrameError,
    RegisterImage,
    authenticated_frame,
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
# An application close code (the 4000s are free for applications): the SPA refreshes its
# token and reconnects at once when it sees it.
TOKEN_EXPIRED_CLOSE_CODE = 4001
EXPIRED_CLOSE_REASON = "token expired"
AUTHENTICATE_FIRST = (
    'Authenticate first: send {"action": "authenticate", "token": "<access token>"}.'
)


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
        authenticator: Authenticator,
        handshake_principals: HandshakePrincipals,
    ) -> None:
        self._settings = settings
        self._address = address
        self._registry = registry
        self._connections = connections
        self._images = images
        self._renderer = renderer
        self._sender = sender
        self._metrics = metrics
        self._authenticator = authenticator
        self._handshake_principals = handshake_principals
        # Row deletions started by imageDeleted events, which no connection's task awaits.
        self._background: set[asyncio.Task[None]] = set()

    async def __call__(self, socket: ServerConnection) -> None:
        client = Client(socket)
        self._registry.connect(client)
        self._metrics.open_connections.inc()
        try:
            principal = self._handshake_principals.pop(socket)
            if principal is not None:
                self._authenticator.accepted("header")
                self._sign_in(client, principal)
            await self._serve(client)
        finally:
            images = self._registry.disconnect(client)
            self._metrics.open_connections.dec()
            if client.principal is not None:
                self._metrics.authenticated_connections.dec()
            self._metrics.registrations.dec(len(images))
            await self._delete_rows(client, images)

    async def _serve(self, client: Client) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if client.token_expired(now):
                await self._expire(client)
                return
            # A token's end is a hard deadline. Only a connection that waits for nothing
            # can be idle; one with registrations is kept alive (and checked) by the
            # ping/pong keepalive instead.
            deadline = client.token_deadline
            if not client.images:
                idle_at = now + self._settings.idle_timeout_seconds
                deadline = idle_at if deadline is None else min(deadline, idle_at)
            try:
                async with asyncio.timeout_at(deadline):
                    frame = await client.socket.recv()
            except TimeoutError:
                if client.token_expired(loop.time()):
                    await self._expire(client)
                else:
                    await client.socket.close(CloseCode.NORMAL_CLOSURE, IDLE_CLOSE_REASON)
                return
            except ConnectionClosed:
                return
            if client.token_expired(loop.time()):
                # The frame came in after the token's end: too late, even an authenticate.
                await self._expire(client)
                return
            try:
                await self._handle(client, frame)
            except NotifierError as exc:
                self._metrics.error_frames.labels(exc.code).inc()
                await self._sender.send(client, encode(error_frame(exc)))

    async def _expire(self, client: Client) -> None:
        """The token ended without a fresh one: say so, then close with the expiry code.

        Both steps are bounded (the send by the send timeout, the close by the close
        timeout) and run in this connection's own task, so nobody else waits for them.
        """
        self._metrics.tokens_expired.inc()
        self._metrics.error_frames.labels("token_expired").inc()
        error = NotifierError(
            "token_expired",
            "The token has expired; connect again and authenticate with a fresh one.",
        )
        await self._sender.send(client, encode(error_frame(error)))
        await client.socket.close(TOKEN_EXPIRED_CLOSE_CODE, EXPIRED_CLOSE_REASON)

    async def _handle(self, client: Client, frame: str | bytes) -> None:
        action = parse_client_frame(frame)
        if isinstance(action, Authenticate):
            await self._authenticate(client, action.token)
            return
        principal = client.principal
        if principal is None:
            raise UnauthenticatedError(AUTHENTICATE_FIRST, image_id=action.image_id)
        if isinstance(action, RegisterImage):
            await self._register(client, principal, action.image_id)
        else:
            await self._drop(client, action.image_id)
            await self._sender.send(client, encode(unregistered_frame(action.image_id)))

    # ------------------------------------------------------------------ authentication

    def _sign_in(self, client: Client, principal: Principal) -> None:
        if client.principal is None:
            self._metrics.authenticated_connections.inc()
        client.principal = principal
        seconds_left = self._authenticator.seconds_left(principal)
        client.token_deadline = asyncio.get_running_loop().time() + seconds_left

    async def _authenticate(self, client: Client, token: str) -> None:
        """Replace the connection's token; a refused one leaves the previous one in place."""
        principal = await self._authenticator.frame(token)
        previous = client.principal
        self._sign_in(client, principal)
        if previous is not None:
            await self._drop_lost_grants(client, previous, principal)
        await self._sender.send(client, encode(authenticated_frame(principal.user_id)))

    async def _drop_lost_grants(
        self, client: Client, previous: Principal, principal: Principal
    ) -> None:
        """Undo the registrations the new token does not allow, each with `unregistered`.

        Another user starts from nothing: every registration was made for someone else.
        The same user keeps everything but what only the admin group allowed, if the new
        token is no longer in it.
        """
        if previous.user_id != principal.user_id:
            lost = set(client.images)
        elif not principal.is_admin:
            lost = set(client.admin_grants)
        else:
            return
        if not lost:
            return
        for image_id in lost:
            self._registry.unregister(client, image_id)
        self._metrics.registrations.dec(len(lost))
        await self._delete_rows(client, lost)
        for image_id in sorted(lost):
            await self._sender.send(client, encode(unregistered_frame(image_id)))

    # ------------------------------------------------------------------ registration

    async def _register(self, client: Client, principal: Principal, image_id: str) -> None:
        limit = self._settings.max_registrations_per_connection
        if image_id not in client.images and len(client.images) >= limit:
            raise ClientFrameError(
                "too_many_registrations",
                f"A connection may wait for at most {limit} images; unregister some first.",
                image_id=image_id,
            )
        if not principal.is_admin:
            # 0. Allowed at all? Before the row exists, no event for the image reaches us.
            found = await self._read(image_id, "The image could not be looked up; try again.")
            if found is None or grant_for(principal, found) is None:
                await self._refuse(client, image_id, found)
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
        record = await self._read(
            image_id,
            "Registered, but the image's current state could not be read; "
            "register again to get it.",
        )
        # Deleted, or made private, since step 0: the same answer as if never allowed.
        grant = None if record is None else grant_for(principal, record)
        if record is None or grant is None:
            await self._drop(client, image_id)
            raise self._unknown_image(image_id, record)
        if grant == "admin":
            client.admin_grants.add(image_id)
        else:
            client.admin_grants.discard(image_id)
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

    async def _read(self, image_id: str, unavailable: str) -> ImageRecord | None:
        try:
            return await self._images.get(image_id)
        except AWS_CALL_ERRORS as exc:
            log.warning("could not read image record", extra={"error": repr(exc)})
            raise ServiceUnavailableError(unavailable, image_id=image_id) from exc

    async def _refuse(self, client: Client, image_id: str, record: ImageRecord | None) -> NoReturn:
        """Answer a registration that is not allowed exactly as a missing image's is: the
        acknowledgement, then `unknown_image`, so that the answer says nothing about
        whether the image exists. A registration held from before (when it was allowed)
        is undone too."""
        await self._drop(client, image_id)
        await self._sender.send(client, encode(registered_frame(image_id)))
        raise self._unknown_image(image_id, record)

    def _unknown_image(self, image_id: str, record: ImageRecord | None) -> ClientFrameError:
        self._metrics.registrations_refused.labels(
            "missing" if record is None else "not_allowed"
        ).inc()
        return ClientFrameError("unknown_image", "No image has this id.", image_id=image_id)

    def forget_deleted(self, image_id: str, clients: list[Client]) -> None:
        """An imageDeleted event went out to ``clients``: drop their registrations for it.

        Called by the dispatcher, which must not wait for DynamoDB: the rows are deleted
        in the background.
        """
        dropped = [client for client in clients if self._registry.unregister(client, image_id)]
        if not dropped:
            return
        self._metrics.registrations.dec(len(dropped))
        task = asyncio.create_task(self._delete_image_rows(image_id, dropped))
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("deleting a deleted image's rows failed", exc_info=task.exception())

    async def aclose(self) -> None:
        """Wait for the row deletions in flight (each bounded by the AWS timeouts)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _delete_image_rows(self, image_id: str, clients: list[Client]) -> None:
        results = await asyncio.gather(
            *(self._connections.delete(image_id, client.connection_id) for client in clients),
            return_exceptions=True,
        )
        self._log_row_deletes([(image_id, result) for result in results])

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
        self._log_row_deletes(list(zip(ordered, results, strict=True)))

    @staticmethod
    def _log_row_deletes(results: list[tuple[str, object]]) -> None:
        for image_id, result in results:
            if isinstance(result, AWS_CALL_ERRORS):
                log.warning(
                    "could not delete registration row",
                    extra={"imageId": image_id, "error": repr(result)},
                )
            elif isinstance(result, BaseException):
                raise result
