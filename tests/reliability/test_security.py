"""Security checks, as tests: secrets, the presign policy, origins, metadata, outbound fetches.

checkov on the Terraform and ruff's bandit rules (``S``) are run by other parts of the
suite (``tests/deploy`` and ``make lint``); see ``docs/reliability.md``.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import io
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from PIL import Image
from websockets.exceptions import InvalidStatus

from devstack.corpus import CORPUS
from devstack.stack import ROOT, Stack
from tests.reliability.harness import (
    ALLOWED_ORIGIN,
    UploadItem,
    WsPool,
    auth_headers,
    run_uploads,
    tails,
)

FOREIGN_ORIGIN = "https://evil.example"

# ---------------------------------------------------------------------------
# No secrets in the repository

SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile("-----BEGIN (?:[A-Z]+ )?" + "PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
}
SECRET_KEY_ASSIGNMENT = re.compile(r"""(?i)aws_secret_access_key["']?\s*[:=]\s*["']?([^\s"',}]+)""")
# The emulator's dummy credentials, and references to a value held elsewhere.
DUMMY_SECRET = re.compile(r"(?i)^(testing|test|dummy|fake|example|x+|\$.*|<.*>|os\.environ.*)$")


def repository_files() -> Iterator[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if path.is_file() and path.stat().st_size < 5_000_000:
            yield path


def secrets_in(text: str) -> list[str]:
    found = [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
    for match in SECRET_KEY_ASSIGNMENT.finditer(text):
        value = match.group(1)
        if not DUMMY_SECRET.match(value) and re.fullmatch(r"[A-Za-z0-9/+=]{20,}", value):
            found.append(f"aws_secret_access_key = {value[:4]}…")
    return found


def test_the_secret_scanner_finds_what_it_looks_for() -> None:
    key_id = "AKIA" + "IOSFODNN7EXAMPLE"
    secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
    assert secrets_in(f"aws_access_key_id = {key_id}") == ["AWS access key id"]
    assert secrets_in(f"aws_secret_access_key = {secret}") == ["aws_secret_access_key = wJal…"]
    assert secrets_in("-----BEGIN RSA " + "PRIVATE KEY-----") == ["private key"]
    assert secrets_in("AWS_SECRET_ACCESS_KEY: testing\naws_secret_access_key=test") == []


def test_no_secrets_in_the_repository() -> None:
    findings = []
    scanned = 0
    for path in repository_files():
        try:
            text = path.read_text(errors="ignore")
        except OSError:
            continue
        scanned += 1
        findings += [f"{path.relative_to(ROOT)}: {what}" for what in secrets_in(text)]
    assert scanned > 50, scanned
    assert not findings, findings


# ---------------------------------------------------------------------------
# The presign policy


async def test_presign_policy_is_pinned(stack: Stack) -> None:
    hostile_name = "../../uploads/other-id ${key}.jpg"
    asked = datetime.now(UTC)
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{stack.url('upload')}/upload-request",
            json={"filename": hostile_name, "contentType": "image/png", "size": 1234},
            headers=auth_headers(stack.url("upload")),
        )
    assert response.status_code == 201, response.text
    ticket = response.json()
    image_id, fields = ticket["imageId"], ticket["upload"]["fields"]
    key = f"uploads/{image_id}"
    assert fields["key"] == key  # no user text in any key
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]

    def condition(name: str) -> list[Any]:
        found = []
        for item in conditions:
            if isinstance(item, dict) and name in item:
                found.append(["eq", f"${name}", item[name]])
            elif isinstance(item, list) and item[1:2] == [f"${name}"]:
                found.append(item)
        return found

    assert condition("key") == [["eq", "$key", key]]
    assert condition("bucket") == [["eq", "$bucket", stack.env["SNAPQUEUE_UPLOADS_BUCKET"]]]
    assert condition("Content-Type") == [["eq", "$Content-Type", "image/png"]]
    ranges = [c for c in conditions if isinstance(c, list) and c[0] == "content-length-range"]
    assert ranges == [["content-length-range", 1, ticket["maxBytes"]]]
    assert ticket["maxBytes"] == 25 * 1024 * 1024
    # No starts-with: nothing in the form may be chosen by the client.
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expiration - asked).total_seconds() <= 300 + 2, policy["expiration"]
    # Signed (SigV4 or, on some endpoints, V2): the policy cannot be edited by the client.
    assert "x-amz-signature" in fields or "signature" in fields, sorted(fields)


async def test_presigned_post_is_signed_with_sigv4(stack: Stack) -> None:
    """S3 refuses SigV2 for buckets created since mid-2020; botocore still uses it in
    us-east-1 unless told otherwise."""
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{stack.url('upload')}/upload-request",
            json={"filename": "a.png", "contentType": "image/png", "size": 10},
            headers=auth_headers(stack.url("upload")),
        )
    assert response.status_code == 201, response.text
    fields = response.json()["upload"]["fields"]
    assert fields.get("x-amz-algorithm") == "AWS4-HMAC-SHA256", sorted(fields)
    assert "AWSAccessKeyId" not in fields


# ---------------------------------------------------------------------------
# Origins: the WebSocket allowlist and CORS


def ws_connect(stack: Stack, origin: str | None) -> Any:
    return websockets.connect(
        stack.ws_url,
        origin=origin,  # type: ignore[arg-type]
        additional_headers=auth_headers(stack.ws_url),
        open_timeout=20,
        proxy=None,
        compression=None,
    )


async def test_websocket_origin_allowlist(stack: Stack) -> None:
    for origin in (FOREIGN_ORIGIN, "null", "http://127.0.0.1:8080.evil.example"):
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(stack, origin):
                pass
        assert refused.value.response.status_code == 403, origin
    async with ws_connect(stack, ALLOWED_ORIGIN) as ws:
        await ws.send("{}")
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "error"


async def test_websocket_allowlist_follows_the_configured_cors_origins(stack: Stack) -> None:
    """With only ``SNAPQUEUE_CORS_ORIGINS`` set, the notifier admits exactly those origins."""
    notifier = stack.processes["notifier"]
    saved = dict(notifier.env)
    notifier.env.pop("SNAPQUEUE_ALLOWED_ORIGINS", None)
    notifier.env["SNAPQUEUE_CORS_ORIGINS"] = "https://app.example,https://www.app.example"
    try:
        notifier.restart()
        await asyncio.to_thread(notifier.wait_healthy, 60)
        async with ws_connect(stack, "https://app.example"):
            pass
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(stack, ALLOWED_ORIGIN):
                pass
        assert refused.value.response.status_code == 403
    finally:
        notifier.env.clear()
        notifier.env.update(saved)
        notifier.restart()
        await asyncio.to_thread(notifier.wait_healthy, 60)


async def test_cors_only_for_configured_origins(stack: Stack) -> None:
    url = f"{stack.url('upload')}/upload-request"
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with httpx.AsyncClient(timeout=30) as http:
        foreign = await http.options(url, headers={"Origin": FOREIGN_ORIGIN, **preflight})
        # The built-in default origin, not configured for this stack: refused as well.
        default = await http.options(url, headers={"Origin": "http://localhost:8080", **preflight})
        allowed = await http.options(url, headers={"Origin": ALLOWED_ORIGIN, **preflight})
        simple = await http.get(
            f"{stack.url('upload')}/get-all-images", headers={"Origin": FOREIGN_ORIGIN}
        )
    assert foreign.status_code < 500
    assert "access-control-allow-origin" not in foreign.headers, foreign.headers
    assert "access-control-allow-origin" not in default.headers, default.headers
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-origin" not in simple.headers, simple.headers
    for response in (foreign, allowed, simple):
        assert response.headers.get("access-control-allow-origin") != "*"


# ---------------------------------------------------------------------------
# No EXIF or GPS in any variant

METADATA_MARKERS = (b"Exif\x00\x00", b"http://ns.adobe.com/xap/1.0/", b"<x:xmpmeta", b"eXIf")


def gps_keys(value: Any, path: str = "") -> list[str]:
    """Keys that would carry coordinates (``gpsPresent`` says only whether there were any)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            lowered = str(key).lower()
            if any(word in lowered for word in ("latitude", "longitude", "gpsinfo", "altitude")):
                found.append(f"{path}.{key}")
            found += gps_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += gps_keys(item, f"{path}[{index}]")
    return found


