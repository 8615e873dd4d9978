"""The client against the real stack: emulator, upload-service, notifier and worker as processes.

One stack serves every test here (starting one costs seconds on this machine); it is stopped
as soon as the run leaves this folder. Test images are made with Pillow, small and distinct.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from devstack.stack import Stack

HERE = Path(__file__).resolve().parent
_running: list[Stack] = []
# Short long-polls and grace periods: stopping the stack must not cost the tests 20 s of
# waiting for an SQS receive to return.
FAST_STOP_ENV = {
    "SNAPQUEUE_RECEIVE_WAIT_SECONDS": "2",
    "SNAPQUEUE_NOTIFY_WAIT_SECONDS": "2",
    "SNAPQUEUE_SHUTDOWN_GRACE_SECONDS": "2",
    "SNAPQUEUE_SHUTDOWN_TIMEOUT_SECONDS": "2",
}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("client-stack"), FAST_STOP_ENV)
    _running.append(stack)
    try:
        stack.start_emulator()
        stack.start(timeout=90)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def api_url(stack: Stack) -> str:
    return stack.url("upload")


@pytest.fixture(scope="session")
def ws_url(stack: Stack) -> str:
    return stack.ws_url


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the stack once the next test is outside this folder (or there is none)."""
    if _running and (nextitem is None or HERE not in Path(nextitem.path).parents):
        with contextlib.suppress(ProcessLookupError, OSError):
            _running.pop().stop()


def image_bytes(seed: int, kind: str = "JPEG", size: tuple[int, int] = (160, 120)) -> bytes:
    """A small, real, distinct image (JPEG or PNG)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randrange(10, 60), y0 + rng.randrange(10, 60)
        draw.rectangle((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def write_image(path: Path, seed: int, kind: str = "JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(seed, kind))
    return path


# Text that declares itself a PNG: the worker sniffs the bytes and refuses it.
NOT_AN_IMAGE = b"this is not an image, only text pretending to be one\n" * 20
