"""Development tooling: the embedded AWS emulator and a process launcher for the whole stack.

Not shipped with any service; used by ``make run``, the tests and the benchmarks.
"""

# The line the emulator prints once it serves and its bootstrap is done: "ready http://host:port".
# Here rather than in devstack.emulator, so that reading it needs no moto import (the emulator
# image ships this file beside emulator.py).
READY_PREFIX = "ready "


def ready_url(line: str) -> str | None:
    """The URL of the emulator's ready line, or None for any other line."""
    if not line.startswith(READY_PREFIX):
        return None
    return line.removeprefix(READY_PREFIX).strip() or None
