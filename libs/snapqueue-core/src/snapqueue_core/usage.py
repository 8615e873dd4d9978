"""Per-user counters on ``UsageCounters``: uploads per minute and bytes stored.

Every replica counts in the same table with atomic, conditional ``ADD`` updates, so a limit
holds across replicas without any coordination between them: the write that would cross the
limit is refused by DynamoDB itself.

Items (``pk`` is the only key):

- ``user#{sub}#uploads#{minute}``: ``n``, the uploads started in that minute (epoch minute,
  UTC); it expires (TTL ``expiresAt``) soon after its minute ends.
- ``user#{sub}#bytes``: ``bytes``, the declared sizes of the user's images; no TTL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from .aws import DynamoDBClient
from .settings import CoreSettings
from .transient import error_code

# How long a minute's counter outlives its minute: DynamoDB deletes expired items lazily,
# and a counter is only ever read during its own minute anyway.
MINUTE_COUNTER_TTL_SLACK_SECONDS = 3600


class UsageError(Exception):
    """Base of the usage counters' refusals."""


class RateLimitedError(UsageError):
    """Too many uploads this minute; ``retry_after`` is the whole seconds until the next."""

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(f"more than {limit} uploads in a minute")
        self.limit = limit
        self.retry_after = retry_after


class QuotaExceededError(UsageError):
    """Storing ``requested`` more bytes would exceed ``limit``; ``used`` is the count seen."""

    def __init__(self, requested: int, limit: int, used: int | None) -> None:
        super().__init__(f"{requested} more bytes would exceed the quota of {limit}")
        self.requested = requested
        self.limit = limit
        self.used = used


def _conditional_failed(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def _number(item: dict[str, Any] | None, name: str) -> int | None:
    if not item or name not in item:
        return None
    return int(item[name]["N"])


class UsageCounters:
    """The counters of every user, shared by every replica."""

    def __init__(
        self,
        client: DynamoDBClient,
        settings: CoreSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = client
        self._table = settings.usage_table
        self._clock = clock

    @staticmethod
    def minute_key(user_id: str, minute: int) -> str:
        return f"user#{user_id}#uploads#{minute}"

    @staticmethod
    def bytes_key(user_id: str) -> str:
        return f"user#{user_id}#bytes"

    async def count_upload(self, user_id: str, limit: int) -> int:
        """Count one upload in the current minute; :class:`RateLimitedError` past ``limit``.

        Returns the count including this one. A refused upload is not counted.
        """
        now = self._clock()
        minute = int(now // 60)
        retry_after = max(1, math.ceil((minute + 1) * 60 - now))
        try:
            response = await self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": self.minute_key(user_id, minute)}},
                UpdateExpression="ADD #n :one SET expiresAt = :ttl",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": "n"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":ttl": {"N": str((minute + 1) * 60 + MINUTE_COUNTER_TTL_SLACK_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise RateLimitedError(limit, retry_after) from exc
            raise
        return _number(response.get("Attributes"), "n") or 1

    async def reserve_bytes(self, user_id: str, size: int, limit: int) -> int:
        """Add ``size`` to the user's bytes unless the total would exceed ``limit``.

        Returns the new total; raises :class:`QuotaExceededError` (nothing added) otherwise.
        """
        if size > limit:
            raise QuotaExceededError(size, limit, None)
        try:
            response = await self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": self.bytes_key(user_id)}},
                UpdateExpression="ADD #b :size",
                ConditionExpression="attribute_not_exists(#b) OR #b <= :room",
                ExpressionAttributeNames={"#b": "bytes"},
                ExpressionAttributeValues={
                    ":size": {"N": str(size)},
                    ":room": {"N": str(limit - size)},
                },
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                used = _number(exc.response.get("Item"), "bytes")
                raise QuotaExceededError(size, limit, used) from exc
            raise
        return _number(response.get("Attributes"), "bytes") or size

    async def release_bytes(self, user_id: str, size: int) -> None:
        """Give back ``size`` bytes (an image deleted, an upload that never got a record).

        Never below zero: a counter that was reconciled down already may hold less.
        """
        if size <= 0:
            return
        try:
            await self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": self.bytes_key(user_id)}},
                UpdateExpression="ADD #b :minus",
                ConditionExpression="#b >= :size",
                ExpressionAttributeNames={"#b": "bytes"},
                ExpressionAttributeValues={
                    ":minus": {"N": str(-size)},
                    ":size": {"N": str(size)},
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            await self._clear_bytes(user_id, size)

    async def _clear_bytes(self, user_id: str, below: int) -> None:
        """Set the counter to zero if it holds less than ``below`` (and exists)."""
        try:
            await self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": self.bytes_key(user_id)}},
                UpdateExpression="SET #b = :zero",
                ConditionExpression="#b < :below",
                ExpressionAttributeNames={"#b": "bytes"},
                ExpressionAttributeValues={":zero": {"N": "0"}, ":below": {"N": str(below)}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    async def stored_bytes(self, user_id: str) -> int:
        response = await self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": self.bytes_key(user_id)}},
            ConsistentRead=True,
        )
        return _number(response.get("Item"), "bytes") or 0

    async def correct_bytes(self, user_id: str, seen: int, actual: int) -> bool:
        """Set the counter to ``actual`` if it still holds ``seen``; whether it was set.

        For reconciling with the records (reservations of uploads whose records expired
        are never given back otherwise): conditional on ``seen``, so a reservation or a
        release made meanwhile is never overwritten.
        """
        try:
            await self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": self.bytes_key(user_id)}},
                UpdateExpression="SET #b = :actual",
                ConditionExpression="#b = :seen",
                ExpressionAttributeNames={"#b": "bytes"},
                ExpressionAttributeValues={
                    ":actual": {"N": str(actual)},
                    ":seen": {"N": str(seen)},
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True
