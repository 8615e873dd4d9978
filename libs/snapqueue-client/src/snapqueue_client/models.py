"""The public API's JSON shapes as typed, read-only models.

Field names are snake_case in Python and camelCase on the wire. Unknown fields are ignored,
never rejected: the server may add fields (later issues add visibility and owners) and an
installed client must keep working against a newer server.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

TERMINAL_EVENT_TYPES = frozenset({"imageProcessed", "imageFailed"})


class Status(StrEnum):
    PENDING_UPLOAD = "PENDING_UPLOAD"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED)

    @property
    def rank(self) -> int:
        """Position in the lifecycle, so that a stale ``status`` frame never moves back."""
        return _RANK[self]


_RANK = {Status.PENDING_UPLOAD: 0, Status.PROCESSING: 1, Status.COMPLETED: 2, Status.FAILED: 2}


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class ImageError(Model):
    """Why an image ended ``FAILED``: a stable ``code`` and a message for people."""

    code: str
    message: str = ""


class Variant(Model):
    url: str
    width: int
    height: int
    content_type: str
    bytes: int


class ImageRecord(Model):
    """``GET /image/{imageId}``."""

    image_id: str
    status: Status
    original_filename: str | None = None
    content_type: str | None = None
    upload_timestamp: str | None = None
    updated_at: str | None = None
    variants: dict[str, Variant] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: ImageError | None = None


class StatusInfo(Model):
    """``GET /status/{imageId}``: the cheap answer for polling."""

    image_id: str
    status: Status
    updated_at: str | None = None


class ImagePage(Model):
    """One page of ``GET /get-all-images``; ``next_cursor`` is ``None`` on the last one."""

    items: list[ImageRecord] = Field(default_factory=list)
    next_cursor: str | None = None


class PresignedPost(Model):
    url: str
    fields: dict[str, str]


class UploadTicket(Model):
    """``POST /upload-request``: where and until when the file may be sent."""

    image_id: str
    upload: PresignedPost
    expires_at: str | None = None
    max_bytes: int | None = None


class ImageEvent(Model):
    """A notifier frame about one image (``status``, ``imageProcessed``, ``imageFailed``).

    The polling fallback produces the same events, so a consumer cannot tell (and need not
    care) which path delivered them.
    """

    type: str
    image_id: str
    status: Status
    variants: dict[str, Variant] | None = None
    error: ImageError | None = None

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_EVENT_TYPES or self.status.is_terminal
