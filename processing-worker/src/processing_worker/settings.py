"""The processing-worker's settings: built once in ``main`` (never at import).

Every field reads from ``SNAPQUEUE_<FIELD>``; presets take JSON, for example
``SNAPQUEUE_THUMBNAIL_PRESET='{"width": 128, "height": 128}'``.
"""

from __future__ import annotations

import os
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from snapqueue_core.settings import CoreSettings

OutputFormat = Literal["auto", "jpeg", "png", "webp", "avif"]


class Preset(BaseModel):
    """A target box in pixels: a square crop for the thumbnail, a bounding box for resized."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)


def _default_concurrency() -> int:
    return os.cpu_count() or 1


class WorkerSettings(CoreSettings):
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8002, ge=0, le=65535)

    # Jobs in flight at once; each runs its Pillow work on one thread of the pool.
    concurrency: int = Field(default_factory=_default_concurrency, ge=1, le=64)

    # Decompression-bomb limits, checked from the header before anything is decoded.
    max_pixels: int = Field(default=50_000_000, gt=0)
    max_frames: int = Field(default=1000, ge=1)

    thumbnail_preset: Preset = Preset(width=256, height=256)
    resized_preset: Preset = Preset(width=1024, height=1024)

    output_format: OutputFormat = "auto"
    jpeg_quality: int = Field(default=85, ge=1, le=95)
    webp_quality: int = Field(default=80, ge=1, le=100)
    avif_quality: int = Field(default=60, ge=1, le=100)
    png_compress_level: int = Field(default=6, ge=0, le=9)

    # GPS coordinates are personal data: only "gpsPresent" is recorded unless allowed.
    store_gps_coordinates: bool = False

    # Must stay below ECS's 30 s stop timeout so in-flight jobs finish before SIGKILL.
    shutdown_grace_seconds: float = Field(default=25.0, ge=0)
    # How often a running job extends its message's visibility and its record's lease.
    heartbeat_interval_seconds: float = Field(default=15.0, gt=0)
    receive_wait_seconds: int = Field(default=20, ge=0, le=20)
    # After a transient failure the message comes back this soon rather than after the
    # full visibility timeout.
    retry_visibility_seconds: int = Field(default=10, ge=0, le=43200)
    download_chunk_bytes: int = Field(default=1024 * 1024, gt=0)
    # /healthz fails when the receive loop has not ticked for this long.
    liveness_timeout_seconds: float = Field(default=120.0, gt=0)

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
