"""A tiny HTTP server for ECS and Prometheus: ``/healthz``, ``/readyz``, ``/metrics``.

The worker has no web framework; GET of three fixed paths needs only the request line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import CONTENT_TYPE_LATEST

from .consumer import Consumer

log = logging.getLogger(__name__)

Response = tuple[int, str, bytes]
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def _json(status: int, body: dict[str, object]) -> Response:
    return status, "application/json", json.dumps(body).encode()


class HealthServer:
    def __init__(self, consumer: Consumer, liveness_timeout: float) -> None:
        self.consumer = consumer
        self.liveness_timeout = liveness_timeout
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("listening", extra={"host": host, "port": self.port})

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request_line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # headers are not needed
                status, content_type, body = await self._respond(request_line)
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass  # a client that hung up or sent garbage gets nothing
        finally:
            writer.close()

    async def _respond(self, request_line: bytes) -> Response:
        parts = request_line.decode("latin-1").split()
        if len(parts) < 2:
            return _json(405, {"error": "bad request"})
        method, path = parts[0], parts[1].split("?", 1)[0]
        routes: dict[str, Callable[[], Awaitable[Response]]] = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/metrics": self._metrics,
        }
        handler = routes.get(path)
        if handler is None:
            return _json(404, {"error": "not found"})
        if method not in ("GET", "HEAD"):
            return _json(405, {"error": "only GET"})
        return await handler()

    async def _healthz(self) -> Response:
        stalled = time.monotonic() - self.consumer.last_tick > self.liveness_timeout
        if stalled:
            return _json(503, {"status": "stalled"})
        return _json(200, {"status": "ok"})

    async def _readyz(self) -> Response:
        if not self.consumer.receiving:
            return _json(503, {"status": "not-ready", "reason": "not receiving"})
        try:
            async with asyncio.timeout(3):
                await self.consumer.sqs.get_queue_attributes(
                    QueueUrl=self.consumer.queue_url, AttributeNames=["QueueArn"]
                )
        except (ClientError, BotoCoreError, OSError, TimeoutError) as exc:
            return _json(503, {"status": "not-ready", "reason": f"queue unreachable: {exc!r}"})
        return _json(200, {"status": "ready"})

    async def _metrics(self) -> Response:
        return 200, CONTENT_TYPE_LATEST, self.consumer.ctx.metrics.render()
