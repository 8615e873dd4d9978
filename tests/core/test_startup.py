"""``freeze_startup_heap`` runs in a child process: freezing would pin the test run's heap."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import gc, weakref
    from snapqueue_core.startup import freeze_startup_heap

    class Node:
        pass

    kept = Node()
    garbage = Node()
    garbage.me = garbage  # a cycle only the collector can free
    gone = weakref.ref(garbage)
    del garbage
    freeze_startup_heap()
    frozen = gc.get_freeze_count()
    # Startup's garbage was collected before the freeze, not pinned by it.
    assert gone() is None, "cyclic garbage frozen instead of collected"
    # What lives on is out of the collector's sight: a full collection leaves it be.
    assert frozen > 10_000, frozen
    assert not any(obj is kept for obj in gc.get_objects(generation=2))
    print(frozen)
    """
)


def test_startup_objects_are_frozen_after_startup_garbage_is_collected() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 10_000
