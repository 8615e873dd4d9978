"""The JSON shapes of the public API (camelCase on the wire), for validation and OpenAPI."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic.alias_generators import to_camel

from snapqueue_core.schemas import IMAGE_ID_PATTERN, ImageStatus

Visibility = Literal["private", "public"]


class ApiModel(BaseModel):
    """Responses: built from Python names, serialised with the camelCase aliases."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of this API."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": "unsupported_content_type", "message": "..."}],
        }
    )

    error: str = Field(description="Stable, snake_case machine code.")
    message: str = Field(description="What is wrong, for a person.")


class UploadRequestBody(BaseModel):
    """``POST /upload-request``: what the browser knows about the file it is about to send."""

    # Only the camelCase names are accepted; anything else is an unknown field (422).
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "filename": "holiday.jpg",
                    "contentType": "image/jpeg",
                    "size": 482113,
                    "visibility": "private",
                }
            ]
        },
    )

    filename: StrictStr = Field(description="Shown to people only; never part of any key.")
    content_type: StrictStr = Field(description="One of the allowed image types.")
    size: StrictInt = Field(description="Declared size in bytes, 1..maxBytes.")
    visibility: Visibility = Field(
        "private", description="`public` images are in the gallery and readable by anyone."
    )


class StrictBody(BaseModel):
    """A request body: camelCase names only, unknown fields refused (422)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid")


class CredentialsBody(StrictBody):
    """``POST /auth/sign-up`` and ``/auth/sign-in``."""

    email: StrictStr = Field(max_length=320)
    password: StrictStr = Field(max_length=1024)


class ConfirmBody(StrictBody):
    email: StrictStr = Field(max_length=320)
    code: StrictStr = Field(min_length=1, max_length=64)


class RefreshBody(StrictBody):
    refresh_token: StrictStr = Field(min_length=1, max_length=8192)


class VisibilityBody(StrictBody):
    visibility: Visibility


class SignUpOut(ApiModel):
    user_id: str = Field(description="The account's id (the tokens' `sub`).")
    confirmed: bool = Field(description="False: confirm with the e-mailed code first.")


class ConfirmedOut(ApiModel):
    confirmed: Literal[True] = True


class TokensOut(ApiModel):
    access_token: str = Field(description="Send as `Authorization: Bearer <accessToken>`.")
    id_token: str
    refresh_token: str | None = Field(
        None, description="For `POST /auth/refresh`; absent when refreshing keeps the old one."
    )
    expires_in: int = Field(description="Seconds the access token is valid for.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


class MeOut(ApiModel):
    user_id: str
    email: str | None
    groups: list[str]


class PresignedPost(ApiModel):
    url: str = Field(description="POST a multipart/form-data body here.")
    fields: dict[str, str] = Field(description="Send every one of these before the file field.")


class UploadTicket(ApiModel):
    image_id: str = Field(pattern=IMAGE_ID_PATTERN)
    upload: PresignedPost
    expires_at: str = Field(description="When the upload permission lapses (UTC, ISO 8601).")
    max_bytes: int


class UploadAccepted(ApiModel):
    image_id: str = Field(pattern=IMAGE_ID_PATTERN)
    status: ImageStatus


class VariantOut(ApiModel):
    url: str = Field(description="Presigned GET or CDN URL a browser can fetch.")
    width: int
    height: int
    content_type: str
    bytes: int


class ErrorInfo(ApiModel):
    code: str
    message: str


class ImageOut(ApiModel):
    image_id: str = Field(pattern=IMAGE_ID_PATTERN)
    status: ImageStatus
    original_filename: str | None
    content_type: str | None
    upload_timestamp: str
    updated_at: str
    variants: dict[str, VariantOut] = Field(
        description="Keys among thumbnail, resized, grayscale; empty until COMPLETED."
    )
    metadata: dict[str, Any]
    error: ErrorInfo | None
    visibility: Visibility = Field("private")
    owner_id: str | None = Field(
        None,
        description="The uploader's userId; shown to the owner and to administrators only.",
    )


class StatusOut(ApiModel):
    image_id: str = Field(pattern=IMAGE_ID_PATTERN)
    status: ImageStatus
    updated_at: str


class ImagePage(ApiModel):
    items: list[ImageOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready", "not-ready"]
    reason: str | None = None
