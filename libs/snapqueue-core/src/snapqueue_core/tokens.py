"""Checking the user pool's JSON Web Tokens: signature, issuer, lifetime, audience, use.

:class:`TokenVerifier` fetches the pool's public keys (its JWKS) with the HTTP client it is
given, keeps them, and fetches them again when a token names a key it does not know (the
pool rotated its keys), at most once per ``auth_jwks_min_refetch_seconds`` however many such
tokens arrive: a flood of tokens with made-up key ids cannot turn into a flood of requests to
the pool. Concurrent verifications that need the keys share one request.

A token that is not acceptable, for whatever reason, raises :class:`InvalidTokenError` (or its
subclass :class:`TokenExpiredError`) and nothing else; keys that cannot be fetched raise
:class:`KeysUnavailableError`, which is the server's problem, not the caller's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from joserfc import jws
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import Key, KeySet
from joserfc.jwt import JWTClaimsRegistry

from .settings import ASYMMETRIC_ALGORITHMS, AuthSettings

log = logging.getLogger(__name__)

TokenUse = Literal["access", "id"]

# Cognito's tokens are a few kilobytes; anything far larger is not one and is refused
# before any parsing work is spent on it.
MAX_TOKEN_LENGTH = 16 * 1024
# The key types that verify asymmetric signatures; an "oct" key in a JWKS is never used.
ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


class TokenError(Exception):
    """Base of the verifier's errors."""


class InvalidTokenError(TokenError):
    """The token is not acceptable; ``reason`` says why (for logs, not for the caller)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenExpiredError(InvalidTokenError):
    """A well-signed token whose ``exp`` has passed (beyond the leeway)."""

    def __init__(self, reason: str = "token expired") -> None:
        super().__init__(reason)


class KeysUnavailableError(TokenError):
    """The signing keys could not be fetched: no token can be checked right now."""


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    user_id: str
    username: str
    groups: frozenset[str]
    client_id: str
    token_use: TokenUse
    expires_at: float
    admin_group: str = "admins"

    @property
    def is_admin(self) -> bool:
        return self.admin_group in self.groups


def _import_keys(document: object) -> dict[str, Key]:
    """The usable signing keys of a JWKS document, by key id; others are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, Key] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or entry.get("kty") not in ASYMMETRIC_KEY_TYPES:
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key_set = KeySet.import_key_set({"keys": [entry]})
        except (JoseError, ValueError, TypeError) as exc:
            log.warning("skipping unreadable signing key", extra={"kid": kid, "why": str(exc)})
            continue
        for key in key_set:
            keys[kid] = key
    return keys


