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
import io
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from cheroot import wsgi
from cheroot.makefile import MakeFile, StreamWriter
from cheroot.server import HTTPConnection
from moto.core.utils import unix_time
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.models import FakeKey
from moto.sqs.models import Message, Queue, SQSBackend

from snapqueue_core.bootstrap_cli import run as run_bootstrap
from snapqueue_core.logs import configure_logging
from snapqueue_core.settings import CoreSettings
from snapqueue_core.startup import freeze_startup_heap


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


def memoize_update_expressions() -> None:
    """Parse each distinct DynamoDB UpdateExpression once per process.

    moto parses the expression of every UpdateItem twice (to check the request, then to
    apply it), a quarter of its CPU per UpdateItem, for the same few expression strings
    over and over (values travel separately, as placeholders). The parsed tree is only
    read: moto's validator works on a deep copy of it. An image's create, claim and
    completion cost the emulator 16.1 ms instead of 19.7 (3 × 100 of each, alternated).
    Idempotent.
    """
    make = UpdateExpressionParser.__dict__["make"]
    if getattr(make, "snapqueue_memoized", False):
        return
    parse: Any = functools.lru_cache(maxsize=256)(make.__func__)
    memoized: Any = classmethod(parse)
    memoized.snapqueue_memoized = True
    UpdateExpressionParser.make = memoized  # type: ignore[method-assign]


def hash_etags_in_place() -> None:
    """Compute an object's ETag (the MD5 of its bytes) without copying them first.

    moto reads the whole object out of its buffer to hash it, on every upload (the S3 event
    carries the ETag): for a 3.5 MB photo, a 2.3 ms copy before a 4.8 ms MD5. An object
    held in memory is hashed where it lies; one spilled to disk goes moto's own way.
    Idempotent.
    """
    moto_etag = FakeKey.__dict__["etag"]
    if getattr(moto_etag.fget, "snapqueue_in_place", False):
        return

    def etag(key: FakeKey) -> str:
        if key._etag is None:
            held = getattr(key._value_buffer, "_file", None)
            if isinstance(held, io.BytesIO):
                with held.getbuffer() as view:
                    key._etag = hashlib.md5(view, usedforsecurity=False).hexdigest()
        return str(moto_etag.fget(key))

    etag.snapqueue_in_place = True  # type: ignore[attr-defined]
    FakeKey.etag = property(etag)  # type: ignore[method-assign,assignment]


def read_queue_flags_directly() -> None:
    """Let SendMessage and ReceiveMessage read a queue's settings without counting it.

    To read one setting (content-based deduplication on every send; the retention period
    three times for every message a receive returns), moto builds every attribute of the
    queue, three of which count its messages, each message against its own reading of
    the clock. Every message sent or received thus cost time in proportion to the queue's
    backlog, and a backlog fed itself: 300 events per second to one notifier replica
    buried the emulator within seconds, and at 500 its requests timed out. With the
    settings read from the queue itself, 500 per second are delivered with a median of
    about 15 ms. Idempotent.
    """
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


class SendingStreamWriter(StreamWriter):
    """cheroot's socket writer, sending each write straight from the caller's bytes.

    cheroot's writer appends every write to a buffer, copies the whole unsent rest before
    each ``send`` and then deletes what went out: a 3.5 MB object, sent a few hundred KB
    at a time, was copied some ten times over, the largest single cost of a GetObject.
    cheroot flushes after every write anyway, so its buffer never held anything between
    writes; this writer does not use it at all.
    """

    def write(self, data: Any, *args: Any, **kwargs: Any) -> int:  # type: ignore[override]
        self._checkClosed()
        if isinstance(data, str):
            raise TypeError("can't write str to binary stream")
        pending = memoryview(data)
        with self._write_lock:  # type: ignore[attr-defined]
            while pending:
                try:
                    sent = self.raw.write(pending)
                except BlockingIOError as exc:
                    sent = exc.characters_written
                pending = pending[int(sent) :]  # type: ignore[arg-type]  # never None: sockets have timeouts
        self.bytes_written += len(data)
        return len(data)


class EmulatorConnection(HTTPConnection):  # type: ignore[misc]
    """An HTTP connection whose responses go out through :class:`SendingStreamWriter`."""

    def __init__(self, server: Any, sock: Any, makefile: Any = MakeFile) -> None:
        super().__init__(server, sock, makefile)
        self.wfile = SendingStreamWriter(sock, "wb", self.wbufsize)


class EmulatorServer:
    """moto's WSGI app over HTTP/1.1 with keep-alive, in a background thread.

    ``moto.server.ThreadedMotoServer`` serves through werkzeug's development server,
    which closes the connection after every response: each AWS call then paid a TCP
    connect and teardown on both ends, and the emulator a new thread per request. AWS
    keeps connections alive, so cheroot (a threaded HTTP/1.1 server with keep-alive)
    serves the same app here. cheroot's pool does not grow, and a request that waits holds
    its thread (an SQS long poll up to 20 s, a DynamoDB request queued behind
    ``AtomicDynamoDB``'s lock): 64 threads starved the notifier benchmark at 200 events/s
    through SQS; 256 do not.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, threads: int = 256) -> None:
        # Work moto does that AWS does not (a second parse, a copy, counting a queue's
        # backlog to read one setting), on every image's and every event's path.
        memoize_update_expressions()
        hash_etags_in_place()
        read_queue_flags_directly()
        app = AtomicDynamoDB(MemoizedDispatcher(create_backend_app))
        # Idle keep-alive connections are closed after ``timeout`` seconds: longer than
        # aiohttp keeps an idle connection (15 s), so the client always closes first and
        # never sends a request on a connection the server is closing.
        self._server = wsgi.Server(
            (host, port), app, numthreads=threads, timeout=60, request_queue_size=128
        )
        self._server.server_name = "snapqueue-emulator"
        self._server.ConnectionClass = EmulatorConnection
        # cheroot keeps at most 10 idle keep-alive connections, server-wide, and closes the
        # rest after their response. The stack's clients hold more than that (each service's
        # pool, the browsers' uploads): with the limit, about two connections were opened
        # and torn down per processed image. Idle connections cost no thread, only a socket.
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
    # moto's modules and backends: full collections walked them all, stopping every
    # request for 60 to 200 ms.
    freeze_startup_heap()
    print(f"ready {url}", flush=True)
    stop.wait()
    time.sleep(args.linger)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
