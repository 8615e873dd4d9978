"""From this replica's queue to the sockets: render each event once, write it to every local
connection registered for its image, and never let one socket hold up another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed

from snapqueue_core.aws import SQSClient
from snapqueue_core.batch_delete import DeleteBatcher
from snapqueue_core.logs import bind_image_id
from snapqueue_core.schemas import NotificationEvent, utcnow
from snapqueue_core.transient import AWS_CALL_ERRORS, error_code
from snapqueue_core.urls import VariantUrls

from .metrics import Metrics
from .protocol import encode, event_frame
from .registry import Client, Registry

log = logging.getLogger(__name__)

# After a failed receive: long enough not to spin, short enough to recover quickly.
RECEIVE_RETRY_SECONDS = 1.0


def latency_seconds(emitted_at: str, now: datetime) -> float | None:
    """Seconds between an event's ``emittedAt`` and ``now``; ``None`` if unreadable."""
    try:
        emitted = datetime.fromisoformat(emitted_at)
    except ValueError:
        return None
    if emitted.tzinfo is None:
        return None
    return max(0.0, (now - emitted).total_seconds())


class EventRenderer:
    """Internal events → the JSON text browsers get (variants with URLs, as GET /image)."""

    def __init__(self, urls: VariantUrls) -> None:
        self._urls = urls

    async def render(self, event: NotificationEvent) -> str:
        variants: dict[str, dict[str, Any]] | None = None
        if event.variants is not None:
            variants = await self._urls.render(event.variants)
        return encode(event_frame(event, variants))


class Sender:
    """Writes frames with a deadline; a client that misses it is disconnected.

    A frame is small, so a socket that cannot take one within ``send_timeout`` has a full
    write buffer: the peer stopped reading or vanished. Dropping it is safe because a client
    that reconnects and registers again is sent the current state of each image.
    """

    def __init__(self, send_timeout: float, metrics: Metrics) -> None:
        self._timeout = send_timeout
        self._metrics = metrics
        self._pending: set[asyncio.Task[bool]] = set()

    async def send(self, client: Client, text: str, *, kind: str | None = None) -> bool:
        """Write ``text`` to ``client``; ``False`` if it is gone or was too slow."""
        try:
            async with asyncio.timeout(self._timeout):
                await client.socket.send(text)
        except TimeoutError:
            self._metrics.slow_clients.inc()
            log.warning(
                "client too slow, disconnecting",
                extra={"connectionId": client.connection_id, "timeout": self._timeout},
            )
            client.socket.transport.abort()
            return False
        except ConnectionClosed:
            return False
        if kind is not None:
            self._metrics.events_delivered.labels(kind).inc()
        return True

    def send_soon(self, client: Client, text: str, *, kind: str | None = None) -> None:
        """Start :meth:`send` without waiting for it.

        The frame reaches the socket's buffer in the task's first step, before any other
        task runs, so frames for one client keep the order in which they were scheduled.
        """
        task = asyncio.create_task(self.send(client, text, kind=kind))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait for the sends in flight (each is bounded by the send timeout)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def aclose(self) -> None:
        for task in self._pending:
            task.cancel()
        await self.flush()


# Told which connections an imageDeleted event went to, so that it drops their registrations.
OnDeleted = Callable[[str, list[Client]], None]


def is_deliverable(event: NotificationEvent) -> bool:
    """Whether browsers can be shown ``event``: every kind but a deletion has a status."""
    return event.type == "imageDeleted" or event.status is not None


class EventDispatcher:
    """Delivers one event to the local connections waiting for its image."""

    def __init__(
        self,
        registry: Registry,
        renderer: EventRenderer,
        sender: Sender,
        metrics: Metrics,
        *,
        on_deleted: OnDeleted | None = None,
    ) -> None:
        self._registry = registry
        self._renderer = renderer
        self._sender = sender
        self._metrics = metrics
        self._on_deleted = on_deleted

    async def dispatch(self, event: NotificationEvent) -> int:
        """Hand the event's frame to every waiting socket; return how many."""
        self._metrics.events_received.labels(event.type).inc()
        now = asyncio.get_running_loop().time()
        # A connection whose token ran out is being closed by its own task: it gets
        # nothing more, even in the moment before its close.
        targets = [
            client
            for client in self._registry.clients_for(event.image_id)
            if not client.token_expired(now)
        ]
        if not targets:
            # The client left (or moved) between the publisher's lookup and now.
            return 0
        text = await self._renderer.render(event)
        for client in targets:
            self._sender.send_soon(client, text, kind=event.type)
        if event.type == "imageDeleted" and self._on_deleted is not None:
            # After the sends are scheduled: the frame goes out, then the registration goes.
            self._on_deleted(event.image_id, targets)
        latency = latency_seconds(event.emitted_at, utcnow())
        if latency is not None:
            self._metrics.delivery_latency.observe(latency)
        return len(targets)


class QueueConsumer:
    """Long-polls this replica's own queue and dispatches what arrives.

    Delivered messages are deleted in batches, in the background: the next receive does
    not wait for a delete, and under load one request deletes several events.
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        dispatcher: EventDispatcher,
        metrics: Metrics,
        *,
        wait_seconds: int,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._wait_seconds = wait_seconds
        self.deletes = DeleteBatcher(sqs, queue_url)

    async def run(self) -> None:
        while True:
            try:
                response = await self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=self._wait_seconds,
                )
            except AWS_CALL_ERRORS as exc:
                log.warning(
                    "receive from the replica queue failed",
                    extra={"code": error_code(exc), "error": repr(exc)},
                )
                await asyncio.sleep(RECEIVE_RETRY_SECONDS)
                continue
            for message in response.get("Messages", []):
                if await self._handle(message["Body"]):
                    self.deletes.add(message["ReceiptHandle"])

    async def aclose(self) -> None:
        """Send the deletes still waiting (after :meth:`run` was cancelled)."""
        await self.deletes.close()

    async def _handle(self, body: str) -> bool:
        """Dispatch one message; ``False`` leaves it on the queue for another try."""
        try:
            event = NotificationEvent.model_validate_json(body)
        except ValidationError as exc:
            # Retrying cannot make it readable: count it and drop it.
            self._metrics.events_received.labels("malformed").inc()
            log.warning("unreadable notification dropped", extra={"error": str(exc)[:500]})
            return True
        if not is_deliverable(event):
            self._metrics.events_received.labels("malformed").inc()
            log.warning(
                "notification without a status dropped",
                extra={"imageId": event.image_id, "type": event.type},
            )
            return True
        with bind_image_id(event.image_id):
            try:
                await self._dispatcher.dispatch(event)
            except AWS_CALL_ERRORS as exc:
                # Rendering presigns variant URLs; a transient failure is retried by SQS.
                log.warning("could not render event", extra={"error": repr(exc)})
                return False
        return True
