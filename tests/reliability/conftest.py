"""One real stack (emulator + the three services as processes) shared by the reliability suite.

Starting a stack costs tens of seconds on a loaded machine, so every test that needs one
shares it; the ``stack`` fixture first makes sure each process is up and healthy again
(a fault test may have left one killed or paused), and the invariant checks look only at
the images a test uploaded. The stack is stopped as soon as the suite leaves this folder.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devstack.stack import Stack
from tests.reliability.harness import SERVICES, launched, sign_in_stack_user

HERE = Path(__file__).resolve().parent
_running: list[Stack] = []


@pytest.fixture(scope="session")
async def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    with launched(tmp_path_factory.mktemp("reliability-stack")) as stack:
        _running.append(stack)
        # Everything the suite uploads and watches is this user's (harness.token_for).
        await sign_in_stack_user(stack)
        yield stack


@pytest.fixture
def stack(shared_stack: Stack) -> Stack:
    """The shared stack, every process running and healthy (restarted if a test broke it)."""
    emulator = shared_stack.processes["emulator"]
    emulator.signal(signal.SIGCONT)
    if not emulator.running:
        pytest.fail(f"the emulator died:\n{emulator.tail()}")
    for name in SERVICES:
        process = shared_stack.processes[name]
        process.signal(signal.SIGCONT)
        if not process.running:
            process.restart()
        process.wait_healthy(60)
    return shared_stack


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the stack once the next test is outside this folder (or there is none)."""
    if _running and (nextitem is None or HERE not in Path(nextitem.path).parents):
        with contextlib.suppress(Exception):
            _running.pop().stop()
