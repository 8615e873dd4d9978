"""The AWS side of a replica's life: wait for the shared tables, own a queue, check both."""

from __future__ import annotations

import time
from functools import partial

from botocore.exceptions import ClientError

from snapqueue_core.aws import AwsClients, SQSClient
from snapqueue_core.readiness import NotReady, Readiness, probe
from snapqueue_core.transient import GONE_QUEUE_CODES, error_code
from snapqueue_core.waiting import wait_until

from .settings import NotifierSettings
from .sweeper import heartbeat_tags

QUEUE_GONE_REASON = "the replica queue is gone"


async def wait_for_tables(clients: AwsClients, settings: NotifierSettings) -> None:
    """Return once both tables are ACTIVE; the bootstrap may still be creating them.

    Raises :class:`~snapqueue_core.waiting.StartupTimeout` after ``startup_timeout_seconds``.
    """
    tables = (settings.images_table, settings.connections_table)

    async def all_active() -> bool | None:
        for table in tables:
            described = await clients.dynamodb.describe_table(TableName=table)
            if described["Table"]["TableStatus"] != "ACTIVE":
                return None
        return True

    await wait_until(
        all_active,
        timeout=settings.startup_timeout_seconds,
        what=f"tables {' and '.join(tables)}",
    )


async def create_replica_queue(sqs: SQSClient, settings: NotifierSettings) -> str:
    """Create this replica's own queue, tagged alive (idempotent for a restarted replica)."""
    attributes = {
        # Events older than this are about clients this replica no longer holds.
        "MessageRetentionPeriod": str(settings.notify_queue_retention_seconds),
        "VisibilityTimeout": str(settings.notify_queue_visibility_seconds),
        "ReceiveMessageWaitTimeSeconds": str(settings.notify_wait_seconds),
    }
    name = settings.notify_queue_name
    try:
        # Tagged in the same call: no sweeper ever sees this queue without a heartbeat.
        response = await sqs.create_queue(
            QueueName=name, Attributes=attributes, tags=heartbeat_tags(time.time())
        )
        url: str = response["QueueUrl"]
        return url
    except ClientError as exc:
        # SQS also refuses to "create" an existing queue whose tags differ (and a heartbeat
        # always differs), under a code it does not document: the queue's existence decides.
        url = await _existing_queue_url(sqs, name, refused=exc)
    await sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    await sqs.tag_queue(QueueUrl=url, Tags=heartbeat_tags(time.time()))
    return url


async def _existing_queue_url(sqs: SQSClient, name: str, *, refused: ClientError) -> str:
    """The URL of the queue ``create_queue`` refused to create; ``refused`` itself if there
    is no such queue (the refusal had another reason)."""
    try:
        response = await sqs.get_queue_url(QueueName=name)
    except ClientError as exc:
        if error_code(exc) in GONE_QUEUE_CODES:
            raise refused from exc
        raise
    return str(response["QueueUrl"])


async def delete_replica_queue(sqs: SQSClient, queue_url: str) -> None:
    try:
        await sqs.delete_queue(QueueUrl=queue_url)
    except ClientError as exc:
        if error_code(exc) not in GONE_QUEUE_CODES:
            raise


class ReadinessProbe:
    """``/readyz``: the replica's queue exists and DynamoDB answers, within a budget."""

    def __init__(self, clients: AwsClients, settings: NotifierSettings, queue_url: str) -> None:
        self._clients = clients
        self._settings = settings
        self._queue_url = queue_url

    async def check(self) -> Readiness:
        settings = self._settings
        return await probe(
            {
                "replica queue": self._queue_exists,
                "connections table": partial(
                    self._clients.dynamodb.describe_table, TableName=settings.connections_table
                ),
            },
            timeout=settings.readiness_timeout_seconds,
        )

    async def _queue_exists(self) -> None:
        try:
            await self._clients.sqs.get_queue_attributes(
                QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
            )
        except ClientError as exc:
            # Swept by another replica, or deleted by hand: no event can reach this one.
            if error_code(exc) in GONE_QUEUE_CODES:
                raise NotReady(QUEUE_GONE_REASON) from exc
            raise
