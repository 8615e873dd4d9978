"""The ``snapqueue`` CLI as a subprocess against the real stack: output, files, exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from devstack.stack import ROOT, free_port
from tests.client.conftest import NOT_AN_IMAGE, Account, write_image

SNAPQUEUE = Path(sys.executable).parent / "snapqueue"


def cli(
    *args: str,
    api_url: str,
    ws_url: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: only the ``SNAPQUEUE_*`` variables given, and the
    credentials file under this module's ``XDG_CONFIG_HOME`` (never the real one)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SNAPQUEUE_")}
    environment["SNAPQUEUE_API_URL"] = api_url
    if ws_url is not None:
        environment["SNAPQUEUE_WS_URL"] = ws_url
    environment.update(env or {})
    return subprocess.run(
        [str(SNAPQUEUE), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=timeout,
        check=False,
        input=stdin if stdin is not None else "",
    )


@pytest.fixture(scope="module", autouse=True)
def signed_in(
    api_url: str, account: Account, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """``snapqueue login`` once for the module; every command here then uses the stored
    credentials. Returns the credentials file."""
    config = tmp_path_factory.mktemp("cli-config")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(config))
        result = cli(
            "login",
            "--email",
            account.email,
            api_url=api_url,
            env={"SNAPQUEUE_PASSWORD": account.password},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        yield config / "snapqueue" / "credentials.json"


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def uploaded(api_url: str, ws_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``snapqueue upload DIR --json`` on a folder with nested images and a non-image."""
    folder = tmp_path_factory.mktemp("cli-upload")
    write_image(folder / "a.jpg", seed=40)
    write_image(folder / "nested" / "b.png", seed=41, kind="PNG")
    (folder / "nested" / "notes.txt").write_text("not an image")
    result = cli(
        "upload", str(folder), "--json", "-c", "2", "--public", api_url=api_url, ws_url=ws_url
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return as_json(result)


def test_upload_a_folder_as_json(uploaded: Any) -> None:
    results = uploaded["results"]
    assert [Path(r["file"]).name for r in results] == ["a.jpg", "b.png"]
    assert uploaded["completed"] == 2
    assert uploaded["failed"] == 0
    for r in results:
        assert r["status"] == "COMPLETED"
        assert r["error"] is None
        assert r["size"] > 0
        assert set(r["record"]["variants"]) == {"thumbnail", "resized", "grayscale"}
        assert r["record"]["imageId"] == r["imageId"]


def test_status_and_get(uploaded: Any, api_url: str, tmp_path: Path) -> None:
    image_id = uploaded["results"][0]["imageId"]
    status = cli("status", image_id, "--json", api_url=api_url)
    assert status.returncode == 0, status.stderr
    assert as_json(status) == {
        "imageId": image_id,
        "status": "COMPLETED",
        "updatedAt": as_json(status)["updatedAt"],
    }
    text = cli("status", image_id, api_url=api_url)
    assert text.returncode == 0
    assert f"{image_id} COMPLETED" in text.stdout

    got = cli("get", image_id, "--out", str(tmp_path), "--json", api_url=api_url)
    assert got.returncode == 0, got.stderr
    files = as_json(got)["files"]
    assert set(files) == {"thumbnail", "resized", "grayscale"}
    for name, path in files.items():
        with Image.open(io.BytesIO(Path(path).read_bytes())) as image:
            image.load()
            variant = as_json(got)["record"]["variants"][name]
            assert image.size == (variant["width"], variant["height"])
    table = cli("get", image_id, api_url=api_url)
    assert table.returncode == 0
    assert "thumbnail" in table.stdout


def test_ls(uploaded: Any, api_url: str) -> None:
    one = cli("ls", "--limit", "1", "--json", api_url=api_url)
    assert one.returncode == 0, one.stderr
    page = as_json(one)
    assert len(page["items"]) == 1
    assert page["nextCursor"]
    every = as_json(cli("ls", "--all", "--limit", "2", "--json", api_url=api_url))
    ids = [item["imageId"] for item in every["items"]]
    assert {r["imageId"] for r in uploaded["results"]} <= set(ids)
    assert len(ids) == len(set(ids))
    assert every["nextCursor"] is None
    table = cli("ls", api_url=api_url)
    assert table.returncode == 0
    assert uploaded["results"][0]["imageId"] in table.stdout


def test_a_failed_image_sets_exit_code_1(api_url: str, ws_url: str, tmp_path: Path) -> None:
    (tmp_path / "fake.png").write_bytes(NOT_AN_IMAGE)
    write_image(tmp_path / "good.jpg", seed=42)
    result = cli("upload", str(tmp_path), api_url=api_url, ws_url=ws_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unsupported_format" in result.stdout
    assert "COMPLETED" in result.stdout
    assert "FAILED" in result.stdout

    # A refused type is a failed file too; the status of a FAILED image exits 1.
    (tmp_path / "x.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    refused = as_json(cli("upload", str(tmp_path / "x.svg"), "--json", api_url=api_url))
    assert refused["results"][0]["error"]["code"] == "unsupported_content_type"
    failed_id = next(
        r["imageId"]
        for r in as_json(
            cli("upload", str(tmp_path / "fake.png"), "--json", api_url=api_url, ws_url=ws_url)
        )["results"]
    )
    assert cli("status", failed_id, api_url=api_url).returncode == 1
    waited = cli("status", failed_id, "--wait", "--json", api_url=api_url, ws_url=ws_url)
    assert waited.returncode == 1
    assert as_json(waited)["error"]["code"] == "unsupported_format"


def test_api_and_usage_errors_have_their_exit_codes(api_url: str, tmp_path: Path) -> None:
    unknown = cli("status", uuid.uuid4().hex, "--json", api_url=api_url)
    assert unknown.returncode == 3
    assert as_json(unknown) == {
        "error": "not_found",
        "message": as_json(unknown)["message"],
        "status": 404,
    }
    down = cli("ls", api_url=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 3
    assert "cannot connect" in down.stderr
    missing = cli("upload", str(tmp_path / "nope.jpg"), api_url=api_url)
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli("upload", str(tmp_path / "empty"), "--json", api_url=api_url)
    assert empty.returncode == 2
    assert as_json(empty)["error"] == "usage_error"
    assert cli("frobnicate", api_url=api_url).returncode == 2
    assert cli("upload", api_url=api_url).returncode == 2


def test_help_documents_everything(api_url: str) -> None:
    top = cli("--help", api_url=api_url)
    assert top.returncode == 0
    for word in ("upload", "status", "ls", "get", "SNAPQUEUE_API_URL", "SNAPQUEUE_WS_URL"):
        assert word in top.stdout
    for word in ("login", "logout", "signup", "confirm", "me", "rm", "share", "0600"):
        assert word in top.stdout, word
    assert "exit codes" in top.stdout
    assert "3  API or network error" in top.stdout
    for command, options in {
        "upload": ("--concurrency", "--no-wait", "--timeout", "--json", "--public", "--private"),
        "status": ("--wait", "--json"),
        "ls": ("--limit", "--all", "--cursor", "--json", "--mine", "--owner", "--status"),
        "get": ("--out", "--wait", "--json"),
        "login": ("--email", "SNAPQUEUE_PASSWORD", "--token"),
        "logout": ("--all",),
        "signup": ("--email",),
        "confirm": ("--email", "CODE"),
        "me": ("--json",),
        "rm": ("ID",),
        "share": ("--public", "--private"),
    }.items():
        sub = cli(command, "--help", api_url=api_url)
        assert sub.returncode == 0, sub.stderr
        for option in options:
            assert option in sub.stdout, (command, option)


def test_python_dash_m_runs_the_same_cli(api_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "snapqueue_client", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("snapqueue ")


# -- accounts ----------------------------------------------------------------------------


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_login_stores_the_credentials_for_the_owner_only(
    signed_in: Path, account: Account, api_url: str
) -> None:
    assert mode(signed_in) == 0o600
    assert mode(signed_in.parent) == 0o700
    stored = json.loads(signed_in.read_text())["logins"][api_url]
    assert stored["email"] == account.email
    assert stored["refreshToken"]
    assert account.password not in signed_in.read_text()
    me = cli("me", "--json", api_url=api_url)
    assert me.returncode == 0, me.stderr
    assert as_json(me)["userId"] == account.user_id


def test_signup_share_list_mine_delete_and_logout(
    api_url: str, ws_url: str, tmp_path: Path
) -> None:
    config = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    email, password = f"cli-{uuid.uuid4().hex[:10]}@example.com", f"Pw-{uuid.uuid4().hex}-A1!"
    # The password on stdin, as a script would pipe it.
    created = cli(
        "signup", "--email", email, "--json", api_url=api_url, env=config, stdin=password + "\n"
    )
    assert created.returncode == 0, created.stdout + created.stderr
    assert as_json(created)["email"] == email
    credentials = tmp_path / "config" / "snapqueue" / "credentials.json"
    assert mode(credentials) == 0o600
    me = as_json(cli("me", "--json", api_url=api_url, env=config))
    assert me["email"] == email

    write_image(tmp_path / "pics" / "mine.jpg", seed=60)
    sent = cli(
        "upload", str(tmp_path / "pics"), "--json", api_url=api_url, ws_url=ws_url, env=config
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    record = as_json(sent)["results"][0]["record"]
    image_id = record["imageId"]
    assert (record["visibility"], record["ownerId"]) == ("private", me["userId"])

    mine = as_json(cli("ls", "--mine", "--json", api_url=api_url, env=config))
    assert [item["imageId"] for item in mine["items"]] == [image_id]
    assert (
        as_json(cli("ls", "--mine", "--status", "FAILED", "--json", api_url=api_url, env=config))[
            "items"
        ]
        == []
    )
    gallery = as_json(cli("ls", "--all", "--json", api_url=api_url, env=config))
    assert image_id not in {item["imageId"] for item in gallery["items"]}

    shared = cli("share", image_id, "--public", "--json", api_url=api_url, env=config)
    assert shared.returncode == 0, shared.stderr
    assert as_json(shared)["visibility"] == "public"
    gallery = as_json(cli("ls", "--all", "--json", api_url=api_url, env=config))
    assert image_id in {item["imageId"] for item in gallery["items"]}

    removed = cli("rm", image_id, "--json", api_url=api_url, env=config)
    assert removed.returncode == 0, removed.stderr
    assert as_json(removed) == {"deleted": [image_id]}
    gone = cli("get", image_id, "--json", api_url=api_url, env=config)
    assert gone.returncode == 3
    assert as_json(gone)["error"] == "not_found"

    out = cli("logout", api_url=api_url, env=config)
    assert out.returncode == 0
    assert "signed out" in out.stdout
    assert not credentials.exists()
    after = cli("me", "--json", api_url=api_url, env=config)
    assert after.returncode == 4
    assert as_json(after)["error"] == "unauthenticated"


def test_snapqueue_token_replaces_the_stored_credentials(
    api_url: str, account: Account, tmp_path: Path
) -> None:
    empty = {"XDG_CONFIG_HOME": str(tmp_path / "nothing-stored")}
    with_token = cli(
        "me", "--json", api_url=api_url, env={**empty, "SNAPQUEUE_TOKEN": account.access_token}
    )
    assert with_token.returncode == 0, with_token.stderr
    assert as_json(with_token)["userId"] == account.user_id
    assert not (tmp_path / "nothing-stored").exists()  # nothing written for a fixed token
    # Over the module's stored sign-in, a bad --token wins (and fails): it is never mixed.
    forged = cli("--token", "not-a-token", "me", "--json", api_url=api_url)
    assert forged.returncode == 4
    assert as_json(forged)["error"] == "unauthenticated"


def test_a_wrong_password_stores_nothing(api_url: str, account: Account, tmp_path: Path) -> None:
    config = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    refused = cli(
        "login", "--email", account.email, api_url=api_url, env=config, stdin="wrong-password\n"
    )
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "invalid_credentials" in refused.stderr
    assert not (tmp_path / "config" / "snapqueue" / "credentials.json").exists()
    no_email = cli("login", api_url=api_url, env=config, stdin="pw\n")
    assert no_email.returncode == 2
    assert "--email" in no_email.stderr
