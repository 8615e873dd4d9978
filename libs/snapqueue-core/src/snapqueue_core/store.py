"""The metadata store: ``ImageMetadata`` and ``WebSocketConnections`` on DynamoDB.

Every DynamoDB access of the product goes through this module. State changes are
conditional writes, so concurrent workers and duplicate deliveries cannot both win.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .aws import DynamoDBClient
from .dynamo import from_item, to_attr, to_item
from .schemas import (
    ImageError,
    ImageRecord,
    ImageStatus,
    StoredVariant,
    is_image_id,
    isoformat,
    utcnow,
)
from .settings import CoreSettings
from .transient import error_code

GALLERY_PARTITION = "COMPLETED"
PENDING_TTL_SECONDS = 24 * 3600
FAILED_TTL_SECONDS = 7 * 24 * 3600


class StoreError(Exception):
    """Base of the store's own errors."""


class ImageExistsError(StoreError):
    pass


class ClaimRejectedError(StoreError):
    """Someone else holds the image, or it is already terminal; ``record`` says which."""

    def __init__(self, record: ImageRecord | None) -> None:
        super().__init__(f"claim rejected: {record.status if record else 'no record'}")
        self.record = record


class StaleClaimError(StoreError):
    """The lease was lost (another worker took over); this worker's result is dropped."""


class InvalidCursorError(StoreError):
    pass