async def test_no_exif_or_gps_in_any_variant(stack: Stack) -> None:
    sources = ["pillow/exif_gps.jpg", "orientation/Landscape_6.jpg", "pillow/exif.png"]
    items = []
    for name in sources:
        payload = (CORPUS / name).read_bytes()
        with Image.open(io.BytesIO(payload)) as source:
            assert source.getexif(), f"{name} has no EXIF: the test would prove nothing"
        kind = "image/png" if name.endswith(".png") else "image/jpeg"
        items.append(UploadItem(payload, kind, Path(name).name, name))
    with Image.open(CORPUS / sources[0]) as source:
        assert source.getexif().get_ifd(0x8825), "exif_gps.jpg has no GPS IFD"

    async with WsPool(stack.ws_url, 1, ALLOWED_ORIGIN) as pool:
        run = await run_uploads(stack.url("upload"), pool, items, concurrency=3)
        assert not run.failures(), [o.error for o in run.failures()]
        assert not await pool.wait_terminal(run.image_ids, within=90), tails(stack)

    problems = []
    fetched = 0
    async with httpx.AsyncClient(timeout=30) as http:
        for outcome in run.outcomes:
            body = (
                await http.get(
                    f"{stack.url('upload')}/image/{outcome.image_id}",
                    headers=auth_headers(stack.url("upload")),
                )
            ).json()
            where = outcome.item.label
            assert body["status"] == "COMPLETED", body
            problems += [f"{where}: coordinates in metadata at {k}" for k in gps_keys(body)]
            for name, variant in body["variants"].items():
                data = (await http.get(variant["url"])).raise_for_status().content
                fetched += 1
                with Image.open(io.BytesIO(data)) as image:
                    if image.getexif():
                        problems.append(f"{where} {name}: EXIF {dict(image.getexif())}")
                    for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment"):
                        if key in image.info:
                            problems.append(f"{where} {name}: info[{key!r}] present")
                    icc = image.info.get("icc_profile") or b""
                    if b"GPS" in icc:
                        problems.append(f"{where} {name}: GPS inside the ICC profile")
                problems += [
                    f"{where} {name}: bytes contain {marker!r}"
                    for marker in METADATA_MARKERS
                    if marker in data
                ]
    assert fetched == 3 * len(sources)
    assert not problems, problems


