"""Forged tokens for the verifier's tests (and the upload-service's authorization table).

Real tokens come from the emulator's Cognito (``user_factory``). The forgeries start from a
real token's claims and change one thing. To sign a token the emulator's key would accept
(an expired one, one for another client), the emulator's private key is read from moto's
package data: it ships with moto, which is exactly why the embedded stack is for development
only. That file is read here, in tests, and nowhere else.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import time
from importlib.resources import files
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

EMULATOR_KID = "dummy"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a token, unverified (to copy a real token's claims)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def emulator_private_key(*, any_alg: bool = False) -> RSAKey:
    """The key moto signs its Cognito tokens with (kid "dummy"); ``any_alg`` drops its
    ``alg``, so it can sign with another RSA algorithm too."""
    resource = files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz")
    document = json.loads(gzip.decompress(resource.read_bytes()))
    if any_alg:
        document.pop("alg", None)
    return RSAKey.import_key(document)


def emulator_public_jwk() -> dict[str, Any]:
    resource = files("moto.cognitoidp").joinpath("resources/jwks-public.json.gz")
    document: dict[str, Any] = json.loads(gzip.decompress(resource.read_bytes()))
    key: dict[str, Any] = document["keys"][0]
    return key


def sign(
    claims: dict[str, Any],
    key: RSAKey | None = None,
    *,
    kid: str = EMULATOR_KID,
    alg: str = "RS256",
) -> str:
    """``claims`` signed with ``key`` (the emulator's by default) under header ``kid``."""
    signing_key = key or emulator_private_key(any_alg=alg != "RS256")
    return jwt.encode({"alg": alg, "kid": kid}, claims, signing_key, [alg])


def fresh_key() -> RSAKey:
    return RSAKey.generate_key(2048)


def alg_none(claims: dict[str, Any], kid: str = EMULATOR_KID) -> str:
    """An unsigned token (``alg: none``), the oldest trick in the book."""
    return f"{b64url_json({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64url_json(claims)}."


def hs256_with_public_key(claims: dict[str, Any], kid: str = EMULATOR_KID) -> str:
    """HS256 keyed with the published public key, as a verifier that trusts the header's
    ``alg`` and hands it the JWKS key would accept."""
    public = RSAKey.import_key(emulator_public_jwk())
    secret = public.as_pem(private=False)
    signing_input = (
        f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64url_json(claims)}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def with_claims(token: str, **changes: Any) -> dict[str, Any]:
    """A real token's claims with some replaced (``None`` removes one)."""
    claims = claims_of(token)
    for name, value in changes.items():
        name = name.replace("__", ":")
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def expired(token: str, seconds_ago: int = 3600) -> str:
    now = int(time.time())
    return sign(with_claims(token, exp=now - seconds_ago, iat=now - seconds_ago - 3600))
