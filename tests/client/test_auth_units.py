"""Sign-in pieces that need no server: tokens, typed errors, the credentials file, the CLI's
arguments, and the client's refresh rules against a scripted HTTP transport."""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from snapqueue_client import (
    AsyncSnapQueue,
    Conflict,
    FileTooLarge,
    ImageRecord,
    InvalidCredentials,
    InvalidPassword,
    InvalidRefreshToken,
    InvalidRequest,
    Me,
    NotSignedIn,
    QuotaExceeded,
    RateLimited,
    Tokens,
    Unauthenticated,
    UserExists,
    UserNotConfirmed,
    Visibility,
    cli,
)
from snapqueue_client.credentials import (
    CredentialsError,
    CredentialStore,
    StoredLogin,
    config_dir,
)
from snapqueue_client.errors import api_error

API = "http://api.test"

# -- models ----------------------------------------------------------------------------


def test_tokens_get_their_expiry_on_receipt() -> None:
    before = time.time()
    tokens = Tokens.model_validate(
        {"accessToken": "a", "idToken": "i", "refreshToken": "r", "expiresIn": 3600}
    )
    assert before + 3600 <= tokens.expires_at <= time.time() + 3600
    assert not tokens.expires_within(60)
    assert tokens.expires_within(3601)
    assert tokens.token_type == "Bearer"
    # A stored copy keeps its own expiry instead of starting a new hour.
    stored = Tokens(access_token="a", expires_at=before - 5)
    assert stored.expires_at == before - 5
    assert stored.expires_within(0)


def test_a_refresh_answer_without_a_refresh_token_keeps_the_old_one() -> None:
    refreshed = Tokens.model_validate({"accessToken": "new", "expiresIn": 60})
    assert refreshed.with_refresh_token("old").refresh_token == "old"
    rotated = Tokens.model_validate({"accessToken": "new", "refreshToken": "r2"})
    assert rotated.with_refresh_token("old").refresh_token == "r2"


def test_records_carry_owner_and_visibility() -> None:
    record = ImageRecord.model_validate(
        {
            "imageId": "0" * 32,
            "status": "COMPLETED",
            "ownerId": "user-1",
            "visibility": "public",
        }
    )
    assert record.owner_id == "user-1"
    assert record.visibility is Visibility.PUBLIC
    older = ImageRecord.model_validate({"imageId": "0" * 32, "status": "PROCESSING"})
    assert older.owner_id is None
    assert older.visibility is None
    assert Me(user_id="u", groups=["admins"]).is_admin
    assert not Me.model_validate({"userId": "u", "email": "a@b.c", "groups": []}).is_admin


# -- errors ----------------------------------------------------------------------------


def answer(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = json.dumps({"error": code, "message": f"{code} happened"})
    return httpx.Response(status, text=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "code", "kind", "also"),
    [
        (401, "invalid_credentials", InvalidCredentials, None),
        (401, "invalid_refresh_token", InvalidRefreshToken, Unauthenticated),
        (401, "unauthenticated", Unauthenticated, None),
        (403, "user_not_confirmed", UserNotConfirmed, None),
        (409, "user_exists", UserExists, Conflict),
        (422, "invalid_password", InvalidPassword, InvalidRequest),
        (413, "quota_exceeded", QuotaExceeded, None),
        (413, "file_too_large", FileTooLarge, None),
        (429, "rate_limited", RateLimited, None),
    ],
)
def test_new_error_codes_are_typed(
    status: int, code: str, kind: type[Exception], also: type[Exception] | None
) -> None:
    error = api_error(answer(status, code))
    assert type(error) is kind
    if also is not None:
        assert isinstance(error, also)
    assert (error.status, error.code) == (status, code)


def test_quota_is_not_a_file_size_problem() -> None:
    assert not isinstance(api_error(answer(413, "quota_exceeded")), FileTooLarge)


def test_rate_limited_says_when_to_come_back() -> None:
    seconds = api_error(answer(429, "rate_limited", {"Retry-After": "7"}))
    assert isinstance(seconds, RateLimited)
    assert seconds.retry_after == 7
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    dated = api_error(answer(429, "rate_limited", {"Retry-After": later}))
    assert isinstance(dated, RateLimited)
    assert dated.retry_after is not None
    assert 25 <= dated.retry_after <= 31
    bare = api_error(answer(429, "rate_limited"))
    assert isinstance(bare, RateLimited)
    assert bare.retry_after is None


# -- the credentials file --------------------------------------------------------------


