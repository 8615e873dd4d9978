"""Test harness: one AWS emulator per session, unique resources per test, isolated AWS_* env.

Integration tests reach the emulator over real HTTP with the real aiobotocore clients;
nothing AWS is patched or mocked.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import pytest

from devstack.emulator import EmulatorServer
from devstack.stack import USER_POOL_NAME, auth_env, unique_resource_env
from devstack.users import SignedInUser as SignedInUser  # tests import it from here
from devstack.users import emulator_cognito, sign_up_user
from snapqueue_core.aws import AwsClients, open_clients
from snapqueue_core.resources import bootstrap, declare
from snapqueue_core.settings import CoreSettings
from snapqueue_core.user_pool import UserPoolIds, UserPoolSpec, ensure_user_pool

REGION = "us-east-1"
S = TypeVar("S", bound=CoreSettings)


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """moto's server on a free port, for the whole session."""
    server = EmulatorServer()
    server.start()
    yield server.url
    server.stop()


def aws_environment(emulator_url: str) -> dict[str, str]:
    """The environment a service process needs to use the emulator."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": emulator_url,
        "SNAPQUEUE_S3_ADDRESSING_STYLE": "path",
    }


@pytest.fixture(scope="session")
async def user_pool(emulator_url: str) -> UserPoolIds:
    """The session emulator's Cognito user pool, SPA client and admins group."""
    async with emulator_cognito(emulator_url, REGION) as cognito:
        spec = UserPoolSpec(USER_POOL_NAME, "snapqueue-spa")
        return await ensure_user_pool(cognito, spec, REGION)


def user_pool_env(user_pool: UserPoolIds, emulator_url: str) -> dict[str, str]:
    """Sign-in settings for the services, as devstack gives them to its processes."""
    summary = {
        "userPoolId": user_pool.user_pool_id,
        "clientId": user_pool.client_id,
        "issuer": user_pool.issuer,
    }
    return auth_env(summary, emulator_url)


@pytest.fixture(autouse=True)
def aws_env(
    emulator_url: str, user_pool: UserPoolIds, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Nothing from the developer's shell (a real AWS profile, say) leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "SNAPQUEUE_")):
            monkeypatch.delenv(name)
    env = {**aws_environment(emulator_url), **user_pool_env(user_pool, emulator_url)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return env


def unique_names() -> dict[str, str]:
    """Resource names no other test uses, as settings fields (the devstack's naming)."""
    prefix = "SNAPQUEUE_"
    return {
        name.removeprefix(prefix).lower(): value for name, value in unique_resource_env().items()
    }


def resource_name_env(settings: CoreSettings) -> dict[str, str]:
    """The ``SNAPQUEUE_*`` variables naming ``settings``' resources, for a service process."""
    return {f"SNAPQUEUE_{field.upper()}": str(getattr(settings, field)) for field in unique_names()}


@pytest.fixture
def settings_factory() -> Callable[..., Any]:
    """Build any service's settings with unique resource names; overrides win."""

    def make(cls: type[S] = CoreSettings, **overrides: Any) -> S:  # type: ignore[assignment]
        values: dict[str, Any] = {**unique_names(), **overrides}
        return cls.from_env(**values)

    return make


@pytest.fixture
async def aws() -> AsyncIterator[Callable[[CoreSettings], Any]]:
    """Open real aiobotocore clients for given settings; all closed at teardown."""
    async with AsyncExitStack() as stack:

        async def clients_for(settings: CoreSettings) -> AwsClients:
            return await open_clients(stack, settings)

        yield clients_for


@pytest.fixture
async def resources_factory(
    settings_factory: Callable[..., Any], aws: Callable[[CoreSettings], Any]
) -> Callable[..., Any]:
    """Bootstrapped, uniquely named resources: returns (settings, clients)."""

    async def make(cls: type[S] = CoreSettings, **overrides: Any) -> tuple[S, AwsClients]:  # type: ignore[assignment]
        settings = settings_factory(cls, **overrides)
        clients = await aws(settings)
        await bootstrap(clients, declare(settings), settings.aws_region)
        return settings, clients

    return make


@pytest.fixture
async def user_factory(
    emulator_url: str, user_pool: UserPoolIds
) -> AsyncIterator[Callable[..., Any]]:
    """Sign up, confirm and sign in fresh users over the emulator's Cognito API (real tokens,
    signed by the emulator's key); ``admin=True`` puts the user in the admins group first."""
    async with emulator_cognito(emulator_url, REGION) as cognito:

        async def make(admin: bool = False) -> SignedInUser:
            return await sign_up_user(
                cognito, user_pool.user_pool_id, user_pool.client_id, admin=admin
            )

        yield make


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many corpus files the sweeps checked, so a CI log shows it."""
    checked = getattr(sys.modules.get("test_worker_corpus"), "CHECKED", {})
    for sweep, count in checked.items():
        terminalreporter.write_line(f"corpus: {sweep} checked {count} files")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="run the reliability suite at full size (slow; not in CI)",
    )


@pytest.fixture(scope="session")
def full_size(pytestconfig: pytest.Config) -> bool:
    """True under ``--full``: reliability tests use the issue's full figures."""
    return bool(pytestconfig.getoption("--full"))
