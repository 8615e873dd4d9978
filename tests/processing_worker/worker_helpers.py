"""Shared helpers for the worker's tests: records, uploads, S3 event bodies, polling."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from processing_worker.app import WorkerApp
from processing_worker.settings import WorkerSettings
from snapqueue_core.aws import AwsClients
from snapqueue_core.dynamo import from_item
from snapqueue_core.schemas import ImageRecord, ImageStatus, upload_key
from snapqueue_core.store import ImageStore

# Fast loops for tests: short polls, quick retries, frequent heartbeats.
FAST = {
    "receive_wait_seconds": 1,
    "retry_visibility_seconds": 1,
    "heartbeat_interval_seconds": 2,
    "queue_visibility_timeout_seconds": 30,
    "http_port": 0,
    "startup_timeout_seconds": 10,
}


def pending_record(image_id: str, filename: str = "photo.jpg") -> ImageRecord:
    return ImageRecord.pending(image_id, filename=filename, content_type="image/jpeg")


async def upload(
    clients: AwsClients, settings: WorkerSettings, data: bytes, filename: str = "photo.jpg"
) -> str:
    """What the upload-service and the browser do: a PENDING record, then the object."""
    image_id = uuid.uuid4().hex
    await ImageStore(clients.dynamodb, settings).create(pending_record(image_id, filename))
    await clients.s3.put_object(Bucket=settings.uploads_bucket, Key=upload_key(image_id), Body=data)
    return image_id


def s3_event_body(bucket: str, key: str, etag: str | None = None, size: int = 1) -> str:
    """An S3 ObjectCreated notification, as S3 sends it (keys URL-encoded)."""
    obj: dict[str, Any] = {"key": key.replace(" ", "+"), "size": size, "sequencer": "00"}
    if etag:
        obj["eTag"] = etag
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": obj},
                }
            ]
        }
    )


async def queue_url(clients: AwsClients, name: str) -> str:
    return str((await clients.sqs.get_queue_url(QueueName=name))["QueueUrl"])


async def raw_item(clients: AwsClients, settings: WorkerSettings, image_id: str) -> dict[str, Any]:
    response = await clients.dynamodb.get_item(
        TableName=settings.images_table, Key={"imageId": {"S": image_id}}, ConsistentRead=True
    )
    return from_item(response["Item"]) if "Item" in response else {}


async def statuses(
    clients: AwsClients, settings: WorkerSettings, *, brief: bool = False
) -> dict[str, dict[str, Any]]:
    """Every record of the test's own table (a Scan is fine in a test).

    ``brief`` fetches only id and status: parsing hundreds of full records on every poll
    would starve the in-process worker sharing this event loop.
    """
    items: dict[str, dict[str, Any]] = {}
    request: dict[str, Any] = {"TableName": settings.images_table}
    if brief:
        request["ProjectionExpression"] = "imageId, #s"
        request["ExpressionAttributeNames"] = {"#s": "status"}
    while True:
        response = await clients.dynamodb.scan(**request)
        for item in response.get("Items", []):
            values = from_item(item)
            items[values["imageId"]] = values
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


async def wait_terminal(
    clients: AwsClients,
    settings: WorkerSettings,
    image_ids: Iterable[str],
    within: float = 30,
    poll: float = 0.3,
) -> dict[str, dict[str, Any]]:
    """Wait until every image is COMPLETED or FAILED; return their full records."""
    wanted = set(image_ids)
    deadline = time.monotonic() + within
    while True:
        items = await statuses(clients, settings, brief=True)
        done = {i for i in wanted if items.get(i, {}).get("status") in TERMINAL}
        if done == wanted:
            full = await statuses(clients, settings)
            return {i: full[i] for i in wanted}
        if time.monotonic() > deadline:
            missing = {i: items.get(i, {}).get("status") for i in wanted - done}
            raise AssertionError(f"not terminal after {within}s: {list(missing.items())[:10]}")
        await asyncio.sleep(poll)


TERMINAL = {ImageStatus.COMPLETED.value, ImageStatus.FAILED.value}


@asynccontextmanager
async def running_worker(settings: WorkerSettings) -> AsyncIterator[WorkerApp]:
    """The real worker, in-process, on its own clients; stopped (drained) on exit."""
    stop = asyncio.Event()
    async with WorkerApp(settings) as app:
        task = asyncio.create_task(app.run(stop))
        try:
            yield app
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=settings.shutdown_grace_seconds + 10)


async def jobs_settled(app: WorkerApp, within: float = 10) -> None:
    """Wait until no job runs: a job counts its outcome after its terminal event is sent,
    so a test that saw the event may otherwise read the metrics a moment too early."""
    deadline = time.monotonic() + within
    while app.consumer is not None and app.consumer.in_flight:
        assert time.monotonic() < deadline, "jobs still running"
        await asyncio.sleep(0.02)


async def receive_all(clients: AwsClients, url: str, wait: float = 1) -> list[dict[str, Any]]:
    response = await clients.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=int(wait)
    )
    messages = response.get("Messages", [])
    for message in messages:
        await clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]
