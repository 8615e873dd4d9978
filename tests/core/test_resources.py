"""The bootstrap creates exactly what is declared, and can run again without change."""

import asyncio
import json
import time
from typing import Any

from snapqueue_core.resources import bootstrap, declare
from snapqueue_core.schemas import parse_s3_event


async def test_bootstrap_is_idempotent_and_complete(resources_factory: Any) -> None:
    settings, clients = await resources_factory()
    # A second and a third run change nothing and raise nothing.
    summary = await bootstrap(clients, declare(settings), settings.aws_region)
    await bootstrap(clients, declare(settings), settings.aws_region)
    assert set(summary["tables"]) == {
        settings.images_table,
        settings.connections_table,
        settings.usage_table,
    }

    images = (await clients.dynamodb.describe_table(TableName=settings.images_table))["Table"]
    assert images["KeySchema"] == [{"AttributeName": "imageId", "KeyType": "HASH"}]
    indexes = {gsi["IndexName"]: gsi for gsi in images["GlobalSecondaryIndexes"]}
    assert set(indexes) == {settings.gallery_index, settings.owner_index}
    assert indexes[settings.gallery_index]["KeySchema"] == [
        {"AttributeName": "galleryPartition", "KeyType": "HASH"},
        {"AttributeName": "completedAt", "KeyType": "RANGE"},
    ]
    assert indexes[settings.owner_index]["KeySchema"] == [
        {"AttributeName": "ownerId", "KeyType": "HASH"},
        {"AttributeName": "uploadTimestamp", "KeyType": "RANGE"},
    ]
    ttl = await clients.dynamodb.describe_time_to_live(TableName=settings.images_table)
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiresAt",
    }

    conns = (await clients.dynamodb.describe_table(TableName=settings.connections_table))["Table"]
    assert conns["KeySchema"] == [
        {"AttributeName": "imageId", "KeyType": "HASH"},
        {"AttributeName": "connectionId", "KeyType": "RANGE"},
    ]
    ttl = await clients.dynamodb.describe_time_to_live(TableName=settings.connections_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"

    queue_url = (await clients.sqs.get_queue_url(QueueName=settings.upload_queue))["QueueUrl"]
    dlq_url = (await clients.sqs.get_queue_url(QueueName=settings.upload_dlq))["QueueUrl"]
    attrs = (await clients.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"]))[
        "Attributes"
    ]
    dlq_arn = (
        await clients.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    )["Attributes"]["QueueArn"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    assert attrs["VisibilityTimeout"] == str(settings.queue_visibility_timeout_seconds)
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "20"
    policy = json.loads(attrs["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}

    notification = await clients.s3.get_bucket_notification_configuration(
        Bucket=settings.uploads_bucket
    )
    rules = {
        config["Filter"]["Key"]["FilterRules"][0]["Value"]: config
        for config in notification["QueueConfigurations"]
    }
    assert set(rules) == {"uploads/", "imports/"}
    assert all(config["Events"] == ["s3:ObjectCreated:*"] for config in rules.values())
    cors = await clients.s3.get_bucket_cors(Bucket=settings.uploads_bucket)
    assert cors["CORSRules"][0]["AllowedOrigins"] == settings.cors_origins
    await clients.s3.head_bucket(Bucket=settings.processed_bucket)


async def receive_events(clients: Any, queue_url: str, within: float) -> list[Any]:
    deadline = time.monotonic() + within
    events = []
    while time.monotonic() < deadline and not events:
        response = await clients.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        for message in response.get("Messages", []):
            events.extend(parse_s3_event(message["Body"]))
        if not events:
            await asyncio.sleep(0.05)
    return events


async def test_upload_reaches_the_queue_as_a_parsed_event_within_a_second(
    resources_factory: Any,
) -> None:
    settings, clients = await resources_factory()
    queue_url = (await clients.sqs.get_queue_url(QueueName=settings.upload_queue))["QueueUrl"]
    await clients.s3.put_object(Bucket=settings.uploads_bucket, Key="uploads/abc def", Body=b"x")
    started = time.monotonic()
    events = await receive_events(clients, queue_url, within=1.0)
    assert time.monotonic() - started < 1.0
    (event,) = [e for e in events if e.key == "uploads/abc def"]
    assert event.bucket == settings.uploads_bucket
    assert event.event_name.startswith("ObjectCreated")
    assert event.size == 1


async def test_only_declared_prefixes_notify(resources_factory: Any) -> None:
    settings, clients = await resources_factory()
    queue_url = (await clients.sqs.get_queue_url(QueueName=settings.upload_queue))["QueueUrl"]
    await clients.s3.put_object(Bucket=settings.uploads_bucket, Key="elsewhere/a", Body=b"x")
    await clients.s3.put_object(Bucket=settings.uploads_bucket, Key="imports/b.jpg", Body=b"x")
    events = await receive_events(clients, queue_url, within=1.0)
    assert [e.key for e in events] == ["imports/b.jpg"]
