"""The embedded AWS emulator: moto's backends over real HTTP, bootstrapped with our resources.

``python -m devstack.emulator`` serves on 127.0.0.1:4566 (``SNAPQUEUE_EMULATOR_PORT``),
applies the same bootstrap as docker-compose's init service, prints one ``ready`` line,
and runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import moto
import moto.sqs.models as moto_sqs_models
from cheroot import wsgi
from moto.core.utils import unix_time
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import Message, Queue, SQSBackend

from devstack import READY_PREFIX
from snapqueue_core.bootstrap_cli import run as run_bootstrap
from snapqueue_core.logs import configure_logging
from snapqueue_core.settings import CoreSettings
from snapqueue_core.startup import freeze_startup_heap

log = logging.getLogger(__name__)


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
    lock all request threads share: a large part of the emulator's CPU time. This overrides
    the dispatcher's public lookup method; moto's own app is otherwise untouched.
    """

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


# The moto release and the digest of its moto/sqs/models.py that read_queue_flags_directly
# was written against. pyproject.toml pins the same version; the emulator's tests fail when
# either changes, so an upgrade re-reads the wrapped code instead of trusting it.
REVIEWED_MOTO_VERSION = "5.2.5"
REVIEWED_SQS_MODELS_SHA256 = "c04224ad14c39581f5c54260911971fabac7c04bc956c34d23e3c1ad3d838f41"


def reviewed_sqs_models() -> bool:
    """True when the installed moto is the one read_queue_flags_directly was written for."""
    source = Path(moto_sqs_models.__file__).read_bytes()
    return (
        moto.__version__ == REVIEWED_MOTO_VERSION
        and hashlib.sha256(source).hexdigest() == REVIEWED_SQS_MODELS_SHA256
    )


def read_queue_flags_directly() -> None:
    """Let SendMessage and ReceiveMessage read a queue's settings without counting it.

    To read one setting (content-based deduplication on every send; the retention period
    three times for every message a receive returns), moto builds every attribute of the
    queue, three of which count its messages, each message against its own reading of
    the clock. Every message sent or received thus costs time in proportion to the queue's
    backlog, and a backlog feeds itself: at the notifier benchmark's event rate the
    emulator's requests time out and the benchmark cannot run (docs/benchmarks.md gives
    the measurement). moto offers no public way to read one attribute, so this wraps two
    public methods of its SQS backend and the ``attributes`` property of its queue: only
    on the reviewed moto release (``REVIEWED_MOTO_VERSION``); on any other it does nothing
    and says so, and the emulator is merely slower. Idempotent.
    """
    if not reviewed_sqs_models():
        log.warning(
            "moto %s is not the reviewed %s: SQS attribute reads are left as moto does them",
            moto.__version__,
            REVIEWED_MOTO_VERSION,
        )
        return
    send = SQSBackend.__dict__["send_message"]
    if getattr(send, "snapqueue_direct", False):
        return
    every_attribute = Queue.__dict__["attributes"].fget
    # A request runs in its own thread, and a send touches one queue.
    sending = threading.local()

    def attributes(queue: Queue) -> dict[str, Any]:
        if getattr(sending, "queue", None) is not queue:
            return every_attribute(queue)  # type: ignore[no-any-return]
        # All a send reads, as moto builds it: present on FIFO queues only.
        if not queue.fifo_queue:
            return {}
        flag = queue.content_based_deduplication
        return {"ContentBasedDeduplication": str(flag).lower() if isinstance(flag, bool) else flag}

    @functools.wraps(send)
    def send_message(backend: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        sending.queue = backend.get_queue(queue_name)
        try:
            return send(backend, queue_name, *args, **kwargs)
        finally:
            sending.queue = None

    def is_message_valid_based_on_retention_period(
        backend: SQSBackend, queue_name: str, message: Message
    ) -> bool:
        # Set from the queue's attributes by name, so not declared on moto's class.
        retention: Any = backend.get_queue(queue_name).message_retention_period  # type: ignore[attr-defined]
        sent_ms: Any = message.sent_timestamp  # set when sent; moto types it optional
        return bool(int(retention) + sent_ms / 1000 > unix_time())

    send_message.snapqueue_direct = True  # type: ignore[attr-defined]
    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
    SQSBackend.send_message = send_message  # type: ignore[method-assign,assignment]
    retained: Any = is_message_valid_based_on_retention_period
    SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]


