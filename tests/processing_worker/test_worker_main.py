"""``python -m processing_worker`` as a real process: settings errors, SIGTERM mid-job."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
import time
from typing import Any

from PIL import Image
from worker_helpers import raw_item, upload

from processing_worker.settings import WorkerSettings
from tests.conftest import resource_name_env


def worker_env(settings: WorkerSettings, **extra: str) -> dict[str, str]:
    # The aws_env fixture already points AWS_* at the emulator.
    env = {**os.environ, **resource_name_env(settings)}
    env.update(
        SNAPQUEUE_HTTP_PORT="0",
        SNAPQUEUE_RECEIVE_WAIT_SECONDS="1",
        SNAPQUEUE_CONCURRENCY="1",
        SNAPQUEUE_LOG_LEVEL="INFO",
        **extra,
    )
    return env


def large_png() -> bytes:
    """49 MP (just under the cap) but small on disk: slow to decode, quick to upload."""
    image = Image.linear_gradient("L").resize((7000, 7000)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


async def test_missing_settings_exit_2() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "processing_worker", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    assert b"aws_region" in stderr.lower() or b"AWS_REGION" in stderr


async def test_sigterm_mid_job_finishes_it_and_exits_zero(resources_factory: Any) -> None:
    settings, clients = await resources_factory(WorkerSettings)
    data = await asyncio.to_thread(large_png)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "processing_worker",
        env=worker_env(settings),
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        # Startup logs one "listening" line with the bound port.
        while True:
            line = await asyncio.wait_for(proc.stderr.readline(), timeout=30)
            assert line, "worker exited before listening"
            entry = json.loads(line)
            if entry["msg"] == "listening":
                assert entry["port"] > 0
                break
        image_id = await upload(clients, settings, data, "large.png")
        deadline = time.monotonic() + 30
        while (await raw_item(clients, settings, image_id)).get("status") != "PROCESSING":
            assert time.monotonic() < deadline, "the job never started"
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), timeout=40)
        code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    item = await raw_item(clients, settings, image_id)
    assert code == 0, rest.decode()[-2000:]
    assert item["status"] == "COMPLETED"  # the in-flight job was allowed to finish
    messages = [json.loads(line)["msg"] for line in rest.decode().splitlines() if line]
    assert "draining" in messages
    assert messages.index("draining") < messages.index("completed")
