"""``python -m notifier_service``: configuration errors, and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable

import pytest
from botocore.exceptions import ClientError
from websockets.asyncio.client import ClientConnection

from snapqueue_core.transient import GONE_QUEUE_CODES, error_code
from tests.notifier_service.helpers import ServiceProcess, Stack, register

OpenClient = Callable[..., Awaitable[ClientConnection]]
StartService = Callable[..., Awaitable[ServiceProcess]]


async def test_missing_settings_exit_2_with_a_message() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "notifier_service",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"AWS_REGION" in stderr


async def test_sigterm_closes_sockets_with_1001_deletes_the_queue_and_exits_0(
    stack: Stack, service_process: StartService, open_client: OpenClient
) -> None:
    service = await service_process()
    queue_url = (await stack.clients.sqs.get_queue_url(QueueName=service.queue_name))["QueueUrl"]
    clients = [await open_client(service.ws_url) for _ in range(3)]
    images = [await stack.new_image() for _ in clients]
    for client, image_id in zip(clients, images, strict=True):
        await register(client, image_id)
        rows = await stack.connections.for_image(image_id)
        assert [row.queue_url for row in rows] == [queue_url]

    assert service.process is not None
    service.process.send_signal(signal.SIGTERM)
    assert await service.wait() == 0, service.log
    for client in clients:
        await asyncio.wait_for(client.wait_closed(), 5)
        assert client.close_code == 1001
    with pytest.raises(ClientError) as gone:
        await stack.clients.sqs.get_queue_attributes(QueueUrl=queue_url)
    assert error_code(gone.value) in GONE_QUEUE_CODES
    for image_id in images:
        assert await stack.connections.for_image(image_id) == []
    assert '"replica queue deleted"' in service.log


async def test_a_taken_port_exits_1_and_leaves_no_queue(stack: Stack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        service = ServiceProcess(stack, http_port=str(taken.getsockname()[1]))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "notifier_service",
            env=service.env,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, stderr.decode()
    assert b"could not listen" in stderr
    with pytest.raises(ClientError):
        await stack.clients.sqs.get_queue_url(QueueName=service.queue_name)