class EmulatorServer:
    """moto's WSGI app over HTTP/1.1 with keep-alive, in a background thread.

    ``moto.server.ThreadedMotoServer`` serves through werkzeug's development server,
    which closes the connection after every response: each AWS call then paid a TCP
    connect and teardown on both ends, and the emulator a new thread per request. AWS
    keeps connections alive, so cheroot (a threaded HTTP/1.1 server with keep-alive)
    serves the same app here. cheroot's pool does not grow, and a request that waits holds
    its thread (an SQS long poll up to 20 s, a DynamoDB request queued behind
    ``AtomicDynamoDB``'s lock), so the pool is sized for the notifier benchmark's many
    concurrent long polls and sends rather than for the stack's few clients.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 256,
        *,
        sqs_shortcut: bool = True,
    ) -> None:
        # Cognito ids derived from the pool's name and settings, not random: every run of
        # the bootstrap yields the ids .env.embedded and the compose files already name.
        # (moto's documented switches, read whenever a pool or client is created.)
        os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY", "HASH")
        os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY", "HASH")
        # Off only to measure what it buys (bench/emulator_sqs.py); it patches moto
        # process-wide, so a process has it or not.
        if sqs_shortcut:
            read_queue_flags_directly()
        app = AtomicDynamoDB(MemoizedDispatcher(create_backend_app))
        # Idle keep-alive connections are closed after ``timeout`` seconds: longer than
        # aiohttp keeps an idle connection (15 s), so the client always closes first and
        # never sends a request on a connection the server is closing.
        self._server = wsgi.Server(
            (host, port), app, numthreads=threads, timeout=60, request_queue_size=128
        )
        self._server.server_name = "snapqueue-emulator"
        # cheroot keeps at most 10 idle keep-alive connections, server-wide, and closes the
        # rest after their response. The stack's clients hold more than that (each service's
        # pool, the browsers' uploads): with the limit, connections were opened and torn
        # down for every processed image. Idle connections cost no thread, only a socket.
        # None means no cap (cheroot's documentation; its type hint says int only).
        self._server.keep_alive_conn_limit = None  # type: ignore[assignment]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve; the port is known when this returns."""
        ready = threading.Event()
        failed: list[OSError] = []

        def serve() -> None:
            # cheroot's request threads are started by prepare() and inherit its thread's
            # daemon flag: started here, they never keep the process alive at exit.
            try:
                self._server.prepare()
            except OSError as exc:  # the port is taken, say: start() raises it
                failed.append(exc)
                return
            finally:
                ready.set()
            self._server.serve()

        self._thread = threading.Thread(target=serve, name="emulator-http", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the emulator did not bind within 30 s")
        if failed:
            raise failed[0]

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.bind_addr[:2]  # type: ignore[index,misc]
        return str(host), int(port)

    def stop(self, timeout: float = 0.5) -> None:
        """Stop serving. cheroot's own stop ends by waiting for every running request,
        and an SQS long poll can run 20 s more: after ``timeout`` the rest is left to
        the process's exit (the threads are daemons)."""
        stopping = threading.Thread(target=self._server.stop, name="emulator-stop", daemon=True)
        stopping.start()
        stopping.join(timeout)

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
        "--no-sqs-shortcut",
        action="store_true",
        help="serve SQS exactly as moto does (to measure what read_queue_flags_directly buys)",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=3.0,
        help="seconds to keep serving after SIGINT/SIGTERM, so services stopping at the "
        "same moment (make run's Ctrl-C) can finish their own cleanup calls",
    )
    args = parser.parse_args(argv)

    server = EmulatorServer(args.host, args.port, sqs_shortcut=not args.no_sqs_shortcut)
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
        summary = asyncio.run(run_bootstrap(settings, wait_seconds=10))
        # devstack.stack reads the user pool's ids from this line.
        print(f"bootstrap {json.dumps(summary)}", flush=True)
    # moto's modules and backends: full collections walked them all, stopping every
    # request while they ran.
    freeze_startup_heap()
    print(f"{READY_PREFIX}{url}", flush=True)
    stop.wait()
    time.sleep(args.linger)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
