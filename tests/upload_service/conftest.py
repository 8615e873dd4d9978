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
from tests.conftest import aws_environment, unique_names
from tests.upload_service.upload_helpers import InLoopServer, RunningService, start_server
from upload_service.__main__ import bound_port
from upload_service.settings import UploadServiceSettings


@pytest.fixture
async def upload_service_factory(
    resources_factory: Callable[..., Any],
) -> AsyncIterator[Callable[..., Any]]:
    """Start upload-services on bootstrapped, uniquely named resources; stopped at teardown."""
    running: list[tuple[InLoopServer, asyncio.Task[None], httpx.AsyncClient]] = []

    async def start(**overrides: Any) -> RunningService:
        settings, clients = await resources_factory(UploadServiceSettings, http_port=0, **overrides)
        server, task = await start_server(settings)
        base_url = f"http://127.0.0.1:{bound_port(server)}"
        http = httpx.AsyncClient(base_url=base_url, timeout=30)
        running.append((server, task, http))
        return RunningService(settings=settings, clients=clients, base_url=base_url, http=http)

    yield start
    for server, task, http in running:
        await http.aclose()
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def service(emulator_url: str) -> AsyncIterator[RunningService]:
    """One service per test module on its own resources: bootstrapping per test is too slow.

    Tests that need an empty table or other settings use ``upload_service_factory``.
    """
    async with AsyncExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in aws_environment(emulator_url).items():
                patch.setenv(name, value)
            patch.setenv("AWS_CONFIG_FILE", os.devnull)
            patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
            settings = UploadServiceSettings.from_env(**unique_names(), http_port=0)
            clients = await open_clients(stack, settings)
            await bootstrap(clients, declare(settings), settings.aws_region)
            # The app's lifespan opens its clients from the environment, too.
            server, task = await start_server(settings)
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound_port(server)}", timeout=30)
        )
        try:
            yield RunningService(
                settings=settings, clients=clients, base_url=str(http.base_url), http=http
            )
        finally:
            server.should_exit = True
            await task
