"""The processing-worker's settings: built once in ``main`` (never at import).

Every field reads from ``SNAPQUEUE_<FIELD>``; presets take JSON, for example
``SNAPQUEUE_THUMBNAIL_PRESET='{"width": 128, "height": 128}'``.
"""

from __future__ import annotations

import os
from typing import ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from snapqueue_core.settings import CoreSettings

OutputFormat = Literal["auto", "jpeg", "png", "webp", "avif"]


class Preset(BaseModel):
    """A target box in pixels: a square crop for the thumbnail, a bounding box for resized."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)


JOBS_PER_THREAD = 4


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, cpusets), not the host's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class WorkerSettings(CoreSettings):
    client_name: ClassVar[str] = "snapqueue-processing-worker"

    http_host: str = Field(default="127.0.0.1", description="Health/metrics HTTP bind address.")
    http_port: int = Field(
        default=8002, ge=0, le=65535, description="Health/metrics HTTP port (0: any free port)."
    )
    concurrency: int = Field(
        default=0,
        ge=0,
        le=64,
        validate_default=True,
        description="Images transformed at once (Pillow threads); 0: one per usable CPU.",
    )
    jobs_in_flight: int = Field(
        default=0,
        ge=0,
        le=128,
        validate_default=True,
        description="Messages worked on at once; receiving waits for a free one. Jobs beyond "
        "concurrency download and upload while others transform; 0: four per Pillow thread.",
    )
    max_pixels: int = Field(
        default=50_000_000,
        gt=0,
        description="Largest image accepted (width × height, read from the header).",
    )
    max_frames: int = Field(
        default=1000, ge=1, description="Most frames accepted in an animation or multi-page file."
    )
    thumbnail_preset: Preset = Field(
        default=Preset(width=256, height=256),
        description="Thumbnail: centred crop to this aspect, scaled down to this size (JSON).",
    )
    resized_preset: Preset = Field(
        default=Preset(width=1024, height=1024),
        description="Resized (and grayscale): fit within this box, never enlarged (JSON).",
    )
    output_format: OutputFormat = Field(
        default="auto",
        description="Variant format: auto (JPEG, PNG with alpha), jpeg, png, webp or avif.",
    )
    jpeg_quality: int = Field(default=85, ge=1, le=95, description="JPEG variant quality.")
    webp_quality: int = Field(default=80, ge=1, le=100, description="WebP variant quality.")
    avif_quality: int = Field(default=60, ge=1, le=100, description="AVIF variant quality.")
    png_compress_level: int = Field(
        default=6, ge=0, le=9, description="PNG variant zlib level (speed vs size)."
    )
    store_gps_coordinates: bool = Field(
        default=False,
        description="Record EXIF GPS coordinates (personal data); else only gpsPresent.",
    )
    shutdown_grace_seconds: float = Field(
        default=25.0,
        ge=0,
        description="On SIGTERM, how long in-flight jobs may finish (below ECS's 30 s).",
    )
    heartbeat_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often a running job extends its message visibility and record lease.",
    )
    receive_wait_seconds: int = Field(
        default=20, ge=0, le=20, description="SQS long-poll wait per receive."
    )
    retry_visibility_seconds: int = Field(
        default=10,
        ge=0,
        le=43200,
        description="After a transient failure, the message returns after this long.",
    )
    download_chunk_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Chunk size when streaming an upload."
    )
    download_spool_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=0,
        description="Uploads up to this size are held in memory while they are processed; "
        "larger ones go to a temporary file (0: always a file).",
    )
    liveness_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="/healthz fails when the receive loop has not ticked for this long.",
    )

    @field_validator("concurrency", mode="after")
    @classmethod
    def _default_concurrency(cls, value: int) -> int:
        return value or usable_cpus()

    @field_validator("jobs_in_flight", mode="after")
    @classmethod
    def _default_jobs_in_flight(cls, value: int, info: ValidationInfo) -> int:
        concurrency = info.data.get("concurrency")
        if concurrency is None:  # concurrency itself was invalid; that error is reported
            return value
        if not value:
            # Without spare jobs a Pillow thread idles while its job waits on S3,
            # DynamoDB and SQS. A job's I/O takes longer than its transform (a dozen
            # requests, each waiting on the other side), so one spare per thread left
            # the thread idle; three spares keep it fed (processing-worker/README.md).
            return JOBS_PER_THREAD * int(concurrency)
        if value < concurrency:
            raise ValueError("must be at least concurrency (or 0)")
        return value

    @property
    def lease_seconds(self) -> int:
        """A claimed record's lease: as long as its message stays hidden."""
        return self.queue_visibility_timeout_seconds

    @model_validator(mode="after")
    def _heartbeat_inside_visibility(self) -> Self:
        if self.heartbeat_interval_seconds * 2 > self.queue_visibility_timeout_seconds:
            raise ValueError(
                "heartbeat_interval_seconds must be at most half of "
                "queue_visibility_timeout_seconds, or messages reappear mid-job"
            )
        return self
