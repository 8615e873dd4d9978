"""Who a connection speaks for, and which images that person may watch.

Tokens are checked by core's :class:`~snapqueue_core.tokens.TokenVerifier` (signature,
issuer, client, lifetime, ``token_use``); this module turns its outcomes into the notifier's
error frames, handshake answers and metrics, and holds the one rule of who may register
for an image (:func:`grant_for`).
"""

from __future__ import annotations

import time
from typing import Literal
from weakref import WeakKeyDictionary

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers

from snapqueue_core.schemas import ImageRecord
from snapqueue_core.tokens import (
    InvalidTokenError,
    KeysUnavailableError,
    Principal,
    TokenExpiredError,
    TokenVerifier,
)

from .errors import NotifierError, ServiceUnavailableError
from .metrics import Metrics

# How a token reached the server: an `authenticate` frame, or the handshake's header.
Via = Literal["frame", "header"]
# Why a registration is allowed. Kept per registration, so that a later `authenticate`
# can drop exactly the registrations the new token no longer allows.
Grant = Literal["owner", "public", "admin"]

BEARER = "bearer"


class UnauthenticatedError(NotifierError):
    """The connection has no valid token for what it asked; the socket stays open."""

    def __init__(self, message: str, *, image_id: str | None = None) -> None:
        super().__init__("unauthenticated", message, image_id=image_id)


class HandshakeTokenError(Exception):
    """The handshake's ``Authorization`` header is unusable; answered with a 401."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class HandshakePrincipals:
    """Principals of handshakes that sent a valid bearer token, until their handler runs.

    Weak keys: a handshake refused after its token was checked (for its Origin, say)
    never reaches a handler, and its entry goes with its connection object.
    """

    def __init__(self) -> None:
        self._by_connection: WeakKeyDictionary[ServerConnection, Principal] = WeakKeyDictionary()

    def put(self, connection: ServerConnection, principal: Principal) -> None:
        self._by_connection[connection] = principal

    def pop(self, connection: ServerConnection) -> Principal | None:
        return self._by_connection.pop(connection, None)


def is_public(record: ImageRecord) -> bool:
    """Anyone signed in may watch this image.

    Moderation will narrow this to public *and approved* images: this is the one place
    that rule goes.
    """
    return record.visibility == "public"


def grant_for(principal: Principal, record: ImageRecord) -> Grant | None:
    """Why ``principal`` may watch ``record``'s image, or ``None`` if they may not.

    Records without an owner (written before accounts existed) match no user: only
    administrators see them. The owner comes first because it is the grant that survives
    the most (visibility changes, losing the admin group).
    """
    if record.owner_id is not None and record.owner_id == principal.user_id:
        return "owner"
    if is_public(record):
        return "public"
    if principal.is_admin:
        return "admin"
    return None


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer`` header; ``None`` without the header.

    :class:`HandshakeTokenError` if the header is there but is not a bearer token.
    """
    values = headers.get_all("Authorization")
    if not values:
        return None
    if len(values) > 1:
        raise HandshakeTokenError("unauthenticated", "Send one Authorization header.")
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != BEARER or not token:
        raise HandshakeTokenError(
            "unauthenticated", "The Authorization header must be `Bearer <access token>`."
        )
    return token


class Authenticator:
    """Verifies access tokens for connections and counts every outcome."""

    def __init__(self, verifier: TokenVerifier, metrics: Metrics, leeway_seconds: float) -> None:
        self._verifier = verifier
        self._metrics = metrics
        self._leeway = leeway_seconds

    def seconds_left(self, principal: Principal) -> float:
        """Until the verifier would refuse ``principal``'s token (its ``exp`` plus the
        leeway): the connection's token expires then, not earlier, so that a token accepted
        within the leeway is not closed the instant it is accepted."""
        return principal.expires_at + self._leeway - time.time()

    async def frame(self, token: str) -> Principal:
        """The principal of an `authenticate` frame's token; an error frame's exception if
        it is refused."""
        try:
            return await self._verify(token, "frame")
        except TokenExpiredError as exc:
            # Not `token_expired`: that code announces the 4001 close, and this socket
            # stays open for a fresh token.
            raise UnauthenticatedError(
                "The token has expired; refresh it and authenticate again."
            ) from exc
        except InvalidTokenError as exc:
            raise UnauthenticatedError("The token is not a valid access token.") from exc
        except KeysUnavailableError as exc:
            raise ServiceUnavailableError(
                "Tokens cannot be checked right now; authenticate again shortly."
            ) from exc

    async def header(self, token: str) -> Principal:
        """The principal of a handshake's bearer token.

        :class:`HandshakeTokenError` (a 401) if the token is refused;
        :class:`KeysUnavailableError` (a 503) if no token can be checked right now.
        """
        try:
            return await self._verify(token, "header")
        except TokenExpiredError as exc:
            raise HandshakeTokenError("token_expired", "The token has expired.") from exc
        except InvalidTokenError as exc:
            raise HandshakeTokenError(
                "unauthenticated", "The token is not a valid access token."
            ) from exc

    def accepted(self, via: Via) -> None:
        self._metrics.authentications.labels(via).inc()

    async def _verify(self, token: str, via: Via) -> Principal:
        try:
            principal = await self._verifier.verify(token, use="access")
        except TokenExpiredError:
            self._metrics.authentication_refusals.labels(via, "expired").inc()
            raise
        except InvalidTokenError:
            self._metrics.authentication_refusals.labels(via, "invalid").inc()
            raise
        except KeysUnavailableError:
            self._metrics.authentication_refusals.labels(via, "keys_unavailable").inc()
            raise
        if via == "frame":
            # A header's principal is counted once its connection opens (the handshake may
            # still be refused after this, for its Origin).
            self.accepted(via)
        return principal
