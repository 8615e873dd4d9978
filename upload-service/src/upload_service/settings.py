"""Settings of the upload-service: the core settings plus HTTP, presigning and API limits."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from snapqueue_core.settings import AuthSettings, split_csv

# The formats the processing worker can read; the worker sniffs the real format anyway.
DEFAULT_CONTENT_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heic",
    "image/heif",
    "image/tiff",
    "image/bmp",
)

# The contract's ceiling for ``GET /get-all-images?limit=``; settings may only lower it.
GALLERY_LIMIT_CEILING = 100

GiB = 1024 * 1024 * 1024


class UploadServiceSettings(AuthSettings):
    """Built once by ``python -m upload_service`` (or a test), never at import."""

    client_name: ClassVar[str] = "snapqueue-upload-service"

    http_host: str = Field("127.0.0.1", description="Address the API binds.")
    http_port: int = Field(default=8000, ge=0, le=65535, description="Port of the API (0: any).")

    # S3 caps presigned POST policies at whatever we sign; five minutes is the contract.
    presign_expires_seconds: int = Field(
        default=300, ge=1, le=300, description="Lifetime of a presigned upload (at most 5 min)."
    )

    gallery_default_limit: int = Field(
        default=24, ge=1, le=GALLERY_LIMIT_CEILING, description="Gallery page size by default."
    )
    gallery_max_limit: int = Field(
        default=100, ge=1, le=GALLERY_LIMIT_CEILING, description="Largest gallery page."
    )

    filename_max_length: int = Field(
        default=255, ge=1, le=1024, description="Longest accepted original filename."
    )
    allowed_content_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CONTENT_TYPES),
        min_length=1,
        description="Content types accepted for upload, comma-separated.",
    )

    # POST /uploads keeps at most this much of a file in memory before spilling to disk.
    upload_spool_memory_bytes: int = Field(
        default=256 * 1024, ge=0, description="`POST /uploads`: bytes kept in memory before disk."
    )
    # After rejecting a streamed upload, read (and drop) at most this much more of the body
    # so an HTTP/1.1 client that sends the whole body before reading still gets the reply.
    upload_drain_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=0,
        description="After refusing a streamed upload, body bytes still read so the reply arrives.",
    )

    cognito_user_pool_id: str = Field(
        min_length=1, description="The Cognito user pool accounts live in."
    )
    cognito_client_id: str = Field(
        min_length=1, description="The pool's app client (no secret) sign-up and sign-in use."
    )
    auth_auto_confirm: bool = Field(
        False,
        description="Confirm sign-ups at once, without the e-mailed code (AdminConfirmSignUp). "
        "For the embedded emulator only; never on AWS.",
    )

    user_uploads_per_minute: int = Field(
        default=60, ge=1, description="Uploads one user may start per minute, across replicas."
    )
    user_max_bytes: int = Field(
        default=5 * GiB, ge=1, description="Bytes (declared sizes) one user may store (5 GiB)."
    )

    readiness_timeout_seconds: float = Field(
        default=2.0, gt=0, description="Budget of the AWS checks behind `/readyz`."
    )
    shutdown_timeout_seconds: int = Field(
        default=10, ge=0, description="On SIGTERM, how long open requests may finish."
    )

    @field_validator("allowed_content_types", mode="before")
    @classmethod
    def _parse_types(cls, value: object) -> object:
        parsed = split_csv(value)
        if isinstance(parsed, list):
            return [str(item).strip().lower() for item in parsed]
        return parsed

    @model_validator(mode="after")
    def _limits_consistent(self) -> UploadServiceSettings:
        if self.gallery_default_limit > self.gallery_max_limit:
            raise ValueError("gallery_default_limit must not exceed gallery_max_limit")
        return self
