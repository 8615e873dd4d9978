"""The metadata store: ``ImageMetadata`` and ``WebSocketConnections`` on DynamoDB.

Every DynamoDB access of the product goes through this module (and ``usage.py``, for the
per-user counters). State changes are conditional writes, so concurrent workers and
duplicate deliveries cannot both win.

The public gallery is the sparse ``gallery-index``: only records that carry
``galleryPartition`` are in it, and a record carries it exactly when it is COMPLETED *and*
public. Two writers decide it, and each conditions its write on the other's field:

- :meth:`ImageStore.complete` (the worker) writes the attribute, or not, according to the
  visibility it expects, on the condition that the visibility still is that one; when a
  change of visibility got in first, it writes again with the new one.
- :meth:`ImageStore.set_visibility` (the owner) adds or removes the attribute when the
  record is COMPLETED, on the condition that the status still is the one it read; when a
  completion got in first, it writes again for a COMPLETED record.

DynamoDB applies writes to one item one at a time, so whichever comes second sees the
first's result, and the attribute always agrees with status and visibility.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from .aws import DynamoDBClient
from .dynamo import from_attr, from_item, to_attr, to_item
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


class RecordGoneError(StaleClaimError):
    """The record no longer exists: the image was deleted while this worker held it.

    A :class:`StaleClaimError`, so code that drops a lost claim's result keeps working; a
    worker that catches this one in particular should also remove the objects it wrote,
    since no record will ever point at them.
    """


class ImageNotFoundError(StoreError):
    """No record of that image (never created, expired, or deleted)."""


class InvalidCursorError(StoreError):
    pass


Visibility = Literal["private", "public"]
CursorKind = Literal["gallery", "owner"]
# The key attributes an index's page cursor names, by index.
CURSOR_KEYS: dict[str, frozenset[str]] = {
    "gallery": frozenset({"imageId", "galleryPartition", "completedAt"}),
    "owner": frozenset({"imageId", "ownerId", "uploadTimestamp"}),
}
# Attempts of a write that re-reads and writes again when a concurrent write to the other
# field got in first. Each retry means someone else changed the record in between.
RACE_ATTEMPTS = 5


def _conditional_failed(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def _record_from_item(item: dict[str, Any]) -> ImageRecord:
    return ImageRecord.model_validate(from_item(item))


def encode_cursor(last_key: dict[str, Any]) -> str:
    raw = json.dumps(from_item(last_key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str, kind: CursorKind = "gallery", *, owner_id: str | None = None
) -> dict[str, Any]:
    """The DynamoDB key of an opaque cursor; only our own string keys are accepted.

    ``kind`` names the index the cursor pages through; an owner cursor must be one of
    ``owner_id``'s pages when ``owner_id`` is given.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursorError("cursor is not one this API issued") from exc
    if (
        not isinstance(values, dict)
        or set(values) != CURSOR_KEYS[kind]
        or not all(isinstance(v, str) and len(v) < 200 for v in values.values())
        or not is_image_id(values["imageId"])
    ):
        raise InvalidCursorError("cursor is not one this API issued")
    # A cursor into another partition would start the query anywhere (or in someone
    # else's images).
    if kind == "gallery" and values["galleryPartition"] != GALLERY_PARTITION:
        raise InvalidCursorError("cursor is not one this API issued")
    if kind == "owner" and owner_id is not None and values["ownerId"] != owner_id:
        raise InvalidCursorError("cursor is not one of these pages")
    return to_item(values)


