"""Accounts over real HTTP: sign-up, confirmation, sign-in, refresh, /me, and their errors.

Everything reaches the session emulator's Cognito; nothing is mocked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from snapqueue_core.user_pool import PasswordPolicy
from tests.upload_service.upload_helpers import RunningService
from upload_service.accounts import refusal

GOOD_PASSWORD = "Correct-Horse-9-battery"


def new_email() -> str:
    return f"person-{uuid.uuid4().hex[:12]}@example.com"


async def sign_up(http: httpx.AsyncClient, email: str, password: str = GOOD_PASSWORD) -> Any:
    return await http.post("/auth/sign-up", json={"email": email, "password": password})


async def sign_in(http: httpx.AsyncClient, email: str, password: str = GOOD_PASSWORD) -> Any:
    return await http.post("/auth/sign-in", json={"email": email, "password": password})


async def test_sign_up_sign_in_and_me(service: RunningService) -> None:
    http = service.anonymous
    email = new_email()
    created = await sign_up(http, email)
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"userId", "confirmed"}
    assert body["confirmed"] is True, "the embedded environment confirms at once"

    signed_in = await sign_in(http, email)
    assert signed_in.status_code == 200, signed_in.text
    tokens = signed_in.json()
    assert set(tokens) == {"accessToken", "idToken", "refreshToken", "expiresIn", "tokenType"}
    assert tokens["tokenType"] == "Bearer"
    assert tokens["expiresIn"] > 0

    me = await http.get("/me", headers={"Authorization": f"Bearer {tokens['accessToken']}"})
    assert me.status_code == 200, me.text
    assert me.json() == {"userId": body["userId"], "email": email, "groups": []}


async def test_email_is_case_insensitive(service: RunningService) -> None:
    email = new_email()
    assert (await sign_up(service.anonymous, email.upper())).status_code == 201
    signed_in = await sign_in(service.anonymous, email)
    assert signed_in.status_code == 200, signed_in.text
    again = await sign_up(service.anonymous, email)
    assert again.status_code == 409
    assert again.json()["error"] == "user_exists"


async def test_admin_sees_its_group(service: RunningService, user_factory: Any) -> None:
    admin = await user_factory(admin=True)
    me = await service.anonymous.get("/me", headers=admin.headers)
    assert me.status_code == 200
    assert me.json()["groups"] == ["admins"]
    assert me.json()["email"] == admin.email


@pytest.mark.parametrize(
    "password",
    [
        "Short-1a",  # too short
        "no-upper-case-1234",
        "NO-LOWER-CASE-1234",
        "No-Digits-At-All-Here",
        "NoSymbols1234567",
        "",
    ],
)
async def test_weak_password_is_invalid_password_with_the_policy(
    service: RunningService, password: str
) -> None:
    response = await sign_up(service.anonymous, new_email(), password)
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid_password",
        "message": PasswordPolicy().describe(),
    }


async def test_existing_email_is_user_exists(service: RunningService) -> None:
    email = new_email()
    assert (await sign_up(service.anonymous, email)).status_code == 201
    response = await sign_up(service.anonymous, email)
    assert response.status_code == 409
    assert response.json()["error"] == "user_exists"


@pytest.mark.parametrize(
    "email", ["", "plain", "a@b", "two@@example.com", "sp ace@example.com", "x" * 250 + "@e.com"]
)
async def test_malformed_email_is_invalid_email(service: RunningService, email: str) -> None:
    response = await sign_up(service.anonymous, email)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_email"


async def test_wrong_password_and_unknown_user_get_identical_answers(
    service: RunningService,
) -> None:
    email = new_email()
    assert (await sign_up(service.anonymous, email)).status_code == 201
    wrong = await sign_in(service.anonymous, email, "Wrong-Password-123")
    unknown = await sign_in(service.anonymous, new_email())
    malformed = await sign_in(service.anonymous, "not-an-address")
    for response in (wrong, unknown, malformed):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_credentials"
    assert wrong.content == unknown.content == malformed.content
    assert dict(wrong.headers).keys() == dict(unknown.headers).keys()


async def test_unconfirmed_account_confirms_with_its_code(
    upload_service_factory: Callable[..., Any],
) -> None:
    running: RunningService = await upload_service_factory(auth_auto_confirm=False)
    email = new_email()
    created = await sign_up(running.anonymous, email)
    assert created.status_code == 201
    assert created.json()["confirmed"] is False
    refused = await sign_in(running.anonymous, email)
    assert refused.status_code == 403
    assert refused.json()["error"] == "user_not_confirmed"
    # The emulator accepts any code (it sends no mail); AWS checks the e-mailed one.
    confirmed = await running.anonymous.post(
        "/auth/confirm", json={"email": email, "code": "123456"}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"confirmed": True}
    assert (await sign_in(running.anonymous, email)).status_code == 200


async def test_confirm_refuses_malformed_input(service: RunningService) -> None:
    response = await service.anonymous.post("/auth/confirm", json={"email": "x", "code": "1"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_email"
    empty = await service.anonymous.post("/auth/confirm", json={"email": new_email(), "code": ""})
    assert empty.status_code == 422
    assert empty.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("cognito_code", "status", "error"),
    [
        ("CodeMismatchException", 422, "invalid_code"),
        ("ExpiredCodeException", 422, "expired_code"),
        ("InvalidPasswordException", 422, "invalid_password"),
        ("UsernameExistsException", 409, "user_exists"),
        ("NotAuthorizedException", 401, "invalid_credentials"),
        ("UserNotFoundException", 401, "invalid_credentials"),
        ("UserNotConfirmedException", 403, "user_not_confirmed"),
        ("TooManyRequestsException", 503, "service_unavailable"),
        ("InternalErrorException", 503, "service_unavailable"),
    ],
)
def test_cognito_refusals_map_to_error_codes(cognito_code: str, status: int, error: str) -> None:
    """The emulator never refuses a confirmation code, so the mapping is checked here."""
    exc = ClientError({"Error": {"Code": cognito_code, "Message": "x"}}, "ConfirmSignUp")
    mapped = refusal(exc, PasswordPolicy())
    assert (mapped.status_code, mapped.code) == (status, error)


async def test_refresh_gives_new_tokens(service: RunningService) -> None:
    email = new_email()
    await sign_up(service.anonymous, email)
    tokens = (await sign_in(service.anonymous, email)).json()
    refreshed = await service.anonymous.post(
        "/auth/refresh", json={"refreshToken": tokens["refreshToken"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert {"accessToken", "idToken", "expiresIn", "tokenType"} <= set(fresh)
    assert set(fresh) <= {"accessToken", "idToken", "refreshToken", "expiresIn", "tokenType"}
    me = await service.anonymous.get(
        "/me", headers={"Authorization": f"Bearer {fresh['accessToken']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == email


@pytest.mark.parametrize("token", ["not-a-refresh-token", str(uuid.uuid4())])
async def test_bad_refresh_token_is_invalid_refresh_token(
    service: RunningService, token: str
) -> None:
    response = await service.anonymous.post("/auth/refresh", json={"refreshToken": token})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_refresh_token"


async def test_me_needs_a_token(service: RunningService) -> None:
    missing = await service.anonymous.get("/me")
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthenticated"
    assert missing.headers["www-authenticate"] == "Bearer"
    garbage = await service.anonymous.get("/me", headers={"Authorization": "Bearer nope"})
    assert garbage.status_code == 401
    assert garbage.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    basic = await service.anonymous.get("/me", headers={"Authorization": "Basic dTpw"})
    assert basic.status_code == 401
    assert basic.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": "x", "extra": 1},
        {"email": 5, "password": "x"},
        [],
    ],
)
async def test_malformed_bodies_are_invalid_request(service: RunningService, body: Any) -> None:
    for path in ("/auth/sign-up", "/auth/sign-in"):
        response = await service.anonymous.post(path, json=body)
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_request"