# ---------------------------------------------------------------------------
# No server-side fetch of user-supplied URLs

SERVICE_SOURCES = [
    ROOT / "upload-service" / "src",
    ROOT / "processing-worker" / "src",
    ROOT / "notifier-service" / "src",
    ROOT / "libs" / "snapqueue-core" / "src",
]
# HTTP (and WebSocket) client libraries: a service that imports none cannot fetch a URL.
CLIENT_MODULES = (
    "httpx",
    "requests",
    "urllib.request",
    "urllib3",
    "http.client",
    "aiohttp",
    "pycurl",
    "websockets.client",
    "websockets.asyncio.client",
    "websockets.sync.client",
)
RAW_CONNECT_CALLS = ("open_connection", "create_connection", "urlopen")
# The one outbound fetch the services make, of a URL from their settings: the user pool's
# signing keys. These files may use an HTTP client; every request they make is checked below.
JWKS_FETCHERS = {
    "libs/snapqueue-core/src/snapqueue_core/tokens.py": "fetches settings.jwks_url",
    "upload-service/src/upload_service/app.py": "opens the client tokens.py fetches with",
    "notifier-service/src/notifier_service/app.py": "opens the client tokens.py fetches with",
}
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "request", "stream", "send")
# Names from those libraries that cannot fetch anything: exception types to catch, and
# aiohttp's server side (the worker's health endpoint).
HARMLESS_NAMES = ("aiohttp.ClientError",)
HARMLESS_MODULES = ("aiohttp.web",)


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # What a from-import brings in is its names, each judged on its own.
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def outbound_problems(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    problems = [
        f"{where}:{line}: imports {name}"
        for line, name in imported_modules(tree)
        if any(name == m or name.startswith(m + ".") for m in CLIENT_MODULES)
        and name not in HARMLESS_NAMES
        and not any(name == m or name.startswith(m + ".") for m in HARMLESS_MODULES)
    ]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = ast.unparse(node.func)
        if called.rsplit(".", 1)[-1] in RAW_CONNECT_CALLS:
            problems.append(f"{where}:{node.lineno}: calls {called}")
        for keyword in node.keywords:
            # botocore endpoints come from settings (or the environment), never a request.
            if keyword.arg == "endpoint_url":
                value = ast.unparse(keyword.value)
                if value not in ("None", "endpoint_url") and "settings." not in value:
                    problems.append(f"{where}:{node.lineno}: endpoint_url={value}")
    return problems


def test_the_outbound_fetch_scan_finds_what_it_looks_for() -> None:
    hostile = (
        "import httpx\nfrom urllib.request import urlopen\nimport aiohttp\n"
        "from aiohttp import ClientSession, ClientError\nfrom aiohttp.web import Application\n"
        "async def f(body, session):\n"
        "    urlopen(body.url)\n"
        "    session.create_client('s3', endpoint_url=body['callback'])\n"
    )
    # httpx, urlopen (imported and called), aiohttp, ClientSession, the endpoint.
    assert len(outbound_problems(hostile, "x.py")) == 6
    # In a JWKS fetcher, only the configured URL may be requested.
    fetcher = "async def f(self, body):\n    await self._http.get(self._settings.jwks_url)\n"
    assert jwks_fetch_problems(fetcher, "t.py") == []
    assert len(jwks_fetch_problems(fetcher + "    await self._http.get(body.url)\n", "t.py")) == 1
    benign = "from urllib.parse import urlsplit\nfrom starlette.requests import Request\n"
    assert outbound_problems(benign, "y.py") == []


def jwks_fetch_problems(source: str, where: str) -> list[str]:
    """In a file allowed an HTTP client: any request whose URL is not the settings' JWKS URL
    (directly, or through a local name assigned from it)."""
    tree = ast.parse(source)
    assigned = {
        target.id: ast.unparse(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    problems = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in HTTP_METHODS
            and "http" in ast.unparse(node.func.value)
        ):
            url = ast.unparse(node.args[0]) if node.args else ""
            if "jwks_url" not in assigned.get(url, url):
                problems.append(f"{where}:{node.lineno}: requests {url or '?'}")
    return problems


def test_no_server_side_fetch_of_user_supplied_urls() -> None:
    problems = []
    files = [path for root in SERVICE_SOURCES for path in sorted(root.rglob("*.py"))]
    for path in files:
        where = str(path.relative_to(ROOT))
        if where in JWKS_FETCHERS:
            problems += jwks_fetch_problems(path.read_text(), where)
            continue
        problems += outbound_problems(path.read_text(), where)
    assert len(files) > 20, files
    assert not problems, problems