class ImageStore:
    """``ImageMetadata``: one row per image, keyed by ``imageId``."""

    def __init__(self, client: DynamoDBClient, settings: CoreSettings) -> None:
        self._db = client
        self._table = settings.images_table
        self._gallery_index = settings.gallery_index
        self._owner_index = settings.owner_index

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
        """Keep holding the claim; :class:`RecordGoneError` if the image was deleted,
        :class:`StaleClaimError` if another worker holds it."""
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
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                if not exc.response.get("Item"):
                    raise RecordGoneError(image_id) from exc
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
        *,
        visibility: Visibility | None = None,
    ) -> None:
        """COMPLETED with variants and metadata, in one write, only by the lease holder.

        A public record enters the gallery in the same write. ``visibility`` is the one the
        caller read at its claim (private when unknown); if the owner changed it since, the
        write is refused and made again with the current one (see the module docstring).

        Raises :class:`RecordGoneError` when the record was deleted meanwhile and
        :class:`StaleClaimError` when another worker holds it now. Nothing is read back:
        the caller has everything the terminal event needs.
        """
        expected: Visibility = visibility or "private"
        for _attempt in range(RACE_ATTEMPTS):
            current = await self._complete_once(image_id, token, variants, metadata, expected)
            if current is None:
                return
            expected = current
        # The owner flipped the visibility on every attempt: a client looping on PATCH. The
        # lease is still this worker's; the job is retried like any other failed write.
        raise StaleClaimError(f"{image_id}: visibility kept changing during completion")

    async def _complete_once(
        self,
        image_id: str,
        token: str,
        variants: dict[str, StoredVariant],
        metadata: dict[str, Any],
        visibility: Visibility,
    ) -> Visibility | None:
        """One conditional completion write; ``None`` when done, else the visibility found."""
        now = isoformat(utcnow())
        values: dict[str, Any] = {
            ":completed": {"S": ImageStatus.COMPLETED.value},
            ":processing": {"S": ImageStatus.PROCESSING.value},
            ":token": {"S": token},
            ":variants": to_attr({k: v.model_dump(by_alias=True) for k, v in variants.items()}),
            ":metadata": to_attr(metadata),
            ":now": {"S": now},
            ":public": {"S": "public"},
        }
        update = (
            "SET #s = :completed, variants = :variants, metadata = :metadata, "
            "updatedAt = :now, completedAt = :now"
        )
        remove = "REMOVE processingToken, leaseUntil, expiresAt, #e"
        condition = "#s = :processing AND processingToken = :token"
        if visibility == "public":
            update += ", galleryPartition = :gallery"
            values[":gallery"] = {"S": GALLERY_PARTITION}
            condition += " AND visibility = :public"
        else:
            # Records from before visibility existed have none: they are private.
            remove += ", galleryPartition"
            condition += " AND (attribute_not_exists(visibility) OR visibility <> :public)"
        try:
            await self._db.update_item(
                TableName=self._table,
                Key={"imageId": {"S": image_id}},
                UpdateExpression=f"{update} {remove}",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            item = exc.response.get("Item")
            if not item:
                raise RecordGoneError(image_id) from exc
            found = _record_from_item(item)
            held = (
                found.status is ImageStatus.PROCESSING
                and (from_attr(item["processingToken"]) if "processingToken" in item else None)
                == token
            )
            if not held:
                raise StaleClaimError(image_id) from exc
            return found.visibility
        return None

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
        """Public COMPLETED images, newest first, from the sparse gallery index (never a Scan).

        Records from before visibility existed may still be in the index; the filter keeps
        them out (they are private), at the price of a shorter page while any are left.
        """
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._gallery_index,
            "KeyConditionExpression": "galleryPartition = :gallery",
            "FilterExpression": "visibility = :public",
            "ExpressionAttributeValues": {
                ":gallery": {"S": GALLERY_PARTITION},
                ":public": {"S": "public"},
            },
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, "gallery")
        response = await self._db.query(**query)
        records = [_record_from_item(item) for item in response.get("Items", [])]
        last_key = response.get("LastEvaluatedKey")
        return records, encode_cursor(last_key) if last_key else None

    async def list_owned(
        self,
        owner_id: str,
        limit: int,
        cursor: str | None = None,
        *,
        status: ImageStatus | None = None,
    ) -> tuple[list[ImageRecord], str | None]:
        """One owner's images, newest upload first, from the owner index (never a Scan).

        With ``status``, only those in it: a filter on the owner's own partition, so a
        page may hold fewer than ``limit`` items while ``nextCursor`` leads on.
        """
        values: dict[str, Any] = {":owner": {"S": owner_id}}
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._owner_index,
            "KeyConditionExpression": "ownerId = :owner",
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if status is not None:
            query["FilterExpression"] = "#s = :status"
            query["ExpressionAttributeNames"] = {"#s": "status"}
            values[":status"] = {"S": status.value}
        query["ExpressionAttributeValues"] = values
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, "owner", owner_id=owner_id)
        response = await self._db.query(**query)
        records = [_record_from_item(item) for item in response.get("Items", [])]
        last_key = response.get("LastEvaluatedKey")
        return records, encode_cursor(last_key) if last_key else None

    async def owned_bytes(self, owner_id: str, *, excluding: str | None = None) -> int:
        """The declared sizes of every live record of ``owner_id`` but ``excluding``: what
        the usage counter should say. Pages through the owner index; records past their
        TTL, which DynamoDB deletes lazily, do not count."""
        total = 0
        now = int(time.time())
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._owner_index,
            "KeyConditionExpression": "ownerId = :owner",
            "ExpressionAttributeValues": {":owner": {"S": owner_id}},
            "ProjectionExpression": "imageId, declaredSize, expiresAt",
        }
        while True:
            response = await self._db.query(**query)
            for item in response.get("Items", []):
                values = from_item(item)
                if excluding is not None and values.get("imageId") == excluding:
                    continue
                expires = values.get("expiresAt")
                if isinstance(expires, int) and expires <= now:
                    continue
                size = values.get("declaredSize")
                if isinstance(size, int) and size > 0:
                    total += size
            if "LastEvaluatedKey" not in response:
                return total
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    async def set_visibility(self, image_id: str, visibility: Visibility) -> ImageRecord:
        """Make the image public or private; a COMPLETED one enters or leaves the gallery
        in the same write. Returns the record as written.

        Raises :class:`ImageNotFoundError` when there is no record. Race-free against
        :meth:`complete` (see the module docstring).
        """
        record = await self.get(image_id)
        for _attempt in range(RACE_ATTEMPTS):
            if record is None:
                raise ImageNotFoundError(image_id)
            written = await self._set_visibility_once(record, visibility)
            if isinstance(written, ImageRecord):
                return written
            record = written.record
        raise ConcurrentUpdateError(image_id)

    async def _set_visibility_once(
        self, record: ImageRecord, visibility: Visibility
    ) -> ImageRecord | _Refused:
        values: dict[str, Any] = {
            ":visibility": {"S": visibility},
            ":now": {"S": isoformat(utcnow())},
            ":completed": {"S": ImageStatus.COMPLETED.value},
        }
        update = "SET visibility = :visibility, updatedAt = :now"
        if record.status is ImageStatus.COMPLETED:
            condition = "attribute_exists(imageId) AND #s = :completed"
            if visibility == "public":
                update += ", galleryPartition = :gallery"
                values[":gallery"] = {"S": GALLERY_PARTITION}
            else:
                update += " REMOVE galleryPartition"
        else:
            # Not in the gallery yet; if the worker completes before this write lands, the
            # condition fails and the write is made again for a COMPLETED record.
            condition = "attribute_exists(imageId) AND #s <> :completed"
        try:
            response = await self._db.update_item(
                TableName=self._table,
                Key={"imageId": {"S": record.image_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            item = exc.response.get("Item")
            return _Refused(_record_from_item(item) if item else None)
        return _record_from_item(response["Attributes"])

    async def delete(self, image_id: str) -> ImageRecord:
        """Delete the record; return it as it was, for the objects it names.

        Raises :class:`ImageNotFoundError` if there is none (deleted already). A worker
        processing the image finds the record gone when it completes or extends its lease
        (:class:`RecordGoneError`).
        """
        try:
            response = await self._db.delete_item(
                TableName=self._table,
                Key={"imageId": {"S": image_id}},
                ConditionExpression="attribute_exists(imageId)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ImageNotFoundError(image_id) from exc
            raise
        return _record_from_item(response["Attributes"])


class ConcurrentUpdateError(StoreError):
    """A write kept losing to concurrent writes of the same record; the caller may retry."""


@dataclass(frozen=True)
class _Refused:
    """A conditional write refused; ``record`` is the item as it was (None: gone)."""

    record: ImageRecord | None


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