def login(refresh: str = "refresh-1", email: str = "a@example.com") -> StoredLogin:
    tokens = Tokens(access_token="access-1", refresh_token=refresh, expires_in=3600)
    return StoredLogin.of(tokens, email)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_config_dir_follows_xdg_else_home(tmp_path: Path) -> None:
    assert config_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "snapqueue"
    home = Path.home() / ".config" / "snapqueue"
    assert config_dir({}) == home
    # A relative XDG_CONFIG_HOME is invalid by the spec: credentials must not land in cwd.
    assert config_dir({"XDG_CONFIG_HOME": "relative/dir"}) == home


def test_credentials_are_private_to_their_owner(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        store = CredentialStore(tmp_path / "cfg" / "snapqueue" / "credentials.json")
        store.put(API, login())
    finally:
        os.umask(old_umask)
    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700
    assert not [p for p in store.path.parent.iterdir() if p.name != "credentials.json"]
    document = json.loads(store.path.read_text())
    entry = document["logins"][API]
    assert entry["refreshToken"] == "refresh-1"
    assert entry["email"] == "a@example.com"


def test_an_existing_loose_directory_and_file_are_tightened(tmp_path: Path) -> None:
    directory = tmp_path / "snapqueue"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)  # noqa: S103 - the loose directory under test
    store = CredentialStore(directory / "credentials.json")
    store.put(API, login())
    assert mode(directory) == 0o700
    os.chmod(store.path, 0o644)  # restored from a backup, say
    assert store.get(API) is not None
    assert mode(store.path) == 0o600


