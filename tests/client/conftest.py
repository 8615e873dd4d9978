"""The client against the real stack: emulator, upload-service, notifier and worker as processes.

One stack serves every test here (starting one costs seconds on this machine); it is stopped
as soon as the run leaves this folder. Test images are made with Pillow, small and distinct.
Accounts are made through the API itself (the embedded stack confirms sign-ups at once); an
admin is put in the admins group over the stack's own Cognito emulator.
"""

from __future__ import annotations

import contextlib
import io
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiobotocore.session import get_session
from PIL import Image, ImageDraw

from devstack.stack import Stack
from snapqueue_client import SnapQueue

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


# No notifier on this port: sign-up and sign-in need none.
NO_SOCKET = "ws://127.0.0.1:9/ws"


@dataclass(frozen=True)
class Account:
    """A confirmed, signed-in user of the stack's pool."""

    email: str
    password: str
    user_id: str
    refresh_token: str
    access_token: str


def new_account(api_url: str) -> Account:
    email = f"client-{uuid.uuid4().hex[:12]}@example.com"
    password = f"Pw-{uuid.uuid4().hex[:12]}-A1!"
    with SnapQueue(api_url, NO_SOCKET) as client:
        created = client.sign_up(email, password)
        assert created.confirmed, "the embedded stack confirms sign-ups at once"
        tokens = client.sign_in(email, password)
    assert tokens.refresh_token is not None
    return Account(email, password, created.user_id, tokens.refresh_token, tokens.access_token)


@pytest.fixture(scope="session")
def account(api_url: str) -> Account:
    """The user most tests upload as."""
    return new_account(api_url)


@pytest.fixture(scope="session")
def other_account(api_url: str) -> Account:
    return new_account(api_url)


@pytest.fixture(scope="session")
async def admin_account(stack: Stack, api_url: str) -> Account:
    """A user in the admins group, signed in after joining it (the group is in the token)."""
    user = new_account(api_url)
    async with get_session().create_client(
        "cognito-idp",
        endpoint_url=stack.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as cognito:
        await cognito.admin_add_user_to_group(
            UserPoolId=stack.user_pool["userPoolId"], Username=user.email, GroupName="admins"
        )
    with SnapQueue(api_url, NO_SOCKET) as client:
        tokens = client.sign_in(user.email, user.password)
    assert tokens.refresh_token is not None
    return Account(
        user.email, user.password, user.user_id, tokens.refresh_token, tokens.access_token
    )


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
