"""The notifier replica: its clients, its queue, its WebSocket server, and its shutdown.

:class:`Notifier` owns everything (the AWS clients, the HTTP client that fetches the user
pool's signing keys) through one ``AsyncExitStack``; ``run`` serves until the
``stop`` event is set, then shuts down in the order that lets browsers move on at once:
stop accepting, close every socket with 1001 (each handler deletes its routing rows on the
way out), stop consuming, heartbeating and sweeping, delete the replica's queue.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

import httpx
from aiobotocore.session import AioSession
from websockets.asyncio.server import Server, serve
from websockets.typing import Origin

from snapqueue_core.aws import AwsClients, count_requests, open_clients
from snapqueue_core.store import ConnectionStore, ImageStore
from snapqueue_core.tokens import KeysUnavailableError, TokenVerifier
from snapqueue_core.transient import AWS_CALL_ERRORS
from snapqueue_core.urls import VariantUrls

from .auth import Authenticator, HandshakePrincipals
from .aws_resources import (
    ReadinessProbe,
    create_replica_queue,
    delete_replica_queue,
    wait_for_tables,
)
from .connection import ConnectionHandler, ReplicaAddress
from .delivery import EventDispatcher, EventRenderer, QueueConsumer, Sender
from .metrics import Metrics
from .registry import Registry
from .routes import HttpRoutes
from .settings import NotifierSettings
from .sweeper import Heartbeat, QueueSweeper

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, settings: NotifierSettings, session: AioSession | None = None) -> None:
        self.settings = settings
        # A shared botocore session saves parsing the service models again (tests start
        # many replicas in one process); a service process lets open_clients make its own.
        self._session = session
        self.metrics = Metrics()
        self.registry = Registry()
        self.ready = asyncio.Event()
        self.port: int | None = None
        self.queue_url: str | None = None
        self.consumer: QueueConsumer | None = None
        self._draining = False

    @property
    def draining(self) -> bool:
        return self._draining

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set (or the task is cancelled), then shut down cleanly."""
        settings = self.settings
        async with AsyncExitStack() as stack:
            clients = await open_clients(stack, settings, self._session)
            count_requests(clients, self.metrics.count_aws_request)
            # Only for the user pool's signing keys: one client, one connection pool.
            http = await stack.enter_async_context(httpx.AsyncClient())
            verifier = TokenVerifier(settings, http)
            await wait_for_tables(clients, settings)
            await self._warm_up(verifier)
            queue_url = await create_replica_queue(clients.sqs, settings)
            self.queue_url = queue_url
            try:
                await self._serve(clients, verifier, queue_url, stop)
            finally:
                await self._delete_queue(clients, queue_url)

    async def _warm_up(self, verifier: TokenVerifier) -> None:
        """Fetch the signing keys before the first client needs them. Not required: the
        verifier fetches them on demand, so a pool that does not answer yet only delays
        authentication (those clients are told to try again), not the replica's start."""
        try:
            await verifier.refresh_keys()
        except KeysUnavailableError as exc:
            log.warning(
                "signing keys not fetched at start; fetching on first use",
                extra={"error": str(exc)},
            )

    async def _delete_queue(self, clients: AwsClients, queue_url: str) -> None:
        try:
            await delete_replica_queue(clients.sqs, queue_url)
        except AWS_CALL_ERRORS as exc:
            # SQS queues never expire by themselves: say loudly which one is left behind.
            log.error(
                "could not delete the replica queue; delete it by hand",
                extra={"queueUrl": queue_url, "error": repr(exc)},
            )
            return
        log.info("replica queue deleted", extra={"queueUrl": queue_url})

    async def _serve(
        self,
        clients: AwsClients,
        verifier: TokenVerifier,
        queue_url: str,
        stop: asyncio.Event,
    ) -> None:
        settings = self.settings
        renderer = EventRenderer(VariantUrls(clients.s3_presign, settings))
        sender = Sender(settings.send_timeout_seconds, self.metrics)
        authenticator = Authenticator(verifier, self.metrics, settings.auth_leeway_seconds)
        principals = HandshakePrincipals()
        handler = ConnectionHandler(
            settings=settings,
            address=ReplicaAddress(settings.replica_id, queue_url),
            registry=self.registry,
            connections=ConnectionStore(clients.dynamodb, settings),
            images=ImageStore(clients.dynamodb, settings),
            renderer=renderer,
            sender=sender,
            metrics=self.metrics,
            authenticator=authenticator,
            handshake_principals=principals,
        )
        routes = HttpRoutes(
            registry=self.registry,
            metrics=self.metrics,
            max_connections=settings.max_connections,
            readiness=ReadinessProbe(clients, settings, queue_url).check,
            draining=lambda: self._draining,
            authenticator=authenticator,
            principals=principals,
        )
        consumer = QueueConsumer(
            clients.sqs,
            queue_url,
            EventDispatcher(
                self.registry, renderer, sender, self.metrics, on_deleted=handler.forget_deleted
            ),
            self.metrics,
            wait_seconds=settings.notify_wait_seconds,
        )
        self.consumer = consumer
        origins: list[Origin | None] = [Origin(origin) for origin in settings.origins]
        if settings.allow_missing_origin:
            # Browsers always send Origin; only non-browser clients omit it, and Origin
            # checks exist to protect browsers, so allowing its absence opens nothing.
            origins.append(None)
        ws_logger = logging.getLogger("notifier_service.websockets")
        # websockets logs every handshake, health checks included, at INFO.
        ws_logger.setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
        server = await serve(
            handler,
            settings.http_host,
            settings.http_port,
            process_request=routes.process_request,
            process_response=routes.process_response,
            origins=origins,
            max_size=settings.max_message_bytes,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            close_timeout=settings.close_timeout_seconds,
            compression="deflate" if settings.compression else None,
            logger=ws_logger,
        )
        self.port = server.sockets[0].getsockname()[1]
        log.info(
            "listening",
            extra={
                "host": settings.http_host,
                "port": self.port,
                "replica": settings.replica_id,
                "queueUrl": queue_url,
            },
        )
        # None of these ends by itself (each logs and retries what AWS refuses).
        background = [
            asyncio.create_task(consumer.run(), name="replica-queue-consumer"),
            asyncio.create_task(
                Heartbeat(clients.sqs, queue_url, settings).run(), name="replica-queue-heartbeat"
            ),
            asyncio.create_task(
                QueueSweeper(clients.sqs, settings, self.metrics).run(), name="dead-queue-sweeper"
            ),
        ]
        stop_task = asyncio.create_task(stop.wait(), name="stop-signal")
        self.ready.set()
        try:
            await asyncio.wait({*background, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_task.cancel()
            await self._close_server(server)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await consumer.aclose()
            await sender.aclose()
            await handler.aclose()
        if not stop.is_set():
            # A background task ended by itself: that is a bug, not a shutdown. Surface it.
            for task in background:
                if task.done() and not task.cancelled():
                    task.result()

    async def _close_server(self, server: Server) -> None:
        settings = self.settings
        self._draining = True
        log.info("shutting down", extra={"connections": self.registry.connection_count})
        if settings.shutdown_drain_seconds:
            # /readyz answers 503 meanwhile, so a load balancer stops sending new clients.
            await asyncio.sleep(settings.shutdown_drain_seconds)
        # Stops accepting and closes every socket with 1001 (going away): browsers
        # reconnect, land on another replica and register again.
        server.close()
        try:
            async with asyncio.timeout(settings.shutdown_timeout_seconds):
                await server.wait_closed()
        except TimeoutError:
            log.warning("sockets still open at shutdown timeout; cancelling their handlers")
            for task in list(server.handler_tasks):
                task.cancel()
            await server.wait_closed()
        log.info("all sockets closed")
