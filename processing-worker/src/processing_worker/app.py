"""Wires the worker together: clients, thread pool, consumer and health server."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from types import TracebackType

from snapqueue_core.aws import AwsClients, SQSClient, count_requests, open_clients
from snapqueue_core.publisher import NotificationPublisher
from snapqueue_core.store import ConnectionStore, ImageStore
from snapqueue_core.transient import AWS_CALL_ERRORS
from snapqueue_core.waiting import StartupTimeout, wait_until

from . import decode, resample
from .consumer import Consumer
from .health import HealthServer
from .job import JobContext
from .metrics import WorkerMetrics
from .settings import WorkerSettings

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    pass


async def wait_for_queue(sqs: SQSClient, name: str, wait_seconds: float) -> str:
    """The queue's URL, waiting for the bootstrap to create it (``make run`` races it)."""

    async def queue_url() -> str:
        response = await sqs.get_queue_url(QueueName=name)
        return str(response["QueueUrl"])

    try:
        return await wait_until(queue_url, timeout=wait_seconds, what=f"queue {name}")
    except StartupTimeout as exc:
        raise StartupError(str(exc)) from exc
    except AWS_CALL_ERRORS as exc:
        # Not a "not yet" (access denied, a bad parameter): waiting longer cannot mend it.
        raise StartupError(f"queue {name} not reachable: {exc!r}") from exc


class WorkerApp:
    """``async with WorkerApp(settings) as app: await app.run(stop)``."""

    def __init__(self, settings: WorkerSettings, clients: AwsClients | None = None) -> None:
        self.settings = settings
        self._clients = clients
        self._stack = AsyncExitStack()
        self.metrics = WorkerMetrics()
        self.metrics.set_capacity(settings.concurrency, settings.jobs_in_flight)
        self.consumer: Consumer | None = None
        self.health: HealthServer | None = None

    @property
    def port(self) -> int:
        return self.health.port if self.health else 0

    async def __aenter__(self) -> WorkerApp:
        settings = self.settings
        decode.configure(settings)
        # Compile (or load from numba's cache) the resize kernels now, not in the first job.
        seconds = await asyncio.to_thread(resample.warm_up)
        log.info("resize kernels ready", extra={"seconds": round(seconds, 2)})
        started = False
        try:
            clients = self._clients or await open_clients(self._stack, settings)
            if self._clients is None:  # clients passed in are the caller's to instrument
                count_requests(clients, self.metrics.count_aws_request)
            queue_url = await wait_for_queue(
                clients.sqs, settings.upload_queue, settings.startup_timeout_seconds
            )
            executor = ThreadPoolExecutor(
                max_workers=settings.concurrency, thread_name_prefix="pillow"
            )
            # Threads still running a cancelled job's Pillow work are not waited for.
            self._stack.callback(executor.shutdown, wait=False, cancel_futures=True)
            ctx = JobContext(
                settings=settings,
                clients=clients,
                store=ImageStore(clients.dynamodb, settings),
                publisher=NotificationPublisher(
                    clients.sqs, ConnectionStore(clients.dynamodb, settings)
                ),
                executor=executor,
                metrics=self.metrics,
            )
            self.consumer = Consumer(ctx, queue_url)
            self.health = HealthServer(self.consumer, settings.liveness_timeout_seconds)
            await self.health.start(settings.http_host, settings.http_port)
            self._stack.push_async_callback(self.health.close)
            started = True
        finally:
            if not started:  # startup did not get through: undo what it opened
                await self._stack.aclose()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        if self.consumer is None:
            raise RuntimeError("WorkerApp.run outside its context")
        log.info(
            "worker started",
            extra={
                "concurrency": self.settings.concurrency,
                "jobsInFlight": self.settings.jobs_in_flight,
            },
        )
        await self.consumer.run(stop)
        log.info("worker stopped", extra={"deleteRequests": self.consumer.deletes.requests})
