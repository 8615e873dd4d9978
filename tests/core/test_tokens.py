"""TokenVerifier against the session emulator's Cognito: real tokens, and forged ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from snapqueue_core.settings import AuthSettings, SettingsError
from snapqueue_core.tokens import (
    InvalidTokenError,
    KeysUnavailableError,
    Principal,
    TokenExpiredError,
    TokenVerifier,
)
from snapqueue_core.user_pool import UserPoolIds
from tests.core import token_forge as forge


class CountingClient:
    """An httpx client whose requests are counted, to see how often the keys are fetched."""

    def __init__(self) -> None:
        self.requests = 0
        self.client = httpx.AsyncClient(event_hooks={"request": [self._count]})

    async def _count(self, _request: httpx.Request) -> None:
        self.requests += 1


@pytest.fixture
async def http() -> AsyncIterator[CountingClient]:
    counting = CountingClient()
    async with counting.client:
        yield counting


@pytest.fixture
def make_verifier(http: CountingClient) -> Callable[..., TokenVerifier]:
    def make(**overrides: Any) -> TokenVerifier:
        return TokenVerifier(AuthSettings.from_env(**overrides), http.client)

    return make


async def test_real_access_token_gives_its_principal(
    user_factory: Callable[..., Any],
    make_verifier: Callable[..., TokenVerifier],
    user_pool: UserPoolIds,
) -> None:
    user = await user_factory()
    principal = await make_verifier().verify(user.access_token)
    assert isinstance(principal, Principal)
    assert principal.user_id == user.user_id
    assert principal.client_id == user_pool.client_id
    assert principal.token_use == "access"
    assert principal.groups == frozenset()
    assert not principal.is_admin
    assert principal.expires_at > time.time()


async def test_admin_group_comes_from_the_token(
    user_factory: Callable[..., Any], make_verifier: Callable[..., TokenVerifier]
) -> None:
    admin = await user_factory(admin=True)
    principal = await make_verifier().verify(admin.access_token)
    assert "admins" in principal.groups
    assert principal.is_admin


async def test_admin_group_name_is_a_setting(
    user_factory: Callable[..., Any], make_verifier: Callable[..., TokenVerifier]
) -> None:
    admin = await user_factory(admin=True)
    principal = await make_verifier(auth_admin_group="operators").verify(admin.access_token)
    assert not principal.is_admin


async def test_id_token_only_where_an_id_token_is_asked_for(
    user_factory: Callable[..., Any],
    make_verifier: Callable[..., TokenVerifier],
    user_pool: UserPoolIds,
) -> None:
    user = await user_factory()
    verifier = make_verifier()
    principal = await verifier.verify(user.id_token, use="id")
    assert principal.user_id == user.user_id
    assert principal.client_id == user_pool.client_id
    assert principal.token_use == "id"
    with pytest.raises(InvalidTokenError):
        await verifier.verify(user.id_token)
    with pytest.raises(InvalidTokenError):
        await verifier.verify(user.access_token, use="id")


FORGERIES = (
    "alg none",
    "HS256 keyed with the public key",
    "fresh key under the emulator's kid",
    "unknown kid",
    "wrong issuer",
    "wrong client",
    "no client",
    "no subject",
    "no expiry",
    "not yet valid",
    "issued in the future",
    "id use in an access token",
    "groups not a list",
    "tampered payload",
    "RS512 header on an RS256 key",
)


def forgeries(token: str) -> dict[str, str]:
    now = int(time.time())
    return {
        "alg none": forge.alg_none(forge.claims_of(token)),
        "HS256 keyed with the public key": forge.hs256_with_public_key(forge.claims_of(token)),
        "fresh key under the emulator's kid": forge.sign(forge.claims_of(token), forge.fresh_key()),
        "unknown kid": forge.sign(forge.claims_of(token), forge.fresh_key(), kid="rotated-away"),
        "wrong issuer": forge.sign(forge.with_claims(token, iss="https://evil.example/pool")),
        "wrong client": forge.sign(forge.with_claims(token, client_id="someone-else")),
        "no client": forge.sign(forge.with_claims(token, client_id=None)),
        "no subject": forge.sign(forge.with_claims(token, sub=None)),
        "no expiry": forge.sign(forge.with_claims(token, exp=None)),
        "not yet valid": forge.sign(forge.with_claims(token, nbf=now + 3600)),
        "issued in the future": forge.sign(forge.with_claims(token, iat=now + 3600)),
        "id use in an access token": forge.sign(forge.with_claims(token, token_use="id")),
        "groups not a list": forge.sign(forge.with_claims(token, cognito__groups="admins")),
        "tampered payload": _tamper(token),
        "RS512 header on an RS256 key": forge.sign(forge.claims_of(token), alg="RS512"),
    }


def _tamper(token: str) -> str:
    header, _payload, signature = token.split(".")
    claims = forge.with_claims(token, cognito__groups=["admins"])
    return f"{header}.{forge.b64url_json(claims)}.{signature}"


@pytest.mark.parametrize("kind", FORGERIES)
async def test_forged_tokens_are_refused(
    kind: str, user_factory: Callable[..., Any], make_verifier: Callable[..., TokenVerifier]
) -> None:
    user = await user_factory()
    made = forgeries(user.access_token)
    assert set(made) == set(FORGERIES)
    token = made[kind]
    with pytest.raises(InvalidTokenError) as refused:
        await make_verifier().verify(token)
    assert not isinstance(refused.value, TokenExpiredError), kind


async def test_the_emulators_key_really_signs(
    user_factory: Callable[..., Any], make_verifier: Callable[..., TokenVerifier]
) -> None:
    """The forgeries above fail for their one change, not because re-signing is broken."""
    user = await user_factory()
    resigned = forge.sign(forge.claims_of(user.access_token))
    assert (await make_verifier().verify(resigned)).user_id == user.user_id


async def test_expired_token_has_its_own_error(
    user_factory: Callable[..., Any], make_verifier: Callable[..., TokenVerifier]
) -> None:
    user = await user_factory()
    with pytest.raises(TokenExpiredError):
        await make_verifier().verify(forge.expired(user.access_token))


async def test_leeway_tolerates_small_clock_skew(
    user_factory: Callable[..., Any], make_verifier: Callable[..., TokenVerifier]
) -> None:
    user = await user_factory()
    just_expired = forge.expired(user.access_token, seconds_ago=5)
    assert (await make_verifier(auth_leeway_seconds=30).verify(just_expired)).user_id
    with pytest.raises(TokenExpiredError):
        await make_verifier(auth_leeway_seconds=0).verify(just_expired)


async def test_another_client_of_the_pool_can_be_accepted(
    user_factory: Callable[..., Any],
    make_verifier: Callable[..., TokenVerifier],
    user_pool: UserPoolIds,
) -> None:
    user = await user_factory()
    token = forge.sign(forge.with_claims(user.access_token, client_id="cli-client"))
    verifier = make_verifier(auth_client_ids=f"{user_pool.client_id},cli-client")
    assert (await verifier.verify(token)).client_id == "cli-client"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "x",
        "a.b",
        "a.b.c",
        "a.b.c.d.e",
        "....",
        "é.é.é",
        "eyJhbGciOiJSUzI1NiJ9.e30.",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImR1bW15In0.bm90IGpzb24.c2ln",
        "W10.e30.c2ln",
        "x" * 20000,
    ],
)
async def test_garbage_is_an_invalid_token(
    garbage: str, make_verifier: Callable[..., TokenVerifier]
) -> None:
    with pytest.raises(InvalidTokenError):
        await make_verifier().verify(garbage)


async def test_unknown_kid_refetches_at_most_once_per_interval(
    user_factory: Callable[..., Any],
    make_verifier: Callable[..., TokenVerifier],
    http: CountingClient,
) -> None:
    user = await user_factory()
    verifier = make_verifier(auth_jwks_min_refetch_seconds=3600)
    await verifier.verify(user.access_token)
    assert http.requests == 1
    await verifier.verify(user.access_token)
    assert http.requests == 1, "known keys are cached"
    strangers = [
        forge.sign(forge.claims_of(user.access_token), forge.fresh_key(), kid=f"k{i}")
        for i in range(3)
    ]
    for token in strangers:
        with pytest.raises(InvalidTokenError, match="unknown signing key"):
            await verifier.verify(token)
    assert http.requests == 1, "the keys were fetched moments ago: no refetch"


async def test_unknown_kid_refetches_once_the_interval_passed(
    user_factory: Callable[..., Any],
    make_verifier: Callable[..., TokenVerifier],
    http: CountingClient,
) -> None:
    user = await user_factory()
    verifier = make_verifier(auth_jwks_min_refetch_seconds=0)
    await verifier.verify(user.access_token)
    stranger = forge.sign(forge.claims_of(user.access_token), forge.fresh_key(), kid="new")
    with pytest.raises(InvalidTokenError):
        await verifier.verify(stranger)
    assert http.requests == 2


async def test_concurrent_verifications_share_one_fetch(
    user_factory: Callable[..., Any],
    make_verifier: Callable[..., TokenVerifier],
    http: CountingClient,
) -> None:
    user = await user_factory()
    verifier = make_verifier(auth_jwks_min_refetch_seconds=0)
    principals = await asyncio.gather(*(verifier.verify(user.access_token) for _ in range(20)))
    assert {p.user_id for p in principals} == {user.user_id}
    assert http.requests == 1
    stranger = forge.sign(forge.claims_of(user.access_token), forge.fresh_key(), kid="new")
    results = await asyncio.gather(
        *(verifier.verify(stranger) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, InvalidTokenError) for r in results)
    assert http.requests == 2, "twenty tokens with one unknown kid: one refetch"


async def test_unreachable_keys_are_keys_unavailable(
    user_factory: Callable[..., Any],
    make_verifier: Callable[..., TokenVerifier],
    emulator_url: str,
) -> None:
    user = await user_factory()
    # Something answers there, but not with a JWKS document.
    not_keys = make_verifier(auth_jwks_url=f"{emulator_url}/moto-api/reset-auth")
    with pytest.raises(KeysUnavailableError):
        await not_keys.verify(user.access_token)
    closed = make_verifier(auth_jwks_url="http://127.0.0.1:9/.well-known/jwks.json")
    with pytest.raises(KeysUnavailableError):
        await closed.verify(user.access_token)


async def test_keys_fetched_at_startup_serve_without_another_fetch(
    user_factory: Callable[..., Any],
    make_verifier: Callable[..., TokenVerifier],
    http: CountingClient,
) -> None:
    user = await user_factory()
    verifier = make_verifier(auth_jwks_min_refetch_seconds=3600)
    await verifier.refresh_keys()
    assert (await verifier.verify(user.access_token)).user_id == user.user_id
    assert http.requests == 1


def test_settings_refuse_symmetric_algorithms(monkeypatch: pytest.MonkeyPatch) -> None:
    for alg in ("HS256", "none", "RS256,HS512"):
        monkeypatch.setenv("SNAPQUEUE_AUTH_ALGORITHMS", alg)
        with pytest.raises(SettingsError, match="auth_algorithms"):
            AuthSettings.from_env()


def test_settings_parse_lists_and_default_the_jwks_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPQUEUE_AUTH_CLIENT_IDS", "a, b")
    monkeypatch.setenv("SNAPQUEUE_AUTH_ALGORITHMS", "RS256,ES256")
    monkeypatch.setenv("SNAPQUEUE_AUTH_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/p1/")
    monkeypatch.delenv("SNAPQUEUE_AUTH_JWKS_URL")
    settings = AuthSettings.from_env()
    assert settings.auth_client_ids == ["a", "b"]
    assert settings.auth_algorithms == ["RS256", "ES256"]
    assert settings.auth_issuer == "https://cognito-idp.eu-west-1.amazonaws.com/p1"
    assert (
        settings.jwks_url == "https://cognito-idp.eu-west-1.amazonaws.com/p1/.well-known/jwks.json"
    )


def test_settings_require_issuer_and_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNAPQUEUE_AUTH_ISSUER")
    monkeypatch.delenv("SNAPQUEUE_AUTH_CLIENT_IDS")
    with pytest.raises(SettingsError) as missing:
        AuthSettings.from_env()
    assert "auth_issuer" in str(missing.value)
    assert "auth_client_ids" in str(missing.value)
