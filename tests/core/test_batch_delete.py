"""Finished messages are deleted in batches."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest

from snapqueue_core.aws import AwsClients
from snapqueue_core.batch_delete import DELETE_LINGER_SECONDS, DeleteBatcher
from tests.sqs_helpers import messages_on_queue


async def fresh_queue(resources_factory: Any) -> tuple[AwsClients, str]:
    """A queue of its own: the upload queue also holds S3's test event."""
    _, clients = await resources_factory()
    name = f"batch-{uuid.uuid4().hex[:12]}"
    return clients, (await clients.sqs.create_queue(QueueName=name))["QueueUrl"]


async def received(clients: AwsClients, url: str, count: int) -> list[str]:
    for i in range(count):
        await clients.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    receipts: list[str] = []
    while len(receipts) < count:
        response = await clients.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        receipts += [m["ReceiptHandle"] for m in response.get("Messages", [])]
    return receipts


async def test_finished_messages_share_one_delete(resources_factory: Any) -> None:
    clients, url = await fresh_queue(resources_factory)
    batcher = DeleteBatcher(clients.sqs, url)
    for receipt in await received(clients, url, 3):
        batcher.add(receipt)
    assert await messages_on_queue(clients.sqs, url) == 3  # waiting for company
    await asyncio.sleep(DELETE_LINGER_SECONDS + 0.5)
    assert await messages_on_queue(clients.sqs, url) == 0
    assert batcher.requests == 1
    await batcher.close()


async def test_ten_go_at_once_and_more_in_further_batches(resources_factory: Any) -> None:
    clients, url = await fresh_queue(resources_factory)
    batcher = DeleteBatcher(clients.sqs, url)
    receipts = await received(clients, url, 12)
    for receipt in receipts[:10]:
        batcher.add(receipt)
    await asyncio.sleep(DELETE_LINGER_SECONDS / 2)  # a full batch does not linger
    assert await messages_on_queue(clients.sqs, url) == 2
    for receipt in receipts[10:]:
        batcher.add(receipt)
    await batcher.flush()
    assert await messages_on_queue(clients.sqs, url) == 0
    assert batcher.requests == 2
    await batcher.close()


async def test_close_deletes_what_is_waiting(resources_factory: Any) -> None:
    clients, url = await fresh_queue(resources_factory)
    batcher = DeleteBatcher(clients.sqs, url)
    batcher.add((await received(clients, url, 1))[0])
    await batcher.close()
    assert batcher.pending == 0
    assert await messages_on_queue(clients.sqs, url) == 0


async def test_a_failed_delete_is_logged_not_raised(
    resources_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The message then returns after its visibility timeout; its next delivery finds
    the recorded outcome and only re-sends it."""
    clients, url = await fresh_queue(resources_factory)
    batcher = DeleteBatcher(clients.sqs, url)
    good = (await received(clients, url, 1))[0]
    batcher.add("not-a-receipt-handle")
    batcher.add(good)
    with caplog.at_level(logging.WARNING, logger="snapqueue_core.batch_delete"):
        await batcher.close()
    assert "could not delete" in caplog.text
    assert batcher.pending == 0
