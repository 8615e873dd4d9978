"""The HTTP endpoints for ECS and Prometheus: ``/healthz``, ``/readyz``, ``/metrics``.

Served by aiohttp's web server (aiobotocore's transport, so no dependency of its own) on
the worker's event loop; every handler answers from memory except ``/readyz``, which asks
the queue. Errors keep the JSON bodies of the worker's other answers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from snapqueue_core.readiness import NotReady, probe

from .consumer import Consumer

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The queue must answer within this for /readyz (the same budget as the other services').
READY_TIMEOUT_SECONDS = 2.0
# On shutdown, how long an open request (a /readyz waiting on AWS) may hold the worker.
SHUTDOWN_TIMEOUT_SECONDS = 3.0


def _json(status: int, body: Mapping[str, object]) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json"
    )


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp answers unknown paths and methods in plain text; these stay JSON."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _json(404, {"error": "not found"})
    except web.HTTPMethodNotAllowed:
        return _json(405, {"error": "only GET"})


class HealthServer:
    def __init__(self, consumer: Consumer, liveness_timeout: float) -> None:
        self.consumer = consumer
        self.liveness_timeout = liveness_timeout
        self._runner: web.AppRunner | None = None
        self.port = 0

    def application(self) -> web.Application:
        app = web.Application(middlewares=[_json_errors])
        # add_get answers HEAD as well.
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self, host: str, port: int) -> None:
        # No access log: ECS and Prometheus poll these paths every few seconds.
        runner = web.AppRunner(
            self.application(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS
        )
        await runner.setup()
        self._runner = runner
        await web.TCPSite(runner, host, port).start()
        self.port = int(runner.addresses[0][1])
        log.info("listening", extra={"host": host, "port": self.port})

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        stalled = time.monotonic() - self.consumer.last_tick > self.liveness_timeout
        if stalled:
            return _json(503, {"status": "stalled"})
        return _json(200, {"status": "ok"})

    async def _receiving(self) -> None:
        if not self.consumer.receiving:
            raise NotReady("not receiving")

    async def _queue_answers(self) -> None:
        await self.consumer.sqs.get_queue_attributes(
            QueueUrl=self.consumer.queue_url, AttributeNames=["QueueArn"]
        )

    async def _readyz(self, request: web.Request) -> web.Response:
        # The order names the reason: a worker that is not receiving says so first.
        readiness = await probe(
            {"receiving": self._receiving, "queue": self._queue_answers},
            timeout=READY_TIMEOUT_SECONDS,
        )
        return _json(readiness.status_code, readiness.body)

    async def _metrics(self, request: web.Request) -> web.Response:
        # Set as a header: aiohttp's content_type argument does not take the charset
        # parameter that Prometheus' content type carries.
        return web.Response(
            body=self.consumer.ctx.metrics.render(),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )
