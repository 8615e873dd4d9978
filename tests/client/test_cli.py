"""The ``snapqueue`` CLI as a subprocess against the real stack: output, files, exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from devstack.stack import ROOT, free_port
from tests.client.conftest import NOT_AN_IMAGE, write_image

SNAPQUEUE = Path(sys.executable).parent / "snapqueue"


def cli(
    *args: str, api_url: str, ws_url: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPQUEUE_")}
    env["SNAPQUEUE_API_URL"] = api_url
    if ws_url is not None:
        env["SNAPQUEUE_WS_URL"] = ws_url
    return subprocess.run(
        [str(SNAPQUEUE), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


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
    result = cli("upload", str(folder), "--json", "-c", "2", api_url=api_url, ws_url=ws_url)
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
    assert "exit codes" in top.stdout
    assert "3  API or network error" in top.stdout
    for command, options in {
        "upload": ("--concurrency", "--no-wait", "--timeout", "--json"),
        "status": ("--wait", "--json"),
        "ls": ("--limit", "--all", "--cursor", "--json"),
        "get": ("--out", "--wait", "--json"),
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
