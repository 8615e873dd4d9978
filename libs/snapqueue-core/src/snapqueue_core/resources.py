"""The resources SnapQueue needs, declared once, and an idempotent bootstrap that applies them.

The embedded stack, docker-compose's init service and the tests all call :func:`bootstrap`;
Terraform describes the same resources, and a test compares the two.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .aws import AwsClients
from .schemas import IMPORT_PREFIX, UPLOAD_PREFIX
from .settings import CoreSettings
from .transient import error_code

log = logging.getLogger(__name__)

TTL_ATTRIBUTE = "expiresAt"


@dataclass(frozen=True)
class KeyAttr:
    name: str
    type: str = "S"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: KeyAttr
    range_key: KeyAttr


@dataclass(frozen=True)
class TableSpec:
    name: str
    hash_key: KeyAttr
    range_key: KeyAttr | None = None
    ttl_attribute: str | None = TTL_ATTRIBUTE
    indexes: tuple[IndexSpec, ...] = ()


@dataclass(frozen=True)
class QueueSpec:
    name: str
    visibility_timeout: int
    retention_seconds: int
    receive_wait_seconds: int = 20
    dead_letter: str | None = None
    max_receive_count: int | None = None


@dataclass(frozen=True)
class BucketSpec:
    name: str
    cors_origins: tuple[str, ...] = ()
    # The browser POSTs uploads and GETs variants; nothing else crosses origins.
    cors_methods: tuple[str, ...] = ("GET", "HEAD", "POST")
    cors_max_age_seconds: int = 3000
    # (prefix, queue name) pairs for s3:ObjectCreated:* notifications
    notify: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Resources:
    tables: tuple[TableSpec, ...]
    queues: tuple[QueueSpec, ...]
    buckets: tuple[BucketSpec, ...]


def declare(settings: CoreSettings) -> Resources:
    """Every resource, named from ``settings`` so tests can use unique names."""
    return Resources(
        tables=(
            TableSpec(
                name=settings.images_table,
                hash_key=KeyAttr("imageId"),
                indexes=(
                    # Sparse: only COMPLETED rows carry galleryPartition.
                    IndexSpec(
                        name=settings.gallery_index,
                        hash_key=KeyAttr("galleryPartition"),
                        range_key=KeyAttr("completedAt"),
                    ),
                    # Every record with an owner: "my images", newest upload first.
                    IndexSpec(
                        name=settings.owner_index,
                        hash_key=KeyAttr("ownerId"),
                        range_key=KeyAttr("uploadTimestamp"),
                    ),
                ),
            ),
            TableSpec(name=settings.usage_table, hash_key=KeyAttr("pk")),
            TableSpec(
                name=settings.connections_table,
                hash_key=KeyAttr("imageId"),
                range_key=KeyAttr("connectionId"),
            ),
        ),
        queues=(
            QueueSpec(
                name=settings.upload_dlq,
                visibility_timeout=settings.queue_visibility_timeout_seconds,
                retention_seconds=14 * 24 * 3600,
            ),
            QueueSpec(
                name=settings.upload_queue,
                visibility_timeout=settings.queue_visibility_timeout_seconds,
                retention_seconds=settings.queue_retention_seconds,
                dead_letter=settings.upload_dlq,
                max_receive_count=settings.queue_max_receive_count,
            ),
        ),
        buckets=(
            BucketSpec(
                name=settings.uploads_bucket,
                cors_origins=tuple(settings.cors_origins),
                notify=(
                    (UPLOAD_PREFIX, settings.upload_queue),
                    (IMPORT_PREFIX, settings.upload_queue),
                ),
            ),
            BucketSpec(name=settings.processed_bucket, cors_origins=tuple(settings.cors_origins)),
        ),
    )


async def bootstrap(clients: AwsClients, resources: Resources, region: str) -> dict[str, Any]:
    """Create or update every resource; safe to run any number of times."""
    summary: dict[str, Any] = {"tables": [], "queues": {}, "buckets": []}
    for table in resources.tables:
        await _ensure_table(clients, table)
        summary["tables"].append(table.name)
    queue_arns: dict[str, str] = {}
    for queue in resources.queues:
        url, arn = await _ensure_queue(clients, queue, queue_arns)
        queue_arns[queue.name] = arn
        summary["queues"][queue.name] = url
    for bucket in resources.buckets:
        await _ensure_bucket(clients, bucket, queue_arns, region)
        summary["buckets"].append(bucket.name)
    return summary


async def _ensure_table(clients: AwsClients, spec: TableSpec) -> None:
    db = clients.dynamodb
    attributes = {spec.hash_key}
    key_schema = [{"AttributeName": spec.hash_key.name, "KeyType": "HASH"}]
    if spec.range_key:
        attributes.add(spec.range_key)
        key_schema.append({"AttributeName": spec.range_key.name, "KeyType": "RANGE"})
    indexes = []
    for index in spec.indexes:
        attributes |= {index.hash_key, index.range_key}
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.hash_key.name, "KeyType": "HASH"},
                    {"AttributeName": index.range_key.name, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        )
    request: dict[str, Any] = {
        "TableName": spec.name,
        "KeySchema": key_schema,
        "AttributeDefinitions": [
            {"AttributeName": a.name, "AttributeType": a.type}
            for a in sorted(attributes, key=lambda a: a.name)
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    try:
        await db.create_table(**request)
        log.info("created table", extra={"table": spec.name})
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
    waiter = db.get_waiter("table_exists")
    await waiter.wait(TableName=spec.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    if spec.ttl_attribute:
        described = await db.describe_time_to_live(TableName=spec.name)
        current = described.get("TimeToLiveDescription", {})
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            await db.update_time_to_live(
                TableName=spec.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )


async def _ensure_queue(
    clients: AwsClients, spec: QueueSpec, known_arns: dict[str, str]
) -> tuple[str, str]:
    sqs = clients.sqs
    attributes = {
        "VisibilityTimeout": str(spec.visibility_timeout),
        "MessageRetentionPeriod": str(spec.retention_seconds),
        "ReceiveMessageWaitTimeSeconds": str(spec.receive_wait_seconds),
    }
    if spec.dead_letter:
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": known_arns[spec.dead_letter],
                "maxReceiveCount": spec.max_receive_count,
            }
        )
    try:
        response = await sqs.create_queue(QueueName=spec.name, Attributes=attributes)
        url = response["QueueUrl"]
    except ClientError as exc:
        # Exists with other attributes: converge it to the declaration.
        if error_code(exc) not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
        url = (await sqs.get_queue_url(QueueName=spec.name))["QueueUrl"]
        await sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    described = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, described["Attributes"]["QueueArn"]


async def _ensure_bucket(
    clients: AwsClients, spec: BucketSpec, queue_arns: dict[str, str], region: str
) -> None:
    s3 = clients.s3
    request: dict[str, Any] = {"Bucket": spec.name}
    if region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        await s3.create_bucket(**request)
    except ClientError as exc:
        if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    await s3.put_public_access_block(
        Bucket=spec.name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    if spec.cors_origins:
        await s3.put_bucket_cors(
            Bucket=spec.name,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": list(spec.cors_origins),
                        "AllowedMethods": list(spec.cors_methods),
                        "AllowedHeaders": ["*"],
                        "ExposeHeaders": ["ETag"],
                        "MaxAgeSeconds": spec.cors_max_age_seconds,
                    }
                ]
            },
        )
    if spec.notify:
        for queue_name in {queue for _, queue in spec.notify}:
            await _allow_bucket_to_send(clients, queue_arns[queue_name], spec.name)
        await s3.put_bucket_notification_configuration(
            Bucket=spec.name,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "Id": f"{prefix.rstrip('/')}-created",
                        "QueueArn": queue_arns[queue],
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                    }
                    for prefix, queue in spec.notify
                ]
            },
        )


async def _allow_bucket_to_send(clients: AwsClients, queue_arn: str, bucket: str) -> None:
    """The queue policy that lets S3 deliver this bucket's events (required on AWS)."""
    name = queue_arn.rsplit(":", 1)[-1]
    url = (await clients.sqs.get_queue_url(QueueName=name))["QueueUrl"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowS3UploadEvents",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }
    await clients.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
