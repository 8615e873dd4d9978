"""The AWS side of a replica's life: wait for the shared tables, own a queue, check both."""

from __future__ import annotations

import asyncio
import logging
import time

from botocore.exceptions import BotoCoreError, ClientError

from snapqueue_core.aws import AwsClients, SQSClient, error_code
from snapqueue_core.publisher import GONE_QUEUE_CODES

from .errors import StartupError
from .settings import NotifierSettings
from .sweeper import heartbeat_tags

log = logging.getLogger(__name__)

STARTUP_RETRY_SECONDS = 0.5


async def wait_for_tables(clients: AwsClients, settings: NotifierSettings) -> None:
    """Return once both tables are ACTIVE; the bootstrap may still be creating them."""
    deadline = time.monotonic() + settings.startup_timeout_seconds
    pending = [settings.images_table, settings.connections_table]
    while True:
        try:
            while pending:
                described = await clients.dynamodb.describe_table(TableName=pending[0])
                if described["Table"]["TableStatus"] != "ACTIVE":
                    raise _NotYet(f"table {pending[0]} is {described['Table']['TableStatus']}")
                pending.pop(0)
            return
        except (ClientError, BotoCoreError, _NotYet) as exc:
            if isinstance(exc, ClientError) and error_code(exc) != "ResourceNotFoundException":
                raise
            if time.monotonic() >= deadline:
                raise StartupError(f"tables not ready after startup timeout: {exc}") from exc
            log.info("waiting for tables", extra={"pending": pending, "error": repr(exc)})
            await asyncio.sleep(STARTUP_RETRY_SECONDS)


class _NotYet(Exception):
    pass


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

    async def problem(self) -> str | None:
        """``None`` when ready, else a short reason."""
        try:
            async with asyncio.timeout(self._settings.readiness_timeout_seconds):
                await self._clients.sqs.get_queue_attributes(
                    QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
                )
                await self._clients.dynamodb.describe_table(
                    TableName=self._settings.connections_table
                )
        except TimeoutError:
            return "AWS did not answer in time"
        except ClientError as exc:
            code = error_code(exc)
            if code in GONE_QUEUE_CODES:
                return "the replica queue is gone"
            return f"AWS error {code}"
        except BotoCoreError as exc:
            return f"AWS unreachable: {type(exc).__name__}"
        return None
