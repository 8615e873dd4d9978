"""Authorization, table-driven: every endpoint × every kind of caller, the status expected.

Callers are real users of the session emulator's Cognito (an owner, another user, an
administrator), nobody, and forged or misused tokens derived from the owner's real one. A
refused token is a 401 on every endpoint, public reads included; an image the caller may
not see is a 404, never a 403.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from snapqueue_core.user_pool import UserPoolIds
from tests.conftest import SignedInUser
from tests.core import token_forge as forge
from tests.upload_service.upload_helpers import (
    RunningService,
    completed_record,
    sign_in_new_user,
)

GOOD = ("anonymous", "owner", "other", "admin")
BAD_TOKENS = (
    "expired",
    "unknown key",
    "emulator kid, other key",
    "alg none",
    "HS256 with the public key",
    "wrong client id",
    "id token",
    "garbage",
)


@dataclass(frozen=True)
class People:
    owner: SignedInUser
    other: SignedInUser
    admin: SignedInUser

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller in ("owner", "other", "admin"):
            user: SignedInUser = getattr(self, caller)
            return user.headers
        return {"Authorization": f"Bearer {bad_token(caller, self.owner)}"}


def bad_token(kind: str, user: SignedInUser) -> str:
    claims = forge.claims_of(user.access_token)
    made = {
        "expired": lambda: forge.expired(user.access_token),
        "unknown key": lambda: forge.sign(claims, forge.fresh_key(), kid="not-in-the-jwks"),
        "emulator kid, other key": lambda: forge.sign(claims, forge.fresh_key()),
        "alg none": lambda: forge.alg_none(claims),
        "HS256 with the public key": lambda: forge.hs256_with_public_key(claims),
        "wrong client id": lambda: forge.sign(
            forge.with_claims(user.access_token, client_id="another-app")
        ),
        "id token": lambda: user.id_token,
        "garbage": lambda: "garbage.garbage.garbage",
    }
    return made[kind]()


@pytest.fixture(scope="module")
async def people(emulator_url: str, user_pool: UserPoolIds) -> People:
    return People(
        owner=await sign_in_new_user(emulator_url, user_pool),
        other=await sign_in_new_user(emulator_url, user_pool),
        admin=await sign_in_new_user(emulator_url, user_pool, admin=True),
    )


@pytest.fixture
async def caller_client(service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
        yield http


# An endpoint call: given the service, the people and the headers, send one request.
Call = Callable[[RunningService, People, httpx.AsyncClient, dict[str, str]], Awaitable[Any]]


async def image_of(
    service: RunningService, people: People, visibility: str, owner: str | None = "owner"
) -> str:
    image_id = uuid.uuid4().hex
    owner_id = people.owner.user_id if owner == "owner" else None
    await completed_record(
        service.store,
        image_id,
        owner_id=owner_id,
        visibility="public" if visibility == "public" else "private",
    )
    return image_id


def on_image(method: str, path: str, visibility: str, **kwargs: Any) -> Call:
    async def call(
        service: RunningService, people: People, http: httpx.AsyncClient, headers: dict[str, str]
    ) -> Any:
        owner = None if visibility == "legacy" else "owner"
        image_id = await image_of(service, people, visibility, owner)
        return await http.request(method, path.format(image_id), headers=headers, **kwargs)

    return call


def plain(method: str, path: str, **kwargs: Any) -> Call:
    async def call(
        service: RunningService, people: People, http: httpx.AsyncClient, headers: dict[str, str]
    ) -> Any:
        url = path.format(owner=people.owner.user_id)
        return await http.request(method, url, headers=headers, **kwargs)

    return call


UPLOAD_BODY = {"filename": "a.jpg", "contentType": "image/jpeg", "size": 100}
UPLOAD_FILE = {"file": ("a.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 96, "image/jpeg")}

# endpoint: (call, expected status for anonymous, owner, other, admin)
TABLE: dict[str, tuple[Call, tuple[int, int, int, int]]] = {
    "POST /upload-request": (
        plain("POST", "/upload-request", json=UPLOAD_BODY),
        (401, 201, 201, 201),
    ),
    "POST /uploads": (plain("POST", "/uploads", files=UPLOAD_FILE), (401, 202, 202, 202)),
    "GET /image private": (on_image("GET", "/image/{}", "private"), (404, 200, 404, 200)),
    "GET /image public": (on_image("GET", "/image/{}", "public"), (200, 200, 200, 200)),
    "GET /image ownerless": (on_image("GET", "/image/{}", "legacy"), (404, 404, 404, 200)),
    "GET /status private": (on_image("GET", "/status/{}", "private"), (404, 200, 404, 200)),
    "GET /status public": (on_image("GET", "/status/{}", "public"), (200, 200, 200, 200)),
    "PATCH /image private": (
        on_image("PATCH", "/image/{}", "private", json={"visibility": "public"}),
        (401, 200, 404, 404),
    ),
    "PATCH /image public": (
        on_image("PATCH", "/image/{}", "public", json={"visibility": "private"}),
        (401, 200, 404, 404),
    ),
    "DELETE /image private": (on_image("DELETE", "/image/{}", "private"), (401, 204, 404, 204)),
    "DELETE /image public": (on_image("DELETE", "/image/{}", "public"), (401, 204, 404, 204)),
    "DELETE /image ownerless": (on_image("DELETE", "/image/{}", "legacy"), (401, 404, 404, 204)),
    "GET /me": (plain("GET", "/me"), (401, 200, 200, 200)),
    "GET /me/images": (plain("GET", "/me/images"), (401, 200, 200, 200)),
    "GET /admin/images": (plain("GET", "/admin/images?ownerId={owner}"), (401, 403, 403, 200)),
    "GET /get-all-images": (plain("GET", "/get-all-images"), (200, 200, 200, 200)),
}

CELLS = [
    (endpoint, caller, expected[GOOD.index(caller)] if caller in GOOD else 401)
    for endpoint, (_call, expected) in TABLE.items()
    for caller in (*GOOD, *BAD_TOKENS)
]


@pytest.mark.parametrize(("endpoint", "caller", "status"), CELLS)
async def test_authorization(
    service: RunningService,
    people: People,
    caller_client: httpx.AsyncClient,
    endpoint: str,
    caller: str,
    status: int,
) -> None:
    call, _expected = TABLE[endpoint]
    response = await call(service, people, caller_client, people.headers(caller))
    assert response.status_code == status, f"{endpoint} as {caller}: {response.text}"
    if status == 401:
        assert response.json()["error"] == "unauthenticated"
        challenge = response.headers["www-authenticate"]
        if caller == "anonymous":
            assert challenge == "Bearer"
        else:
            assert challenge == 'Bearer error="invalid_token"'
    elif status == 404:
        assert response.json()["error"] == "not_found"
    elif status == 403:
        assert response.json()["error"] == "forbidden"


async def test_not_yours_looks_like_missing(
    service: RunningService, people: People, caller_client: httpx.AsyncClient
) -> None:
    """A private image of someone else and no image at all answer byte for byte alike."""
    image_id = await image_of(service, people, "private")
    theirs = await caller_client.get(f"/image/{image_id}", headers=people.headers("other"))
    missing_id = uuid.uuid4().hex
    missing = await caller_client.get(f"/image/{missing_id}", headers=people.headers("other"))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"] == missing.json()["error"]
    assert theirs.json()["message"].replace(image_id, "") == missing.json()["message"].replace(
        missing_id, ""
    )


async def test_owner_id_is_shown_to_owner_and_admin_only(
    service: RunningService, people: People, caller_client: httpx.AsyncClient
) -> None:
    image_id = await image_of(service, people, "public")
    seen = {}
    for caller in ("anonymous", "owner", "other", "admin"):
        response = await caller_client.get(f"/image/{image_id}", headers=people.headers(caller))
        seen[caller] = response.json()["ownerId"]
    assert seen == {
        "anonymous": None,
        "owner": people.owner.user_id,
        "other": None,
        "admin": people.owner.user_id,
    }


def test_every_endpoint_is_in_the_table(service: RunningService) -> None:
    """A new route must get a row here."""
    paths = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in service_routes()
        for method in route.methods  # type: ignore[attr-defined]
        if method not in ("HEAD",)
    }
    covered = {
        ("POST", "/upload-request"),
        ("POST", "/uploads"),
        ("GET", "/image/{imageId}"),
        ("PATCH", "/image/{imageId}"),
        ("DELETE", "/image/{imageId}"),
        ("GET", "/status/{imageId}"),
        ("GET", "/me"),
        ("GET", "/me/images"),
        ("GET", "/admin/images"),
        ("GET", "/get-all-images"),
    }
    public = {
        ("POST", "/auth/sign-up"),
        ("POST", "/auth/confirm"),
        ("POST", "/auth/sign-in"),
        ("POST", "/auth/refresh"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    }
    assert paths == covered | public


def service_routes() -> list[Any]:
    from upload_service.routes import router

    return list(router.routes)