def _conditional_failed(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def _record_from_item(item: dict[str, Any]) -> ImageRecord:
    return ImageRecord.model_validate(from_item(item))


def encode_cursor(last_key: dict[str, Any]) -> str:
    raw = json.dumps(from_item(last_key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The DynamoDB key of an opaque cursor; only our own string keys are accepted."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursorError("cursor is not one this API issued") from exc
    expected = {"imageId", "galleryPartition", "completedAt"}
    if (
        not isinstance(values, dict)
        or set(values) != expected
        or not all(isinstance(v, str) and len(v) < 200 for v in values.values())
        # A cursor into another partition, or at no image, would start the query anywhere.
        or values["galleryPartition"] != GALLERY_PARTITION
        or not is_image_id(values["imageId"])
    ):
        raise InvalidCursorError("cursor is not one this API issued")
    return to_item(values)


class ImageStore:
    """``ImageMetadata``: one row per image, keyed by ``imageId``."""

    def __init__(self, client: DynamoDBClient, settings: CoreSettings) -> None:
        self._db = client
        self._table = settings.images_table
        self._gallery_index = settings.gallery_index

    async def create(self, record: ImageRecord, *, ttl_seconds: int = PENDING_TTL_SECONDS) -> None:
        item = to_item(record.model_dump(by_alias=True, mode="json", exclude_none=True))
        item["expiresAt"] = to_attr(int(time.time()) + ttl_seconds)
        try:
            await self._db.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(imageId)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ImageExistsError(record.image_id) from exc
            raise

    async def get(self, image_id: str) -> ImageRecord | None:
        response = await self._db.get_item(
            TableName=self._table, Key={"imageId": {"S": image_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return _record_from_item(item) if item else None

    async def claim(self, image_id: str, token: str, lease_seconds: int) -> ImageRecord:
        """Move the image to PROCESSING for this worker, unless someone else may hold it.

        A PROCESSING record whose lease ran out belonged to a worker that died; it may be
        taken over. Anything else raises :class:`ClaimRejectedError`.
        """
        now = int(time.time())
        try:
            response = await self._db.update_item(
                TableName=self._table,
                Key={"imageId": {"S": image_id}},
                UpdateExpression=(
                    "SET #s = :processing, processingToken = :token, leaseUntil = :lease, "
                    "updatedAt = :now, attempts = if_not_exists(attempts, :zero) + :one"
                ),
                ConditionExpression=(
                    "attribute_exists(imageId) AND "
                    "(#s = :pending OR (#s = :processing AND leaseUntil < :epoch))"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":processing": {"S": ImageStatus.PROCESSING.value},
                    ":pending": {"S": ImageStatus.PENDING_UPLOAD.value},
                    ":token": {"S": token},
                    ":lease": {"N": str(now + lease_seconds)},
                    ":epoch": {"N": str(now)},
                    ":now": {"S": isoformat(utcnow())},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ClaimRejectedError(await self.get(image_id)) from exc
            raise
        return _record_from_item(response["Attributes"])

    async def extend_lease(self, image_id: str, token: str, lease_seconds: int) -> None:
        try:
            await self._db.update_item(
                TableName=self._table,
                Key={"imageId": {"S": image_id}},
                UpdateExpression="SET leaseUntil = :lease",
                ConditionExpression="#s = :processing AND processingToken = :token",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":lease": {"N": str(int(time.time()) + lease_seconds)},
                    ":processing": {"S": ImageStatus.PROCESSING.value},
                    ":token": {"S": token},
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise StaleClaimError(image_id) from exc
            raise

    async def release(self, image_id: str, token: str) -> None:
        """Give up this worker's lease, so the next delivery may claim at once."""
        await self.extend_lease(image_id, token, lease_seconds=-1)

    async def complete(
        self,
        image_id: str,
        token: str,
        variants: dict[str, StoredVariant],
        metadata: dict[str, Any],
    ) -> None:
        """COMPLETED with variants and metadata, in one write, only by the lease holder.

        Nothing is read back: the caller has everything the terminal event needs, and the
        stored record, with its metadata, would be sent and parsed again for nothing.
        """
        now = isoformat(utcnow())
        try:
            await self._db.update_item(
                TableName=self._table,
                Key={"imageId": {"S": image_id}},
                UpdateExpression=(
                    "SET #s = :completed, variants = :variants, metadata = :metadata, "
                    "updatedAt = :now, completedAt = :now, galleryPartition = :gallery "
                    "REMOVE processingToken, leaseUntil, expiresAt, #e"
                ),
                ConditionExpression="#s = :processing AND processingToken = :token",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={
                    ":completed": {"S": ImageStatus.COMPLETED.value},
                    ":processing": {"S": ImageStatus.PROCESSING.value},
                    ":token": {"S": token},
                    ":variants": to_attr(
                        {k: v.model_dump(by_alias=True) for k, v in variants.items()}
                    ),
                    ":metadata": to_attr(metadata),
                    ":now": {"S": now},
                    ":gallery": {"S": GALLERY_PARTITION},
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise StaleClaimError(image_id) from exc
            raise

    async def fail(
        self, image_id: str, error: ImageError, *, token: str | None = None
    ) -> ImageRecord | None:
        """FAILED with a reason; ``None`` if the record is already terminal or the lease is lost.

        Without a token (a message that reached its last delivery, an upload we never
        claimed), any non-terminal record may be failed.
        """
        condition = "attribute_exists(imageId) AND NOT (#s IN (:completed, :failed))"
        values: dict[str, Any] = {
            ":failed": {"S": ImageStatus.FAILED.value},
            ":completed": {"S": ImageStatus.COMPLETED.value},
            ":error": to_attr(error.model_dump()),
            ":now": {"S": isoformat(utcnow())},
            ":ttl": {"N": str(int(time.time()) + FAILED_TTL_SECONDS)},
        }
        if token is not None:
            condition += " AND (#s = :pending OR processingToken = :token)"
            values[":pending"] = {"S": ImageStatus.PENDING_UPLOAD.value}
            values[":token"] = {"S": token}
        try:
            response = await self._db.update_item(
                TableName=self._table,
                Key={"imageId": {"S": image_id}},
                UpdateExpression=(
                    "SET #s = :failed, #e = :error, updatedAt = :now, expiresAt = :ttl "
                    "REMOVE processingToken, leaseUntil"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        return _record_from_item(response["Attributes"])

    async def list_completed(
        self, limit: int, cursor: str | None = None
    ) -> tuple[list[ImageRecord], str | None]:
        """COMPLETED images, newest first, from the sparse gallery index (never a Scan)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._gallery_index,
            "KeyConditionExpression": "galleryPartition = :gallery",
            "ExpressionAttributeValues": {":gallery": {"S": GALLERY_PARTITION}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor)
        response = await self._db.query(**query)
        records = [_record_from_item(item) for item in response.get("Items", [])]
        last_key = response.get("LastEvaluatedKey")
        return records, encode_cursor(last_key) if last_key else None


@dataclass(frozen=True)
class ConnectionRow:
    image_id: str
    connection_id: str
    replica: str
    queue_url: str


class ConnectionStore:
    """``WebSocketConnections``: which replica's queue reaches which waiting browser."""

    def __init__(self, client: DynamoDBClient, settings: CoreSettings) -> None:
        self._db = client
        self._table = settings.connections_table

    async def put(self, row: ConnectionRow, *, ttl_seconds: int) -> None:
        await self._db.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "imageId": row.image_id,
                    "connectionId": row.connection_id,
                    "replica": row.replica,
                    "queueUrl": row.queue_url,
                    "expiresAt": int(time.time()) + ttl_seconds,
                }
            ),
        )

    async def delete(self, image_id: str, connection_id: str) -> None:
        await self._db.delete_item(
            TableName=self._table,
            Key={"imageId": {"S": image_id}, "connectionId": {"S": connection_id}},
        )

    async def for_image(self, image_id: str) -> list[ConnectionRow]:
        """Live rows only: DynamoDB deletes expired rows lazily, so they are filtered here."""
        rows: list[ConnectionRow] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "imageId = :id",
            "ExpressionAttributeValues": {":id": {"S": image_id}},
            "ConsistentRead": True,
        }
        now = int(time.time())
        while True:
            response = await self._db.query(**query)
            for item in response.get("Items", []):
                values = from_item(item)
                if int(values.get("expiresAt", now + 1)) <= now:
                    continue
                rows.append(
                    ConnectionRow(
                        image_id=values["imageId"],
                        connection_id=values["connectionId"],
                        replica=values["replica"],
                        queue_url=values["queueUrl"],
                    )
                )
            if "LastEvaluatedKey" not in response:
                return rows
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
