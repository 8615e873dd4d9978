"""`make run`'s process set (honcho + Procfile) starts everything and stops on one Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devstack.stack import ROOT, free_port

SERVICES = {"UPLOAD_PORT": "upload", "NOTIFIER_PORT": "notifier", "WORKER_PORT": "worker"}


def wait_for(url: str, deadline: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"honcho exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} never answered:\n{log.read_text()[-4000:]}")


def test_procfile_starts_the_stack_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    ports = {name: str(free_port()) for name in ("EMULATOR_PORT", *SERVICES)}
    emulator = f"http://127.0.0.1:{ports['EMULATOR_PORT']}"
    embedded = (ROOT / ".env.embedded").read_text()
    env_file = tmp_path / "env"
    env_file.write_text(
        embedded.replace("http://127.0.0.1:4566", emulator)
        + "".join(f"{k}={v}\n" for k, v in ports.items())
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SNAPQUEUE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "honcho"),
                "-e",
                str(env_file),
                "-f",
                str(ROOT / "Procfile"),
                "start",
                "emulator",
                *SERVICES.values(),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        for key in SERVICES:
            wait_for(f"http://127.0.0.1:{ports[key]}/readyz", deadline, proc, log)
        # The bootstrap ran inside the emulator process: the declared queue exists.
        response = httpx.post(
            emulator,
            data={"Action": "GetQueueUrl", "QueueName": "snapqueue-upload-events"},
            timeout=5.0,
        )
        assert response.status_code == 200, response.text
        proc.send_signal(signal.SIGINT)  # what one Ctrl-C in the terminal sends
        assert proc.wait(timeout=60) in (0, 130, -signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log.read_text()
    # Every process shut down cleanly on its own: none had to be killed.
    assert "SIGKILL" not in output, output[-4000:]
    for name in ("emulator", "upload", "notifier", "worker"):
        assert f"{name}.1 stopped (rc=0)" in output, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
