"""Fixtures: a real upload-service on uvicorn, port 0, in the test loop, on the emulator."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from snapqueue_core.aws import open_clients
from snapqueue_core.resources import bootstrap, declare
from snapqueue_core.user_pool import UserPoolIds
from tests.conftest import aws_environment, unique_names, user_pool_env
from tests.upload_service.upload_helpers import (
    InLoopServer,
    RunningService,
    sign_in_new_user,
    start_server,
)
from upload_service.__main__ import bound_port
from upload_service.settings import UploadServiceSettings


@pytest.fixture
async def upload_service_factory(
    resources_factory: Callable[..., Any], user_factory: Callable[..., Any]
) -> AsyncIterator[Callable[..., Any]]:
    """Start upload-services on bootstrapped, uniquely named resources; stopped at teardown.

    ``resources`` reuses another instance's settings (its tables and buckets): two replicas.
    """
    running: list[tuple[InLoopServer, asyncio.Task[None], list[httpx.AsyncClient]]] = []

    async def start(resources: RunningService | None = None, **overrides: Any) -> RunningService:
        if resources is None:
            settings, clients = await resources_factory(
                UploadServiceSettings, http_port=0, **overrides
            )
        else:
            settings, clients = resources.settings, resources.clients
        server, task = await start_server(settings)
        base_url = f"http://127.0.0.1:{bound_port(server)}"
        user = resources.user if resources else await user_factory()
        http = httpx.AsyncClient(base_url=base_url, timeout=30, headers=user.headers)
        anonymous = httpx.AsyncClient(base_url=base_url, timeout=30)
        running.append((server, task, [http, anonymous]))
        return RunningService(
            settings=settings,
            clients=clients,
            base_url=base_url,
            http=http,
            user=user,
            anonymous=anonymous,
        )

    yield start
    for server, task, http_clients in running:
        for http in http_clients:
            await http.aclose()
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def service(emulator_url: str, user_pool: UserPoolIds) -> AsyncIterator[RunningService]:
    """One service per test module on its own resources: bootstrapping per test is too slow.

    Tests that need an empty table or other settings use ``upload_service_factory``.
    """
    async with AsyncExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            env = {**aws_environment(emulator_url), **user_pool_env(user_pool, emulator_url)}
            for name, value in env.items():
                patch.setenv(name, value)
            patch.setenv("AWS_CONFIG_FILE", os.devnull)
            patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
            settings = UploadServiceSettings.from_env(**unique_names(), http_port=0)
            clients = await open_clients(stack, settings)
            await bootstrap(clients, declare(settings), settings.aws_region)
            # The app's lifespan opens its clients from the environment, too.
            server, task = await start_server(settings)
            user = await sign_in_new_user(emulator_url, user_pool)
        base_url = f"http://127.0.0.1:{bound_port(server)}"
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base_url, timeout=30, headers=user.headers)
        )
        anonymous = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base_url, timeout=30)
        )
        try:
            yield RunningService(
                settings=settings,
                clients=clients,
                base_url=base_url,
                http=http,
                user=user,
                anonymous=anonymous,
            )
        finally:
            server.should_exit = True
            await task
