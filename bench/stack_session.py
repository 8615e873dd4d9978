"""The embedded stack for the service benchmarks, started once per ``python -m bench`` run."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.stack import Stack
from snapqueue_core.settings import CoreSettings

# The notifier refuses handshakes beyond max_connections; the benchmark holds 10k exactly
# plus its latency clients, so it gets some headroom.
# The end-to-end benchmark restarts the worker, which first lets its open long poll end:
# a 5 s poll instead of 20 s (under load a poll returns at once either way).
# Per-user limits far above the load: every request is still counted (the same DynamoDB
# writes), but the one benchmark user is never refused.
BENCH_ENV = {
    "SNAPQUEUE_MAX_CONNECTIONS": "12000",
    "SNAPQUEUE_RECEIVE_WAIT_SECONDS": "5",
    "SNAPQUEUE_USER_UPLOADS_PER_MINUTE": "100000000",
    "SNAPQUEUE_USER_MAX_BYTES": str(10**15),
}


@contextmanager
def bench_stack(services: tuple[str, ...], workdir: Path) -> Iterator[Stack]:
    stack = Stack(workdir, BENCH_ENV)
    try:
        stack.start_emulator()
        stack.start(*services, timeout=120)
        # This process talks to the same emulator and resources (botocore reads the
        # endpoint from the environment).
        os.environ.update(
            {k: v for k, v in stack.env.items() if k.startswith(("AWS_", "SNAPQUEUE_"))}
        )
        yield stack
    finally:
        # Services first and all at once (each may take seconds to drain), then the
        # emulator they needed for a clean shutdown.
        for name, process in stack.processes.items():
            if name != "emulator":
                process.signal(signal.SIGTERM)
        stack.stop()


def stack_settings() -> CoreSettings:
    return CoreSettings.from_env()
