"""Plain HTTP on the WebSocket port: health, readiness, metrics, and handshake admission
(capacity, shutdown, and the bearer token of clients that send one).

``websockets`` calls :meth:`HttpRoutes.process_request` before every opening handshake;
returning a response answers the request over HTTP instead of upgrading it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from urllib.parse import urlsplit

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from snapqueue_core.readiness import Readiness
from snapqueue_core.tokens import KeysUnavailableError

from .auth import Authenticator, HandshakePrincipals, HandshakeTokenError, bearer_token
from .metrics import Metrics
from .registry import Registry

WS_PATH = "/ws"
# How long a client refused for capacity or shutdown should wait before trying again.
RETRY_AFTER_SECONDS = 2


def json_response(
    connection: ServerConnection, status: HTTPStatus, payload: dict[str, str]
) -> Response:
    response = connection.respond(status, json.dumps(payload) + "\n")
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


class HttpRoutes:
    def __init__(
        self,
        *,
        registry: Registry,
        metrics: Metrics,
        max_connections: int,
        readiness: Callable[[], Awaitable[Readiness]],
        draining: Callable[[], bool],
        authenticator: Authenticator,
        principals: HandshakePrincipals,
    ) -> None:
        self._registry = registry
        self._metrics = metrics
        self._max_connections = max_connections
        self._readiness = readiness
        self._draining = draining
        self._authenticator = authenticator
        self._principals = principals

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/healthz":
            return json_response(connection, HTTPStatus.OK, {"status": "ok"})
        if path == "/readyz":
            return await self._ready(connection)
        if path == "/metrics":
            response = connection.respond(HTTPStatus.OK, self._metrics.render().decode())
            del response.headers["Content-Type"]
            # generate_latest writes the 0.0.4 text format, whatever CONTENT_TYPE_LATEST says.
            response.headers["Content-Type"] = CONTENT_TYPE_PLAIN_0_0_4
            return response
        if path != WS_PATH:
            self._metrics.rejected_handshakes.labels("not_found").inc()
            return json_response(connection, HTTPStatus.NOT_FOUND, {"error": "not_found"})
        if self._draining():
            return self._unavailable(connection, "shutting_down")
        # Handshakes in flight at the same instant are not counted yet, so the cap may be
        # overshot by that many; it exists to bound memory, which that does not threaten.
        if self._registry.connection_count >= self._max_connections:
            return self._unavailable(connection, "too_many_connections")
        return await self._authenticate(connection, request)

    async def _authenticate(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Non-browser clients may authenticate with the handshake (browsers cannot send
        headers with a WebSocket): a bad token is refused here, with a 401, before any
        frame; no header at all leaves authentication to the first frame."""
        try:
            token = bearer_token(request.headers)
            if token is None:
                # None: go on with the handshake (the Origin check comes next, in websockets).
                return None
        except HandshakeTokenError as exc:
            self._metrics.authentication_refusals.labels("header", "invalid").inc()
            return self._unauthorized(connection, exc)
        try:
            principal = await self._authenticator.header(token)
        except HandshakeTokenError as exc:
            return self._unauthorized(connection, exc)
        except KeysUnavailableError:
            return self._unavailable(connection, "auth_unavailable")
        self._principals.put(connection, principal)
        return None

    def process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        """Count handshakes to ``/ws`` that websockets itself refused (origin, headers)."""
        if urlsplit(request.path).path != WS_PATH:
            return
        if response.status_code == HTTPStatus.FORBIDDEN:
            self._metrics.rejected_handshakes.labels("origin").inc()
        elif response.status_code not in (
            HTTPStatus.SWITCHING_PROTOCOLS,
            HTTPStatus.SERVICE_UNAVAILABLE,
            # Counted by process_request, which refused it.
            HTTPStatus.UNAUTHORIZED,
        ):
            self._metrics.rejected_handshakes.labels("bad_request").inc()

    async def _ready(self, connection: ServerConnection) -> Response:
        if self._draining():
            # No AWS call: whatever it answers, this replica is leaving.
            readiness = Readiness.not_ready("shutting down")
        else:
            readiness = await self._readiness()
        return json_response(connection, HTTPStatus(readiness.status_code), readiness.body)

    def _unauthorized(self, connection: ServerConnection, error: HandshakeTokenError) -> Response:
        self._metrics.rejected_handshakes.labels("unauthenticated").inc()
        response = json_response(
            connection,
            HTTPStatus.UNAUTHORIZED,
            {"error": error.code, "message": error.message},
        )
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    def _unavailable(self, connection: ServerConnection, reason: str) -> Response:
        self._metrics.rejected_handshakes.labels(reason).inc()
        response = json_response(connection, HTTPStatus.SERVICE_UNAVAILABLE, {"error": reason})
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
