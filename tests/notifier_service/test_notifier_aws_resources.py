"""A replica's AWS resources: waiting for the tables, its own queue, and readiness."""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import AsyncExitStack

import pytest

from notifier_service.app import Notifier
from notifier_service.aws_resources import (
    ReadinessProbe,
    create_replica_queue,
    delete_replica_queue,
)
from notifier_service.settings import NotifierSettings
from notifier_service.sweeper import HEARTBEAT_TAG
from snapqueue_core.aws import open_clients
from snapqueue_core.waiting import StartupTimeout
from tests.notifier_service.helpers import Stack


async def test_missing_tables_fail_startup_after_the_timeout(stack: Stack) -> None:
    settings = NotifierSettings.from_env(
        **{
            **stack.settings.model_dump(),
            "connections_table": "NoSuchTable",
            "startup_timeout_seconds": 0.3,
            "http_port": 0,
        }
    )
    notifier = Notifier(settings, stack.session)
    with pytest.raises(StartupTimeout, match=r"NoSuchTable.*ResourceNotFoundException"):
        await asyncio.wait_for(notifier.run(asyncio.Event()), 10)
    assert not notifier.ready.is_set()


async def test_replica_queue_is_idempotent_and_short_lived(stack: Stack) -> None:
    sqs = stack.clients.sqs
    first = await create_replica_queue(sqs, stack.settings)
    assert await create_replica_queue(sqs, stack.settings) == first
    attributes = (await sqs.get_queue_attributes(QueueUrl=first, AttributeNames=["All"]))[
        "Attributes"
    ]
    assert attributes["MessageRetentionPeriod"] == "300"
    assert attributes["VisibilityTimeout"] == "30"
    assert first.endswith(stack.settings.notify_queue_name)
    await delete_replica_queue(sqs, first)
    await delete_replica_queue(sqs, first)  # already gone: fine


async def test_replica_queue_is_born_with_a_heartbeat_and_a_restart_renews_it(
    stack: Stack,
) -> None:
    sqs = stack.clients.sqs
    url = await create_replica_queue(sqs, stack.settings)
    tags = (await sqs.list_queue_tags(QueueUrl=url))["Tags"]
    assert abs(int(tags[HEARTBEAT_TAG]) - time.time()) < 5
    # A replica restarted under the same id, long after it died: alive again at once.
    await sqs.tag_queue(QueueUrl=url, Tags={HEARTBEAT_TAG: "1000", "team": "media"})
    assert await create_replica_queue(sqs, stack.settings) == url
    tags = (await sqs.list_queue_tags(QueueUrl=url))["Tags"]
    assert abs(int(tags[HEARTBEAT_TAG]) - time.time()) < 5
    await delete_replica_queue(sqs, url)


async def test_an_existing_queue_with_other_attributes_is_reused_and_tagged(stack: Stack) -> None:
    sqs = stack.clients.sqs
    name = stack.settings.notify_queue_name
    url = (await sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"}))[
        "QueueUrl"
    ]
    assert await create_replica_queue(sqs, stack.settings) == url
    attributes = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "30"
    tags = (await sqs.list_queue_tags(QueueUrl=url))["Tags"]
    assert abs(int(tags[HEARTBEAT_TAG]) - time.time()) < 5
    await delete_replica_queue(sqs, url)


async def test_readiness_reports_unreachable_aws(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{dead_port}")
    settings = NotifierSettings.from_env(
        **{**stack.settings.model_dump(), "readiness_timeout_seconds": 1.0}
    )
    async with AsyncExitStack() as exit_stack:
        clients = await open_clients(exit_stack, settings, stack.session)
        probe_ = ReadinessProbe(clients, settings, "http://127.0.0.1:1/queue/none")
        readiness = await probe_.check()
    assert readiness.status_code == 503
    assert readiness.reason is not None
    assert "AWS unreachable" in readiness.reason or "AWS did not answer" in readiness.reason
