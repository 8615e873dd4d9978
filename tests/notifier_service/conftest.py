"""Notifier fixtures: real replicas on port 0 in this process, real websockets clients,
images made through the core ImageStore and events sent the way the worker sends them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

import pytest
from aiobotocore.session import AioSession, get_session
from websockets.asyncio.client import ClientConnection, connect

from notifier_service.app import Notifier
from notifier_service.settings import NotifierSettings
from snapqueue_core.aws import open_clients
from snapqueue_core.resources import bootstrap, declare
from tests.notifier_service.helpers import (
    TEST_OVERRIDES,
    AuthMode,
    Replica,
    ServiceProcess,
    Stack,
    authenticate,
)


@pytest.fixture(scope="session")
def botocore_session() -> AioSession:
    """One botocore session for the tests' clients and in-process replicas: each new
    session parses the service models again, which dominated a replica's start-up."""
    return get_session()


@pytest.fixture(scope="session")
def shared_tables() -> dict[str, str]:
    """Table names created once per session (filled by the first ``stack``): imageIds are
    unique, so tests never see each other's rows, and start-up stays quick."""
    return {}


@pytest.fixture
async def stack(
    settings_factory: Callable[..., Any],
    botocore_session: AioSession,
    shared_tables: dict[str, str],
    user_factory: Callable[..., Any],
) -> AsyncIterator[Stack]:
    """Tables, clients, the worker's tools and a signed-in user who owns the images the
    stack makes; each test has its own notify-queue prefix.

    Only the two tables are bootstrapped: the notifier needs no bucket (presigning a
    variant URL needs none) and no shared queue.
    """
    user = await user_factory()
    settings = settings_factory(NotifierSettings, **TEST_OVERRIDES, **shared_tables)
    async with AsyncExitStack() as exit_stack:
        clients = await open_clients(exit_stack, settings, botocore_session)
        if not shared_tables:
            tables_only = replace(declare(settings), queues=(), buckets=())
            await bootstrap(clients, tables_only, settings.aws_region)
            shared_tables.update(
                images_table=settings.images_table,
                connections_table=settings.connections_table,
            )
        yield Stack(settings, clients, botocore_session, user)


@pytest.fixture
async def start_replica(stack: Stack) -> AsyncIterator[Callable[..., Awaitable[Replica]]]:
    """Start a notifier on the stack's tables; each call is another replica."""
    running: list[Replica] = []

    async def start(**overrides: Any) -> Replica:
        values = {"replica_id": uuid.uuid4().hex[:12], "http_port": 0, **overrides}
        settings = NotifierSettings.from_env(**{**stack.settings.model_dump(), **values})
        notifier = Notifier(settings, stack.session)
        stop = asyncio.Event()
        task = asyncio.create_task(notifier.run(stop))
        ready = asyncio.create_task(notifier.ready.wait())
        await asyncio.wait({task, ready}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if not notifier.ready.is_set():
            ready.cancel()
            task.cancel()
            raise AssertionError(f"notifier did not start: {task}")
        replica = Replica(notifier, settings, task, stop)
        running.append(replica)
        return replica

    yield start
    for replica in running:
        if not replica.task.done():
            await replica.shutdown()


@pytest.fixture
async def replica(start_replica: Callable[..., Awaitable[Replica]]) -> Replica:
    return await start_replica()


@pytest.fixture
async def open_client(stack: Stack) -> AsyncIterator[Callable[..., Awaitable[ClientConnection]]]:
    """Open websockets clients, authenticated as ``token`` (the stack's user's access token
    by default) with the first frame, the handshake header, or not at all; all closed at
    teardown."""
    opened: list[ClientConnection] = []

    async def open_(
        url: str, *, auth: AuthMode = "frame", token: str | None = None, **kwargs: Any
    ) -> ClientConnection:
        token = token or stack.user.access_token
        if auth == "header":
            kwargs["additional_headers"] = {"Authorization": f"Bearer {token}"}
        client = await connect(url, open_timeout=10, **kwargs)
        opened.append(client)
        if auth == "frame":
            answer = await authenticate(client, token)
            assert answer["type"] == "authenticated", answer
        return client

    yield open_
    await asyncio.gather(*(client.close() for client in opened), return_exceptions=True)


@pytest.fixture
async def service_process(stack: Stack) -> AsyncIterator[Callable[..., Awaitable[ServiceProcess]]]:
    """Start ``python -m notifier_service`` subprocesses; killed at teardown if still up."""
    started: list[ServiceProcess] = []

    async def start(**settings: str) -> ServiceProcess:
        service = ServiceProcess(stack, **settings)
        started.append(service)
        await service.start()
        return service

    yield start
    for service in started:
        await service.kill()
