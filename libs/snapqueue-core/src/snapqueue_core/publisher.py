"""Routes notification events to exactly the notifier replicas that hold a waiting browser.

The cost of one event is one query plus one send per replica that has a client for the
image; it does not grow with the number of replicas.
"""

from __future__ import annotations

import asyncio
import logging

from botocore.exceptions import ClientError

from .aws import SQSClient
from .schemas import NotificationEvent
from .store import ConnectionRow, ConnectionStore
from .transient import GONE_QUEUE_CODES, error_code

log = logging.getLogger(__name__)


class NotificationPublisher:
    def __init__(self, sqs: SQSClient, connections: ConnectionStore) -> None:
        self._sqs = sqs
        self._connections = connections

    async def publish(self, event: NotificationEvent) -> int:
        """Send ``event`` to each replica queue with a client for its image; return how many."""
        rows = await self._connections.for_image(event.image_id)
        queue_urls = sorted({row.queue_url for row in rows})
        body = event.to_json()
        results = await asyncio.gather(
            *(self._send(url, body) for url in queue_urls), return_exceptions=True
        )
        delivered = 0
        gone: list[str] = []
        for url, result in zip(queue_urls, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, ClientError):
                    raise result
                log.warning(
                    "notify send failed",
                    extra={"imageId": event.image_id, "queueUrl": url, "code": error_code(result)},
                )
            elif result:
                delivered += 1
            else:
                gone.append(url)
        if gone:
            await self._forget([row for row in rows if row.queue_url in gone])
        return delivered

    async def _forget(self, rows: list[ConnectionRow]) -> None:
        """Delete the rows of replicas whose queue is gone (a dead replica, swept): the
        next event for the image then skips them instead of failing a send again until
        the rows' TTL. Best effort: a row left behind only costs that failed send."""
        for row in rows:
            try:
                await self._connections.delete(row.image_id, row.connection_id)
            except ClientError as exc:
                log.warning(
                    "could not delete a dead replica's row",
                    extra={"imageId": row.image_id, "code": error_code(exc)},
                )

    async def _send(self, queue_url: str, body: str) -> bool:
        try:
            await self._sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        except ClientError as exc:
            # A replica that died leaves rows behind; once its queue is gone (shut down,
            # or swept by the notifiers), publish() deletes them.
            if error_code(exc) in GONE_QUEUE_CODES:
                return False
            raise
        return True
