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

from moto.server import ThreadedMotoServer

from snapqueue_core.bootstrap_cli import run as run_bootstrap
from snapqueue_core.logs import configure_logging
from snapqueue_core.settings import CoreSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SNAPQUEUE_EMULATOR_PORT", "4566"))
    )
    parser.add_argument("--no-bootstrap", action="store_true")
    args = parser.parse_args(argv)

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
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
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
