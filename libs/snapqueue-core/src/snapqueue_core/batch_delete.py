"""Deleting finished SQS messages in batches.

SQS requests are billed one by one, and each costs the caller (and the embedded emulator)
about as much CPU as any other request: under load, one delete request serves several
messages. Used by the worker's receive loop and the notifier's replica-queue consumer.
"""

from __future__ import annotations

import asyncio
import logging

from .aws import SQSClient
from .transient import AWS_CALL_ERRORS

log = logging.getLogger(__name__)

SQS_BATCH_LIMIT = 10
# How long a finished message may wait for others to share its delete request. It is
# already done; if the process dies meanwhile, the redelivery only re-sends the outcome.
DELETE_LINGER_SECONDS = 0.25


class DeleteBatcher:
    """Deletes finished messages with ``delete_message_batch``: once ten are waiting, or
    :data:`DELETE_LINGER_SECONDS` after the first of them finished.

    A finished message is already done: if the process dies while its delete waits, the
    redelivery finds the recorded outcome."""

    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self._pending: list[str] = []
        self._later: asyncio.Task[None] | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self.requests = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, receipt: str) -> None:
        self._pending.append(receipt)
        if len(self._pending) >= SQS_BATCH_LIMIT:
            self._start_flush()
        elif self._later is None:
            self._later = asyncio.create_task(self._flush_later())

    def _start_flush(self) -> None:
        task = asyncio.create_task(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush_later(self) -> None:
        # Only this sleep is ever cancelled (by close); a delete in flight is not.
        await asyncio.sleep(DELETE_LINGER_SECONDS)
        self._later = None
        self._start_flush()

    async def flush(self) -> None:
        """Send what is waiting now. Never raises for AWS trouble: a message whose delete
        failed comes back after its visibility timeout, and its next delivery finds the
        recorded outcome."""
        while self._pending:
            batch = self._pending[:SQS_BATCH_LIMIT]
            del self._pending[:SQS_BATCH_LIMIT]
            await self._delete(batch)

    async def close(self) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later = None
        await asyncio.gather(*self._flushing)
        await self.flush()

    async def _delete(self, receipts: list[str]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts)]
        self.requests += 1
        try:
            async with asyncio.timeout(5):
                response = await self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url, Entries=entries
                )
        except AWS_CALL_ERRORS as exc:
            log.warning(
                "could not delete finished messages",
                extra={"count": len(receipts), "error": repr(exc)},
            )
            return
        for failed in response.get("Failed", []):
            log.warning(
                "could not delete a finished message",
                extra={"code": failed.get("Code"), "reason": failed.get("Message")},
            )
