"""Typed messages: S3 event notifications, internal notification events, image records."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

UPLOAD_PREFIX = "uploads/"
IMPORT_PREFIX = "imports/"
VARIANT_NAMES = ("thumbnail", "resized", "grayscale")

# imageIds are issued by us: 32 lowercase hex characters (a uuid4 without dashes).
IMAGE_ID_PATTERN = r"^[0-9a-f]{32}$"
_IMAGE_ID_RE = re.compile(IMAGE_ID_PATTERN)


def is_image_id(value: object) -> bool:
    return isinstance(value, str) and _IMAGE_ID_RE.fullmatch(value) is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """A fixed-width UTC timestamp, so strings sort like the instants they name."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Visibility = Literal["private", "public"]


class ImageStatus(StrEnum):
    PENDING_UPLOAD = "PENDING_UPLOAD"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (ImageStatus.COMPLETED, ImageStatus.FAILED)


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ImageError(CamelModel):
    code: str
    message: str


class StoredVariant(CamelModel):
    """A variant as recorded: where it is, not how a browser reaches it."""

    key: str
    width: int
    height: int
    content_type: str
    bytes: int


class ImageRecord(CamelModel):
    """One row of ``ImageMetadata``."""

    image_id: str
    status: ImageStatus
    original_filename: str | None = None
    content_type: str | None = None
    declared_size: int | None = None
    source_key: str
    upload_timestamp: str
    updated_at: str
    completed_at: str | None = None
    variants: dict[str, StoredVariant] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: ImageError | None = None
    origin: Literal["upload", "import"] = "upload"
    # The user pool's ``sub`` of the uploader. Records written before accounts existed have
    # none: only administrators see them.
    owner_id: str | None = None
    visibility: Visibility = "private"
    # Bookkeeping of processing: how many claims so far, and until when (epoch seconds) the
    # current one holds. Internal: the public API never shows them.
    attempts: int = 0
    lease_until: int | None = None

    @classmethod
    def pending(
        cls,
        image_id: str,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        declared_size: int | None = None,
        source_key: str | None = None,
        origin: Literal["upload", "import"] = "upload",
        now: datetime | None = None,
        owner_id: str | None = None,
        visibility: Visibility = "private",
    ) -> ImageRecord:
        """A new record waiting for its file: what exists before any processing.

        ``source_key`` defaults to the image's upload key (``uploads/{imageId}``); an import
        names its own. Both timestamps are ``now`` (the current time by default).
        """
        stamp = isoformat(now or utcnow())
        return cls(
            image_id=image_id,
            status=ImageStatus.PENDING_UPLOAD,
            original_filename=filename,
            content_type=content_type,
            declared_size=declared_size,
            source_key=source_key or upload_key(image_id),
            upload_timestamp=stamp,
            updated_at=stamp,
            origin=origin,
            owner_id=owner_id,
            visibility=visibility,
        )


# ---------------------------------------------------------------------------
# S3 event notifications


class MalformedEventError(ValueError):
    """A queue message that is not an S3 event notification we can read."""


class S3ObjectEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_name: str
    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    sequencer: str | None = None


def parse_s3_event(body: str) -> list[S3ObjectEvent]:
    """The object events in an S3 notification; ``[]`` for ``s3:TestEvent``.

    Keys arrive URL-encoded (a space as ``+``), so they are decoded here, once.
    """
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise MalformedEventError(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedEventError("not a JSON object")
    if payload.get("Event") == "s3:TestEvent":
        return []
    records = payload.get("Records")
    if not isinstance(records, list):
        raise MalformedEventError("no Records list")
    events = []
    for record in records:
        try:
            s3 = record["s3"]
            obj = s3["object"]
            events.append(
                S3ObjectEvent(
                    event_name=str(record["eventName"]),
                    bucket=str(s3["bucket"]["name"]),
                    key=unquote_plus(str(obj["key"])),
                    size=obj.get("size"),
                    etag=(str(obj["eTag"]).strip('"') if obj.get("eTag") else None),
                    sequencer=obj.get("sequencer"),
                )
            )
        except (KeyError, TypeError, ValidationError) as exc:
            raise MalformedEventError(f"unreadable record: {exc!r}") from exc
    return events


def upload_key(image_id: str) -> str:
    return f"{UPLOAD_PREFIX}{image_id}"


def image_id_from_upload_key(key: str) -> str | None:
    """The imageId of ``uploads/{imageId}``, or ``None`` for any other key."""
    if not key.startswith(UPLOAD_PREFIX):
        return None
    candidate = key[len(UPLOAD_PREFIX) :]
    return candidate if is_image_id(candidate) else None


def variant_key(image_id: str, variant: str, extension: str) -> str:
    return f"processed/{image_id}/{variant}.{extension}"


# ---------------------------------------------------------------------------
# Internal notification events (worker, upload-service → notifier)

NotificationType = Literal["status", "imageProcessed", "imageFailed", "imageDeleted"]


class NotificationEvent(CamelModel):
    """What the worker (progress, outcome) and the upload-service (deletion) tell the
    notifier; the notifier renders it for browsers.

    ``status`` is set on every kind but ``imageDeleted``: a deleted image has none.
    """

    type: NotificationType
    image_id: str
    status: ImageStatus | None = None
    variants: dict[str, StoredVariant] | None = None
    error: ImageError | None = None
    emitted_at: str = Field(default_factory=lambda: isoformat(utcnow()))

    @classmethod
    def progress(cls, image_id: str, status: ImageStatus) -> NotificationEvent:
        return cls(type="status", image_id=image_id, status=status)

    @classmethod
    def completed(
        cls, image_id: str, variants: dict[str, StoredVariant] | None
    ) -> NotificationEvent:
        return cls(
            type="imageProcessed",
            image_id=image_id,
            status=ImageStatus.COMPLETED,
            variants=variants,
        )

    @classmethod
    def deleted(cls, image_id: str) -> NotificationEvent:
        """The image and its files are gone; browsers get ``{"type": "imageDeleted", ...}``."""
        return cls(type="imageDeleted", image_id=image_id)

    @classmethod
    def terminal(cls, record: ImageRecord) -> NotificationEvent:
        """The one terminal event of a COMPLETED or FAILED record."""
        if record.status is ImageStatus.COMPLETED:
            return cls.completed(record.image_id, record.variants)
        if record.status is ImageStatus.FAILED:
            return cls(
                type="imageFailed",
                image_id=record.image_id,
                status=record.status,
                error=record.error or ImageError(code="failed", message="Processing failed."),
            )
        raise ValueError(f"record {record.image_id} is not terminal: {record.status}")

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)