def test_one_login_per_api_url(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    store.put(API + "/", login("one"))
    store.put("https://prod.example.com/api", login("two", "b@example.com"))
    first = store.get(API)
    assert first is not None
    assert first.refresh_token == "one"
    assert store.get("http://elsewhere") is None
    assert store.remove(API)
    assert not store.remove(API)
    assert store.path.exists()  # the other login is still in it
    assert store.remove("https://prod.example.com/api")
    assert not store.path.exists()


def test_stored_tokens_round_trip(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    store.put(API, login())
    stored = store.get(API)
    assert stored is not None
    tokens = stored.tokens()
    assert tokens is not None
    assert tokens.access_token == "access-1"
    assert tokens.refresh_token == "refresh-1"
    refreshed = stored.updated(Tokens(access_token="access-2", expires_in=60))
    assert refreshed.refresh_token == "refresh-1"  # a refresh answer carries none
    assert refreshed.access_token == "access-2"
    assert StoredLogin(refresh_token="r").tokens() is None  # only a refresh token kept


def test_a_damaged_file_is_reported_and_logout_still_works(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    store.path.write_text("{not json")
    with pytest.raises(CredentialsError, match="snapqueue logout"):
        store.get(API)
    assert store.remove(API)
    assert not store.path.exists()
    assert store.get(API) is None


# -- the CLI's arguments ---------------------------------------------------------------


def parse(*argv: str) -> Any:
    return cli.build_parser().parse_args(argv)


def test_cli_parses_the_account_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse("ls", "--mine").mine
    assert parse("ls", "--owner", "u1").owner == "u1"
    assert parse("ls").mine is False
    assert parse("ls", "--mine", "--status", "FAILED").status == "FAILED"
    assert parse("share", "abc", "--public").visibility is Visibility.PUBLIC
    assert parse("share", "abc", "--private").visibility is Visibility.PRIVATE
    assert parse("upload", "x.jpg").visibility is None
    assert parse("upload", "x.jpg", "--public").visibility is Visibility.PUBLIC
    assert parse("rm", "a", "b").image_ids == ["a", "b"]
    assert parse("login", "--email", "a@b.c").email == "a@b.c"
    assert parse("logout", "--all").all
    assert parse("confirm", "123456", "--email", "a@b.c").code == "123456"
    assert parse("me", "--json").json
    monkeypatch.setenv("SNAPQUEUE_TOKEN", "from-env")
    assert parse("me").token == "from-env"
    assert parse("me", "--token", "given").token == "given"


@pytest.mark.parametrize(
    "argv",
    [
        ("ls", "--mine", "--owner", "u1"),
        ("share", "abc"),
        ("share", "abc", "--public", "--private"),
        ("rm",),
        ("confirm", "123456"),
        ("ls", "--mine", "--status", "DONE"),
    ],
)
def test_cli_refuses_bad_combinations(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse(*argv)
    assert caught.value.code == 2


def test_cli_help_documents_signing_in(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for word in ("login", "logout", "signup", "me", "rm", "share", "credentials.json"):
        assert word in text, word
    assert "0600" in text
    assert "4  not signed in" in text
    assert "SNAPQUEUE_PASSWORD" in text


def test_password_comes_from_env_then_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPQUEUE_PASSWORD", "from env")
    assert cli.read_password() == "from env"
    monkeypatch.delenv("SNAPQUEUE_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO(" spaced pass \n"))
    assert cli.read_password() == " spaced pass "
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(cli.UsageError):
        cli.read_password()
    args = parse("login")
    with pytest.raises(cli.UsageError, match="--email"):
        cli.read_email(args)


# -- refresh rules, against a scripted transport ---------------------------------------


class ScriptedApi:
    """A stand-in API: ``/me`` accepts only the current access token; ``/auth/refresh``
    issues the next one (slowly, so concurrent callers overlap)."""

    def __init__(self) -> None:
        self.valid = "access-0"
        self.refreshes = 0
        self.seen: list[str | None] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/auth/refresh":
            assert "Authorization" not in request.headers
            assert json.loads(request.content) == {"refreshToken": "refresh-0"}
            self.refreshes += 1
            await asyncio.sleep(0.05)
            self.valid = f"access-{self.refreshes}"
            return httpx.Response(200, json={"accessToken": self.valid, "expiresIn": 3600})
        if path == "/auth/sign-in":
            return httpx.Response(
                200,
                json={"accessToken": self.valid, "refreshToken": "refresh-0", "expiresIn": 3600},
            )
        header = request.headers.get("Authorization")
        self.seen.append(header)
        if header != f"Bearer {self.valid}":
            return httpx.Response(401, json={"error": "unauthenticated", "message": "no"})
        return httpx.Response(200, json={"userId": "u1", "email": "a@b.c", "groups": []})


def scripted(api: ScriptedApi, **kwargs: Any) -> AsyncSnapQueue:
    return AsyncSnapQueue(API, "ws://127.0.0.1:9/ws", transport=httpx.MockTransport(api), **kwargs)


async def test_an_expiring_token_is_refreshed_once_for_concurrent_calls() -> None:
    api = ScriptedApi()
    saved: list[Tokens] = []
    expiring = Tokens(access_token="access-0", refresh_token="refresh-0", expires_in=5)
    async with scripted(api, tokens=expiring, on_tokens=saved.append) as client:
        users = await asyncio.gather(*(client.me() for _ in range(8)))
        assert client.token == "access-1"
    assert {user.user_id for user in users} == {"u1"}
    assert api.refreshes == 1
    assert set(api.seen) == {"Bearer access-1"}  # the old token was never sent
    assert [t.access_token for t in saved] == ["access-1"]
    assert saved[0].refresh_token == "refresh-0"  # kept: the answer carried none


async def test_a_401_refreshes_once_and_retries() -> None:
    api = ScriptedApi()
    api.valid = "access-revoked-elsewhere"
    fresh = Tokens(access_token="access-0", refresh_token="refresh-0", expires_in=3600)
    async with scripted(api, tokens=fresh) as client:
        assert (await client.me()).user_id == "u1"
    assert api.refreshes == 1
    assert api.seen == ["Bearer access-0", "Bearer access-1"]


async def test_a_refresh_token_alone_is_enough() -> None:
    api = ScriptedApi()
    async with scripted(api, refresh_token="refresh-0") as client:
        assert client.token is None
        await client.me()
        assert client.tokens is not None
        assert client.tokens.refresh_token == "refresh-0"
    assert api.refreshes == 1


async def test_a_fixed_token_is_never_refreshed() -> None:
    api = ScriptedApi()
    async with scripted(api, token="stale") as client:
        with pytest.raises(Unauthenticated):
            await client.me()
        with pytest.raises(NotSignedIn):
            await client.refresh()
    assert api.refreshes == 0
    with pytest.raises(ValueError, match="fixed access token"):
        AsyncSnapQueue(API, token="a", refresh_token="b")


async def test_sign_in_replaces_a_fixed_token_and_reports_the_tokens() -> None:
    api = ScriptedApi()
    saved: list[Tokens] = []
    async with scripted(api, token="stale", on_tokens=saved.append) as client:
        tokens = await client.sign_in("a@b.c", "pw")
        assert client.token == tokens.access_token == "access-0"
        await client.me()
        assert (await client.refresh()).access_token == "access-1"
    assert [t.access_token for t in saved] == ["access-0", "access-1"]


# -- the CLI's session -----------------------------------------------------------------


def test_a_refresh_during_a_command_updates_the_stored_login(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    store.put(API, login())
    args = parse("--api-url", API, "me")
    session = cli.Session(args, store)
    assert session.login is not None
    session.save(Tokens(access_token="access-2", refresh_token="refresh-2", expires_in=60))
    stored = store.get(API)
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("access-2", "refresh-2")
    assert stored.email == "a@example.com"
    assert mode(store.path) == 0o600
    # --token wins over the stored sign-in; the store is not even read.
    assert cli.Session(parse("--api-url", API, "--token", "t", "me"), store).login is None
