"""The embedded AWS emulator: moto's server over real HTTP, bootstrapped with our resources.

``python -m devstack.emulator`` serves on 127.0.0.1:4566 (``SNAPQUEUE_EMULATOR_PORT``),
applies the same bootstrap as docker-compose's init service, prints one ``ready`` line,
and runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from snapqueue_core.bootstrap_cli import run as run_bootstrap
from snapqueue_core.logs import configure_logging
from snapqueue_core.settings import CoreSettings


class AtomicDynamoDB:
    """WSGI middleware: one DynamoDB request at a time.

    DynamoDB applies a conditional write atomically; moto's server evaluates the condition
    and writes in separate steps on concurrent request threads, so two "exclusive" claims
    can both succeed. Serialising DynamoDB requests restores the guarantee the product
    relies on. SQS and S3 stay concurrent (SQS long polls would block everything).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            # Materialise the body under the lock: the write happens while it is produced.
            return list(self._app(environ, start_response))


class MemoizedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves which host.

    moto lists its package directory (and stats every entry) on every request, under a
    lock all request threads share; that was a tenth of the emulator's CPU time.
    """

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


class QuietRequestHandler(MotoRequestHandler):
    """No access-log line per request (werkzeug's default): it costs the emulator ~8% of
    its CPU under load. Errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class EmulatorServer(ThreadedMotoServer):
    """moto's ``ThreadedMotoServer``, with DynamoDB's conditional writes made atomic,
    its backend lookup memoized and no per-request access log."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)

    def _server_entry(self) -> None:
        app = AtomicDynamoDB(MemoizedDispatcher(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=QuietRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SNAPQUEUE_EMULATOR_PORT", "4566"))
    )
    parser.add_argument("--no-bootstrap", action="store_true")
    parser.add_argument(
        "--linger",
        type=float,
        default=3.0,
        help="seconds to keep serving after SIGINT/SIGTERM, so services stopping at the "
        "same moment (make run's Ctrl-C) can finish their own cleanup calls",
    )
    args = parser.parse_args(argv)

    server = EmulatorServer(args.host, args.port)
    server.start()
    url = server.url
    os.environ.setdefault("AWS_ENDPOINT_URL", url)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_REGION", "us-east-1")

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    if not args.no_bootstrap:
        settings = CoreSettings.from_env()
        configure_logging("emulator", settings.log_level)
        asyncio.run(run_bootstrap(settings, wait_seconds=10))
    print(f"ready {url}", flush=True)
    stop.wait()
    time.sleep(args.linger)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
