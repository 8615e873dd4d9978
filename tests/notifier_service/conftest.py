"""Notifier fixtures: real replicas on port 0 in this process, real websockets clients,
images made through the core ImageStore and events sent the way the worker sends them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from notifier_service.app import Notifier
from notifier_service.settings import NotifierSettings
from snapqueue_core.resources import bootstrap, declare
from tests.notifier_service.helpers import TEST_OVERRIDES, Replica, Stack


@pytest.fixture
async def stack(settings_factory: Callable[..., Any], aws: Callable[..., Any]) -> Stack:
    """Uniquely named tables; the notifier needs no bucket or shared queue (presigning a
    variant URL needs no bucket), and bootstrapping only the tables keeps tests quick."""
    settings = settings_factory(NotifierSettings, **TEST_OVERRIDES)
    clients = await aws(settings)
    tables_only = replace(declare(settings), queues=(), buckets=())
    await bootstrap(clients, tables_only, settings.aws_region)
    return Stack(settings, clients)


@pytest.fixture
async def start_replica(stack: Stack) -> AsyncIterator[Callable[..., Awaitable[Replica]]]:
    """Start a notifier on the stack's tables; each call is another replica."""
    running: list[Replica] = []

    async def start(**overrides: Any) -> Replica:
        values = {"replica_id": uuid.uuid4().hex[:12], "http_port": 0, **overrides}
        settings = NotifierSettings.from_env(**{**stack.settings.model_dump(), **values})
        notifier = Notifier(settings)
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
async def open_client() -> AsyncIterator[Callable[..., Awaitable[ClientConnection]]]:
    """Open websockets clients; all closed at teardown."""
    opened: list[ClientConnection] = []

    async def open_(url: str, **kwargs: Any) -> ClientConnection:
        client = await connect(url, open_timeout=10, **kwargs)
        opened.append(client)
        return client

    yield open_
    await asyncio.gather(*(client.close() for client in opened), return_exceptions=True)
