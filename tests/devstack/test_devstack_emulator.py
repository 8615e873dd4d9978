"""The embedded emulator speaks HTTP/1.1 the way AWS does: connections stay open, and
large bodies go out whole. Its one shortcut around moto's costs changes no answer, and is
applied only on the moto release it was written for."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import os
import re
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from moto.sqs.models import sqs_backends

from devstack.emulator import REVIEWED_MOTO_VERSION, reviewed_sqs_models

ROOT = Path(__file__).resolve().parents[2]
# More clients than cheroot's default cap of 10 idle keep-alive connections: the stack's
# services and simulated browsers hold more than that between them.
CLIENTS = 24


def test_connections_stay_open_beyond_ten_clients(emulator_url: str) -> None:
    address = urlsplit(emulator_url)
    with ExitStack() as stack:
        connections = []
        for _ in range(CLIENTS):
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
            stack.callback(connection.close)
            connections.append(connection)
        for round_ in range(2):
            for connection in connections:
                # moto's health path: no signature needed, a small JSON answer.
                connection.request("GET", "/moto-api/data.json")
                response = connection.getresponse()
                response.read()
                assert response.status == 200, (round_, response.status)
                assert not response.will_close, f"round {round_}: the emulator closed it"


async def test_large_objects_come_back_byte_for_byte(resources_factory: Any) -> None:
    settings, clients = await resources_factory()
    payloads = [os.urandom(size) for size in (3 * 1024 * 1024 + 17, 9 * 1024 * 1024)]
    for index, payload in enumerate(payloads):
        await clients.s3.put_object(Bucket=settings.uploads_bucket, Key=f"k{index}", Body=payload)

    async def fetch(index: int) -> bytes:
        response = await clients.s3.get_object(Bucket=settings.uploads_bucket, Key=f"k{index}")
        async with response["Body"] as body:
            return bytes(await body.read())

    fetched = await asyncio.gather(*(fetch(i) for i in (0, 1, 0, 1)))
    assert [len(b) for b in fetched] == [len(payloads[i]) for i in (0, 1, 0, 1)]
    assert fetched == [payloads[i] for i in (0, 1, 0, 1)]


async def test_one_update_expression_serves_every_value(resources_factory: Any) -> None:
    """The same expression applied many times: each application uses its own values."""
    settings, clients = await resources_factory()
    expression = "SET score = if_not_exists(score, :zero) + :step, label = :label"
    for key, step, label in (("a", 1, "first"), ("b", 5, "second"), ("a", 2, "third")):
        await clients.dynamodb.update_item(
            TableName=settings.images_table,
            Key={"imageId": {"S": key}},
            UpdateExpression=expression,
            ExpressionAttributeValues={
                ":zero": {"N": "0"},
                ":step": {"N": str(step)},
                ":label": {"S": label},
            },
        )
    items = {}
    for key in ("a", "b"):
        response = await clients.dynamodb.get_item(
            TableName=settings.images_table, Key={"imageId": {"S": key}}
        )
        items[key] = (response["Item"]["score"]["N"], response["Item"]["label"]["S"])
    assert items == {"a": ("3", "third"), "b": ("5", "second")}
    # A bad expression is refused every time.
    for _ in range(2):
        with pytest.raises(ClientError) as refused:
            await clients.dynamodb.update_item(
                TableName=settings.images_table,
                Key={"imageId": {"S": "a"}},
                UpdateExpression="SET = :broken",
                ExpressionAttributeValues={":broken": {"S": "x"}},
            )
        assert refused.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(
    "size", [3 * 1024 * 1024 + 5, 6 * 1024 * 1024], ids=["in-memory", "spilled-to-disk"]
)
async def test_etags_are_the_md5_of_the_bytes(resources_factory: Any, size: int) -> None:
    settings, clients = await resources_factory()
    payload = os.urandom(size)
    put = await clients.s3.put_object(Bucket=settings.uploads_bucket, Key="k", Body=payload)
    head = await clients.s3.head_object(Bucket=settings.uploads_bucket, Key="k")
    expected = f'"{hashlib.md5(payload, usedforsecurity=False).hexdigest()}"'
    assert put["ETag"] == head["ETag"] == expected


async def test_multipart_etags_keep_their_own_form(resources_factory: Any) -> None:
    """The MD5 of the parts' MD5s and the part count, as S3 gives: not the MD5 of the whole."""
    settings, clients = await resources_factory()
    bucket, parts = settings.uploads_bucket, [os.urandom(5 * 1024 * 1024), os.urandom(1024)]
    upload = await clients.s3.create_multipart_upload(Bucket=bucket, Key="m")
    etags = []
    for number, part in enumerate(parts, start=1):
        response = await clients.s3.upload_part(
            Bucket=bucket, Key="m", UploadId=upload["UploadId"], PartNumber=number, Body=part
        )
        etags.append({"ETag": response["ETag"], "PartNumber": number})
    await clients.s3.complete_multipart_upload(
        Bucket=bucket, Key="m", UploadId=upload["UploadId"], MultipartUpload={"Parts": etags}
    )
    head = await clients.s3.head_object(Bucket=bucket, Key="m")
    digests = b"".join(hashlib.md5(p, usedforsecurity=False).digest() for p in parts)
    assert head["ETag"] == f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-2"'


