"""Idle WebSocket connections held against a replica by ``bench.ws_holder`` processes."""

from __future__ import annotations

import contextlib
import resource
import subprocess
import sys

import psutil

from devstack.stack import ROOT

CONNECTIONS_PER_HOLDER = 5000
SETTLE_SECONDS = 1.5


def rss_bytes(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def allow_many_sockets(pid: int) -> None:
    """Raise a replica's open-file limit to the hard limit: one descriptor a socket."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (hard, hard))


class Holders:
    """A few ``ws_holder`` processes, stepped together to a total connection count."""

    @classmethod
    def enough_for(cls, url: str, connections: int) -> Holders:
        """As many processes as ``connections`` needs, ``CONNECTIONS_PER_HOLDER`` each."""
        return cls(url, max(1, -(-connections // CONNECTIONS_PER_HOLDER)))

    def __init__(self, url: str, count: int) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.ws_holder", url],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]

    def hold(self, total: int) -> None:
        shares = [total // len(self.procs)] * len(self.procs)
        shares[0] += total - sum(shares)
        for proc, share in zip(self.procs, shares, strict=True):
            assert proc.stdin is not None
            proc.stdin.write(f"hold {share}\n")
            proc.stdin.flush()
        for proc, share in zip(self.procs, shares, strict=True):
            assert proc.stdout is not None
            answer = proc.stdout.readline().strip()
            if answer != f"held {share}":
                raise RuntimeError(f"ws_holder could not hold {share} connections: {answer!r}")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None and proc.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.write("quit\n")
                    proc.stdin.flush()
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