class TokenVerifier:
    """Verifies tokens of one user pool; one per process, shared by every request."""

    def __init__(
        self,
        settings: AuthSettings,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._algorithms = frozenset(settings.auth_algorithms) & ASYMMETRIC_ALGORITHMS
        self._client_ids = frozenset(settings.auth_client_ids)
        self._keys: dict[str, Key] = {}
        # When the keys were last fetched (monotonic), successfully or not; None: never.
        self._fetched_at: float | None = None
        # Bumped when a fetch ends, so callers that waited for the lock see that one did.
        self._generation = 0
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ keys

    async def refresh_keys(self) -> None:
        """Fetch the keys now (at startup, say); raises :class:`KeysUnavailableError`."""
        async with self._lock:
            await self._fetch()

    async def _fetch(self) -> None:
        """Replace the keys with the JWKS URL's; the caller holds the lock."""
        try:
            await self._fetch_keys()
        finally:
            # Counted once done, successful or not: a caller that found a key missing
            # while this fetch was under way waits for it and uses its result.
            self._fetched_at = time.monotonic()
            self._generation += 1

    async def _fetch_keys(self) -> None:
        url = self._settings.jwks_url
        try:
            response = await self._http.get(
                url,
                timeout=self._settings.auth_jwks_timeout_seconds,
                headers={"Accept": "application/json"},
            )
            response.raise_for_status()
            keys = _import_keys(response.json())
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            log.warning("signing keys unavailable", extra={"url": url, "why": repr(exc)})
            raise KeysUnavailableError(f"could not fetch the signing keys: {exc!r}") from exc
        self._keys = keys
        log.info("signing keys fetched", extra={"url": url, "kids": sorted(keys)})

    async def _key(self, kid: str) -> Key:
        key = self._keys.get(kid)
        if key is not None:
            return key
        seen = self._generation
        async with self._lock:
            # Someone else fetched while this caller waited: their result is the answer.
            if self._generation == seen and self._may_fetch():
                await self._fetch()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidTokenError("unknown signing key")
        return key

    def _may_fetch(self) -> bool:
        """Without any key there is nothing to protect: always try (one request at a time).
        With keys, an unknown key id refetches at most once per the configured interval."""
        if not self._keys or self._fetched_at is None:
            return True
        elapsed = time.monotonic() - self._fetched_at
        return elapsed >= self._settings.auth_jwks_min_refetch_seconds

    # ------------------------------------------------------------------ tokens

    async def verify(self, token: str, *, use: TokenUse = "access") -> Principal:
        """The principal of a valid ``use`` token of this pool and its clients, or raise."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("not a token")
        if token.count(".") != 2:
            raise InvalidTokenError("not a signed JWT")
        try:
            compact = jws.extract_compact(token.encode("ascii"))
            header = compact.headers()
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            raise InvalidTokenError(f"unreadable token: {exc}") from exc
        alg = header.get("alg")
        # Checked before any key is chosen: "none", or HS256 keyed with the public key,
        # must never reach a verification routine.
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise InvalidTokenError(f"algorithm not accepted: {alg!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("no key id")
        key = await self._key(kid)
        try:
            valid = jws.validate_compact(compact, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidTokenError(f"signature not verifiable: {exc}") from exc
        if not valid:
            raise InvalidTokenError("bad signature")
        try:
            claims = json.loads(compact.payload)
        except (ValueError, TypeError) as exc:
            raise InvalidTokenError("payload is not JSON") from exc
        if not isinstance(claims, dict):
            raise InvalidTokenError("payload is not a JSON object")
        self._check_claims(claims, use)
        return self._principal(claims, use)

    def _check_claims(self, claims: dict[str, Any], use: TokenUse) -> None:
        registry = JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=int(self._settings.auth_leeway_seconds),
            iss={"essential": True, "value": self._settings.auth_issuer},
            sub={"essential": True},
            exp={"essential": True},
            token_use={"essential": True, "value": use},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise TokenExpiredError() from exc
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidTokenError(f"claims refused: {exc}") from exc
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise InvalidTokenError("no subject")
        if not self._audience_ok(claims, use):
            raise InvalidTokenError("issued to another client")

    def _audience_ok(self, claims: Mapping[str, Any], use: TokenUse) -> bool:
        # Cognito names the app client in client_id (access tokens) or aud (id tokens).
        if use == "access":
            client = claims.get("client_id")
            return isinstance(client, str) and client in self._client_ids
        audience = claims.get("aud")
        if isinstance(audience, str):
            audience = [audience]
        return (
            isinstance(audience, list)
            and bool(audience)
            and all(isinstance(item, str) for item in audience)
            and any(item in self._client_ids for item in audience)
        )

    def _principal(self, claims: Mapping[str, Any], use: TokenUse) -> Principal:
        groups = claims.get("cognito:groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise InvalidTokenError("malformed groups")
        if use == "access":
            client_id = str(claims["client_id"])
        else:
            audience = claims["aud"]
            candidates = [audience] if isinstance(audience, str) else audience
            client_id = next(item for item in candidates if item in self._client_ids)
        username = claims.get("username") or claims.get("cognito:username") or claims["sub"]
        return Principal(
            user_id=claims["sub"],
            username=str(username),
            groups=frozenset(groups),
            client_id=client_id,
            token_use=use,
            expires_at=float(claims["exp"]),
            admin_group=self._settings.auth_admin_group,
        )