class CountingList(list[Any]):
    """A queue's message list that counts how often it is walked through."""

    walks = 0

    def __iter__(self) -> Any:
        CountingList.walks += 1
        return super().__iter__()


def backend_queue(queue_url: str) -> Any:
    """moto's in-process queue behind ``queue_url`` (the session's emulator runs here)."""
    account, name = urlsplit(queue_url).path.strip("/").split("/")
    return sqs_backends[account]["us-east-1"].get_queue(name)


def test_moto_is_the_release_the_sqs_shortcut_was_written_for() -> None:
    """read_queue_flags_directly wraps moto's SQS backend: an upgrade must re-read it.

    When this fails after a moto upgrade, read moto/sqs/models.py's ``send_message``,
    ``is_message_valid_based_on_retention_period`` and ``Queue.attributes`` again, adapt
    the wrapper (or drop it), then update the reviewed version, digest and pin together.
    """
    assert reviewed_sqs_models(), "moto changed: re-review devstack/emulator.py's SQS shortcut"
    pins = re.findall(r'"moto\[server\]==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pins == [REVIEWED_MOTO_VERSION]


async def test_sends_and_receives_do_not_walk_the_backlog(resources_factory: Any) -> None:
    """A send or a received message costs the same with 500 messages waiting as with none."""
    _settings, clients = await resources_factory()
    url = (await clients.sqs.create_queue(QueueName=f"walk-{uuid.uuid4().hex[:8]}"))["QueueUrl"]
    for start in range(0, 500, 10):
        entries = [{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)]
        await clients.sqs.send_message_batch(QueueUrl=url, Entries=entries)
    queue = backend_queue(url)
    queue._messages = CountingList(queue._messages)
    CountingList.walks = 0
    await clients.sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "more"} for i in range(10)]
    )
    assert CountingList.walks == 0
    received = await clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert len(received["Messages"]) == 10
    # One pass to find visible messages; moto's own walk used to be nine per message.
    assert CountingList.walks <= 2


async def test_queue_attributes_still_count_every_kind_of_message(
    resources_factory: Any,
) -> None:
    _settings, clients = await resources_factory()
    url = (await clients.sqs.create_queue(QueueName=f"count-{uuid.uuid4().hex[:8]}"))["QueueUrl"]
    for body in ("a", "b"):
        await clients.sqs.send_message(QueueUrl=url, MessageBody=body)
    await clients.sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    await clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    attributes = (await clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))[
        "Attributes"
    ]
    assert attributes["ApproximateNumberOfMessages"] == "1"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert attributes["MessageRetentionPeriod"] == "345600"


async def test_fifo_queues_still_read_their_deduplication_flag(resources_factory: Any) -> None:
    _settings, clients = await resources_factory()
    name = f"dedup-{uuid.uuid4().hex[:8]}"
    by_content = (
        await clients.sqs.create_queue(
            QueueName=f"{name}-on.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )
    )["QueueUrl"]
    for _ in range(2):
        await clients.sqs.send_message(QueueUrl=by_content, MessageBody="same", MessageGroupId="g")
    received = await clients.sqs.receive_message(QueueUrl=by_content, MaxNumberOfMessages=10)
    assert [m["Body"] for m in received["Messages"]] == ["same"]

    by_id = (
        await clients.sqs.create_queue(
            QueueName=f"{name}-off.fifo", Attributes={"FifoQueue": "true"}
        )
    )["QueueUrl"]
    with pytest.raises(ClientError) as refused:
        await clients.sqs.send_message(QueueUrl=by_id, MessageBody="x", MessageGroupId="g")
    assert "MessageDeduplicationId" in str(refused.value)


def test_messages_past_their_retention_period_are_not_returned() -> None:
    backend = sqs_backends["123456789012"]["us-east-1"]
    queue = backend.create_queue(f"retention-{uuid.uuid4().hex[:8]}", MessageRetentionPeriod="60")
    kept = backend.send_message(queue.name, "kept")
    expired = backend.send_message(queue.name, "expired")
    expired.sent_timestamp -= 61_000
    assert backend.is_message_valid_based_on_retention_period(queue.name, kept)
    assert not backend.is_message_valid_based_on_retention_period(queue.name, expired)
