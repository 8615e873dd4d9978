"""CPU pinning for the end-to-end benchmark's "worker on its own core" configuration.

``os.sched_setaffinity(pid)`` moves one thread; a running service has several (the
emulator one per connection), so every thread of the process and its children is moved.
Threads created later inherit the mask of the thread that creates them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import psutil


def available() -> bool:
    return hasattr(os, "sched_setaffinity") and len(all_cpus()) >= 2


def all_cpus() -> set[int]:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def pin_process_tree(pid: int, cpus: set[int]) -> None:
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(FileNotFoundError):  # the process ended meanwhile
            for tid in os.listdir(f"/proc/{process.pid}/task"):
                with contextlib.suppress(ProcessLookupError):  # the thread ended
                    os.sched_setaffinity(int(tid), cpus)


@contextlib.contextmanager
def this_thread_on(cpus: set[int]) -> Iterator[None]:
    """Run the calling thread (and threads it starts meanwhile) on ``cpus``."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU time so far of a process (and, by default, its children)."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *(root.children(recursive=True) if children else [])]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total
