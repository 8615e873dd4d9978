"""Start the real stack as processes: the emulator, the three services, optionally the SPA.

Used by the browser tests, the reliability suite and the benchmarks. Every process gets its
own log file, free ports and uniquely named resources, and can be stopped, killed, paused
and restarted for real.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack import READY_PREFIX

ROOT = Path(__file__).resolve().parent.parent

SERVICE_MODULES = {
    "upload": "upload_service",
    "notifier": "notifier_service",
    "worker": "processing_worker",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


USER_POOL_NAME = "snapqueue-users"


def auth_env(user_pool: Mapping[str, str], endpoint_url: str) -> dict[str, str]:
    """What the upload-service and the notifier need to sign users in with ``user_pool``
    (the bootstrap's summary of it) and to check their tokens."""
    pool_id, client_id = user_pool["userPoolId"], user_pool["clientId"]
    return {
        "SNAPQUEUE_COGNITO_USER_POOL_ID": pool_id,
        "SNAPQUEUE_COGNITO_CLIENT_ID": client_id,
        "SNAPQUEUE_AUTH_ISSUER": user_pool["issuer"],
        "SNAPQUEUE_AUTH_JWKS_URL": f"{endpoint_url}/{pool_id}/.well-known/jwks.json",
        "SNAPQUEUE_AUTH_CLIENT_IDS": client_id,
        # Development only: sign-up needs no e-mailed code.
        "SNAPQUEUE_AUTH_AUTO_CONFIRM": "true",
    }


def unique_resource_env(tag: str | None = None) -> dict[str, str]:
    tag = tag or uuid.uuid4().hex[:10]
    return {
        "SNAPQUEUE_UPLOADS_BUCKET": f"sq-uploads-{tag}",
        "SNAPQUEUE_PROCESSED_BUCKET": f"sq-processed-{tag}",
        "SNAPQUEUE_UPLOAD_QUEUE": f"sq-upload-events-{tag}",
        "SNAPQUEUE_UPLOAD_DLQ": f"sq-upload-events-dlq-{tag}",
        "SNAPQUEUE_IMAGES_TABLE": f"ImageMetadata-{tag}",
        "SNAPQUEUE_CONNECTIONS_TABLE": f"WebSocketConnections-{tag}",
        "SNAPQUEUE_USAGE_TABLE": f"UsageCounters-{tag}",
        "SNAPQUEUE_NOTIFY_QUEUE_PREFIX": f"sq-notify-{tag}-",
    }


@dataclass
class ManagedProcess:
    """One child process with its own log file; restartable with the same command."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    health_url: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    # CPUs to run on (the benchmark's pinned runs); set right after exec, before the
    # interpreter has started any thread or read its CPU count.
    cpus: set[int] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        log.write(f"\n--- start {self.name} (#{self.restarts}) ---\n".encode())
        log.flush()
        # Its own process group: npm's children (vite) must stop with it.
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        if self.cpus:
            os.sched_setaffinity(self.proc.pid, self.cpus)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self._proc().pid

    def _proc(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.proc

    def wait_healthy(self, timeout: float = 60.0, path: str = "/healthz") -> None:
        if self.health_url is None:
            raise RuntimeError(f"{self.name} has no health endpoint")
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            try:
                response = httpx.get(self.health_url.rstrip("/") + path, timeout=2.0)
                if response.status_code == 200:
                    return
                last = response.status_code
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not healthy after {timeout}s ({last!r}):\n{self.tail()}")

    def signal(self, signum: int) -> None:
        """Signal the whole process group (SIGSTOP pauses every thread and child)."""
        if self.running:
            os.killpg(self._proc().pid, signum)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait, then SIGKILL: the exit code, or None if it had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
            self._kill_group()
            return code
        self._kill_group()
        return self.proc.returncode

    def kill(self) -> None:
        if self.running:
            self.signal(signal.SIGKILL)
            self._proc().wait()
        self._kill_group()

    def _kill_group(self) -> None:
        """Whatever the leader left behind in its group (a shell's or npm's children)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # the group is already gone
            os.killpg(self.proc.pid, signal.SIGKILL)

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@dataclass
class Stack:
    """The emulator and services as processes, on free ports with unique resource names."""

    workdir: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    emulator_url: str = ""
    # The bootstrap's summary of the emulator's user pool (userPoolId, clientId, issuer).
    user_pool: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SNAPQUEUE_"))}
        emulator_port = free_port()
        self.emulator_url = f"http://127.0.0.1:{emulator_port}"
        self.env = {
            **base,
            "PYTHONUNBUFFERED": "1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.emulator_url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SNAPQUEUE_S3_ADDRESSING_STYLE": "path",
            "SNAPQUEUE_PUBLIC_S3_ENDPOINT": self.emulator_url,
            "SNAPQUEUE_USER_POOL_NAME": USER_POOL_NAME,
            **unique_resource_env(),
            **self.extra_env,
        }
        self.processes["emulator"] = ManagedProcess(
            name="emulator",
            argv=[sys.executable, "-m", "devstack.emulator", "--port", str(emulator_port)],
            env=self.env,
            log_path=self.workdir / "emulator.log",
        )
        for name, module in SERVICE_MODULES.items():
            port = free_port()
            self.processes[name] = ManagedProcess(
                name=name,
                argv=[sys.executable, "-m", module],
                env={**self.env, "SNAPQUEUE_HTTP_PORT": str(port)},
                log_path=self.workdir / f"{name}.log",
                health_url=f"http://127.0.0.1:{port}",
            )

    def url(self, name: str) -> str:
        url = self.processes[name].health_url
        if url is None:
            raise KeyError(f"{name} has no URL")
        return url

    @property
    def ws_url(self) -> str:
        return self.url("notifier").replace("http://", "ws://") + "/ws"

    def start_emulator(self, timeout: float = 60.0) -> None:
        emulator = self.processes["emulator"]
        emulator.start()
        deadline = time.monotonic() + timeout
        while READY_PREFIX not in emulator.tail(5):
            if not emulator.running or time.monotonic() > deadline:
                raise RuntimeError(f"emulator did not start:\n{emulator.tail()}")
            time.sleep(0.1)
        self.user_pool = self._bootstrapped_user_pool(emulator)
        signing_in = auth_env(self.user_pool, self.emulator_url)
        self.env.update(signing_in)
        for name in SERVICE_MODULES:
            self.processes[name].env.update(signing_in)

    @staticmethod
    def _bootstrapped_user_pool(emulator: ManagedProcess) -> dict[str, str]:
        for line in emulator.tail(400).splitlines():
            if line.startswith("bootstrap "):
                pool: dict[str, str] = json.loads(line.removeprefix("bootstrap "))["userPool"]
                return pool
        raise RuntimeError(f"the emulator did not report its user pool:\n{emulator.tail()}")

    def start(self, *names: str, timeout: float = 60.0) -> None:
        names = names or tuple(SERVICE_MODULES)
        for name in names:
            self.processes[name].start()
        for name in names:
            self.processes[name].wait_healthy(timeout)

    def add_frontend(self, port: int | None = None) -> str:
        """Serve the built SPA with ``vite preview``, proxying to this stack's services."""
        port = port or free_port()
        npm_preview = ["npm", "--prefix", str(ROOT / "frontend"), "run", "preview", "--"]
        self.processes["frontend"] = ManagedProcess(
            name="frontend",
            argv=[*npm_preview, "--port", str(port), "--strictPort"],
            env={
                **self.env,
                "SNAPQUEUE_API_TARGET": self.url("upload"),
                "SNAPQUEUE_WS_TARGET": self.url("notifier"),
            },
            log_path=self.workdir / "frontend.log",
            health_url=f"http://127.0.0.1:{port}",
        )
        return f"http://127.0.0.1:{port}"

    def stop(self) -> dict[str, int | None]:
        codes = {}
        for name in reversed(list(self.processes)):
            codes[name] = self.processes[name].stop()
        return codes
