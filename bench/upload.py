"""The upload-service benchmark: ``POST /upload-request`` at N concurrent clients.

The real service (which writes a DynamoDB record on the emulator and signs a POST
policy per request) runs next to two ceilings started here with the same uvicorn
settings: a FastAPI app with the same models and no AWS call, and a bare ASGI app. Each
target gets the same closed-loop load for the same time, one after the other. The load is
:meth:`snapqueue_client.AsyncSnapQueue.request_upload`, the call a browser's upload starts
with, so the client's own parsing is part of what each request costs the load generator.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import httpx

from devstack.stack import ROOT, Stack, free_port
from snapqueue_client import AsyncSnapQueue, SnapQueueError, __version__

from .accounts import bench_user, verification_cost
from .profile import Profile
from .results import BenchRun, Stamp, UploadBaseline, UploadResult, UploadTarget
from .stats import summary_ms

FILENAME, CONTENT_TYPE, SIZE = "holiday.jpg", "image/jpeg", 482113
CLIENT = f"`snapqueue_client.AsyncSnapQueue.request_upload` (snapqueue-client {__version__})"


async def load(api_url: str, clients: int, seconds: float, token: str) -> UploadTarget:
    """Closed loop: each client sends its next request as soon as the last one answers."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    transport = httpx.AsyncHTTPTransport(limits=limits)
    async with AsyncSnapQueue(api_url, token=token, timeout=30.0, transport=transport) as client:
        # One untimed request per connection, so handshakes are not measured.
        await asyncio.gather(
            *(client.request_upload(FILENAME, CONTENT_TYPE, SIZE) for _ in range(clients))
        )
        start = time.perf_counter()
        stop_at = start + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                try:
                    await client.request_upload(FILENAME, CONTENT_TYPE, SIZE)
                except SnapQueueError:
                    errors += 1
                else:
                    latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return UploadTarget(
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        latency_ms=summary_ms(latencies),
    )


# The last full run before sign-in existed: the upload-service's throughput then, for the
# report's before-and-after (both from the same machine, hours apart).
BEFORE_ACCOUNTS = ROOT / "docs" / "benchmarks" / "runs" / "2026-12-04T2150-ce02b1a6be.json"


def baseline() -> UploadBaseline | None:
    if not BEFORE_ACCOUNTS.exists():
        return None
    before = BenchRun.model_validate_json(BEFORE_ACCOUNTS.read_text()).upload
    if before is None:
        return None
    return UploadBaseline(
        measured=before.measured, rps=before.targets["upload-service"].rps, clients=before.clients
    )


def _start_hello(kind: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.hello_app", "--port", str(port), "--kind", kind],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hello app ({kind}) exited with {proc.returncode}")
        try:
            if httpx.get(base + "/healthz", timeout=1.0).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"hello app ({kind}) did not start")


def run(stack: Stack, profile: Profile, measured: Stamp, log: Any = print) -> UploadResult:
    clients, seconds = profile.upload_clients, profile.upload_seconds
    # Signed in, as every browser is; the ceilings ignore the header.
    user = bench_user(stack)
    targets: dict[str, UploadTarget] = {}
    for name, kind in (
        ("upload-service", None),
        ("fastapi-hello", "fastapi"),
        ("asgi-hello", "asgi"),
    ):
        proc = None
        if kind is None:
            base = stack.url("upload")
        else:
            proc, base = _start_hello(kind)
        try:
            result = asyncio.run(load(base, clients, seconds, user.access_token))
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        targets[name] = result
        log(
            f"upload: {name}: {result.rps:.0f} req/s, "
            f"p99 {result.latency_ms.p99:.1f} ms, {result.errors} errors"
        )
    verify = verification_cost(user, profile.token_verifications)
    log(f"upload: token verification p50 {1000 * verify.p50:.0f} µs")
    return UploadResult(
        measured=measured,
        client=CLIENT,
        clients=clients,
        seconds=seconds,
        targets=targets,
        token_verify_ms=verify,
        token_verifications=profile.token_verifications,
        before=baseline(),
    )
