"""The public API's JSON shapes as typed, read-only models.

Field names are snake_case in Python and camelCase on the wire. Unknown fields are ignored,
never rejected: the server may add fields and an installed client must keep working against a
newer server.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
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


class Visibility(StrEnum):
    """Who may see an image: its owner (and admins), or everyone."""

    PRIVATE = "private"
    PUBLIC = "public"


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
    # None from a server older than accounts, and for operator imports (no owner).
    owner_id: str | None = None
    visibility: Visibility | None = None


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


# -- Accounts ----------------------------------------------------------------------------

ADMIN_GROUP = "admins"


class Tokens(Model):
    """What ``POST /auth/sign-in`` and ``/auth/refresh`` answer, plus when it expires.

    ``expires_at`` (epoch seconds, this machine's clock) is computed on receipt from
    ``expiresIn`` unless given, so a stored copy keeps its real expiry.
    """

    access_token: str
    id_token: str | None = None
    refresh_token: str | None = None
    expires_in: int = 3600
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_at: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _stamp_expiry(cls, data: Any) -> Any:
        if isinstance(data, dict) and not (data.get("expiresAt") or data.get("expires_at")):
            lifetime: Any = data.get("expiresIn", data.get("expires_in", 3600))
            try:
                seconds = float(lifetime)
            except (TypeError, ValueError):
                return data  # the field's own validation reports it
            data = {**data, "expires_at": time.time() + seconds}
        return data

    def expires_within(self, seconds: float) -> bool:
        """Whether the access token is expired, or will be ``seconds`` from now."""
        return time.time() + seconds >= self.expires_at

    def with_refresh_token(self, refresh_token: str | None) -> Tokens:
        """The same tokens, keeping ``refresh_token`` when the answer carried none (a
        refresh answer usually does not: the old refresh token stays valid)."""
        if self.refresh_token or not refresh_token:
            return self
        return self.model_copy(update={"refresh_token": refresh_token})


class SignUpResult(Model):
    """``POST /auth/sign-up``: the new user's id and whether it can sign in already."""

    user_id: str
    confirmed: bool = False


class Me(Model):
    """``GET /me``: who the token belongs to."""

    user_id: str
    email: str | None = None
    groups: list[str] = Field(default_factory=list)

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups
