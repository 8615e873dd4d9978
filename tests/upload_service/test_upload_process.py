"""``python -m upload_service`` as a real process: port 0, signals, and streaming memory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from snapqueue_core.aws import AwsClients
from snapqueue_core.settings import CoreSettings
from tests.conftest import aws_environment, resource_name_env
from tests.upload_service.upload_helpers import multipart_content_type, streamed_file

MiB = 1024 * 1024


@dataclass
class ServiceProcess:
    process: asyncio.subprocess.Process
    port: int
    lines: list[dict[str, Any]]
    settings: CoreSettings | None = None
    clients: AwsClients | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def launch(env: dict[str, str]) -> ServiceProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "upload_service",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        while True:
            raw = await process.stderr.readline()
            if not raw:
                raise AssertionError(f"service exited early: {lines}")
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                continue
            lines.append(entry)
            if entry.get("msg") == "listening":
                return ServiceProcess(process=process, port=int(entry["port"]), lines=lines)


@pytest.fixture
async def service_process(
    resources_factory: Any, emulator_url: str, aws_env: dict[str, str]
) -> AsyncIterator[ServiceProcess]:
    settings, clients = await resources_factory()
    env = {
        "PATH": os.environ.get("PATH", ""),
        # The emulator's AWS and its user pool (aws_env carries both).
        **aws_env,
        **aws_environment(emulator_url),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "SNAPQUEUE_HTTP_PORT": "0",
        **resource_name_env(settings),
    }
    running = await launch(env)
    running.settings, running.clients = settings, clients
    try:
        yield running
    finally:
        if running.process.returncode is None:
            running.process.kill()
            await running.process.wait()


async def test_port_zero_is_announced_and_sigterm_exits_cleanly(
    service_process: ServiceProcess,
) -> None:
    listening = service_process.lines[-1]
    assert listening["service"] == "upload-service"
    assert listening["port"] > 0
    async with httpx.AsyncClient(base_url=service_process.base_url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).status_code == 200
    service_process.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(15):
        assert await service_process.process.wait() == 0


async def test_missing_region_exits_2_with_a_message(emulator_url: str) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": emulator_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "upload_service",
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"aws_region" in stderr.lower() or b"AWS_REGION" in stderr


def rss_high_water_mark(pid: int) -> int | None:
    """Peak RSS (VmHWM) in bytes, or None where /proc does not offer it."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def reset_high_water_mark(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def upload_streamed(http: httpx.AsyncClient, size: int) -> httpx.Response:
    return await http.post(
        "/uploads",
        content=streamed_file(size),
        headers={"Content-Type": multipart_content_type()},
    )


async def test_20mb_upload_is_streamed_with_little_memory(
    service_process: ServiceProcess, user_factory: Any
) -> None:
    size = 20 * MiB
    process = psutil.Process(service_process.process.pid)
    user = await user_factory()
    async with httpx.AsyncClient(
        base_url=service_process.base_url, timeout=60, headers=user.headers
    ) as http:
        # Warm up every code path (imports, pools, allocator arenas) before measuring.
        for _ in range(2):
            assert (await upload_streamed(http, 2 * MiB)).status_code == 202
        baseline = process.memory_info().rss
        exact_peak = reset_high_water_mark(process.pid)

        sampled_peak = baseline
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal sampled_peak
            while not done.is_set():
                sampled_peak = max(sampled_peak, process.memory_info().rss)
                await asyncio.sleep(0.005)

        sampler = asyncio.create_task(sample())
        response = await upload_streamed(http, size)
        done.set()
        await sampler
        peak = (rss_high_water_mark(process.pid) if exact_peak else None) or sampled_peak

    assert response.status_code == 202, response.text
    image_id = response.json()["imageId"]
    growth = peak - baseline
    print(f"\n20 MiB upload: baseline RSS {baseline / MiB:.1f} MiB, peak +{growth / MiB:.2f} MiB")
    assert growth < 4 * MiB, f"peak RSS grew {growth / MiB:.1f} MiB for a 20 MiB upload"

    # The object landed whole, at its key, with its record waiting for the worker.
    assert service_process.settings is not None
    assert service_process.clients is not None
    head = await service_process.clients.s3.head_object(
        Bucket=service_process.settings.uploads_bucket, Key=f"uploads/{image_id}"
    )
    assert head["ContentLength"] == size
    async with httpx.AsyncClient(base_url=service_process.base_url, headers=user.headers) as http:
        answer = await http.get(f"/status/{image_id}")
    assert answer.status_code == 200, answer.text
    status = answer.json()
    assert status["status"] == "PENDING_UPLOAD"
