"""SQS checks the suites share."""

from __future__ import annotations

from snapqueue_core.aws import SQSClient


async def messages_on_queue(sqs: SQSClient, queue_url: str) -> int:
    """Visible plus in-flight messages: 0 once everything sent was received and deleted."""
    attributes = (
        await sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return sum(int(value) for value in attributes.values())
