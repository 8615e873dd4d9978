"""The notifier-service's settings, built once at startup by ``python -m notifier_service``."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from snapqueue_core.settings import CoreSettings, split_csv

KiB = 1024

# SQS queue names allow 80 characters of [A-Za-z0-9_-]; the replica id ends the name.
REPLICA_ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"


def new_replica_id() -> str:
    return uuid.uuid4().hex[:12]


class NotifierSettings(CoreSettings):
    """Where the notifier listens, what it accepts, and how its replica queue behaves."""

    http_host: str = Field("127.0.0.1", description="Address the WebSocket/HTTP server binds.")
    http_port: int = Field(
        8001, ge=0, le=65535, description="Port of `/ws`, `/healthz`, `/readyz`, `/metrics`."
    )
    # None means "generate one": every process is its own replica with its own queue, so two
    # processes must never share an id by accident. Validated below, so it is never None.
    replica_id: str = Field(
        None,
        validate_default=True,
        pattern=REPLICA_ID_PATTERN,
        description="This replica's id (its queue is `{notify_queue_prefix}{replica_id}`); "
        "unset: a random 12-character id per process.",
    )
    allowed_origins: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="Origins allowed to open `/ws`, comma-separated; unset: `cors_origins`.",
    )
    allow_missing_origin: bool = Field(
        True,
        description="Accept handshakes without an Origin header (non-browser clients).",
    )
    max_message_bytes: int = Field(
        4 * KiB,
        ge=256,
        le=1024 * KiB,
        description="Largest client frame; a bigger one closes the socket with 1009.",
    )
    max_registrations_per_connection: int = Field(
        100, ge=1, description="Images one connection may be registered for at once."
    )
    max_connections: int = Field(
        10_000, ge=1, description="Open WebSockets per replica; beyond it handshakes get 503."
    )
    ping_interval: float = Field(20.0, gt=0, description="Seconds between keepalive pings.")
    ping_timeout: float = Field(
        20.0, gt=0, description="Seconds to wait for a pong before closing with 1011."
    )
    idle_timeout_seconds: float = Field(
        300.0,
        gt=0,
        description="Close a connection with no registrations and no frames for this long.",
    )
    send_timeout_seconds: float = Field(
        5.0, gt=0, description="A client that cannot take a frame this fast is disconnected."
    )
    close_timeout_seconds: float = Field(
        5.0, gt=0, description="Seconds to wait for a client's closing handshake."
    )
    connection_ttl_seconds: int = Field(
        2 * 3600,
        ge=60,
        description="TTL of `WebSocketConnections` rows (refreshed on re-register).",
    )
    notify_queue_retention_seconds: int = Field(
        300, ge=60, le=1_209_600, description="Retention of the replica queue."
    )
    notify_queue_visibility_seconds: int = Field(
        30, ge=0, le=43200, description="Visibility timeout of the replica queue."
    )
    notify_wait_seconds: int = Field(
        20, ge=0, le=20, description="Long-poll wait of the replica queue consumer."
    )
    readiness_timeout_seconds: float = Field(
        2.0, gt=0, description="Budget of the AWS checks behind `/readyz`."
    )
    shutdown_drain_seconds: float = Field(
        0.0,
        ge=0,
        description="After SIGTERM, keep serving this long with `/readyz` at 503 "
        "so a load balancer stops routing here first.",
    )
    shutdown_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest wait for sockets to close on shutdown."
    )
    compression: bool = Field(
        False,
        description="permessage-deflate; off because frames are small and every "
        "compressed connection keeps zlib state in memory.",
    )

    @field_validator("replica_id", mode="before")
    @classmethod
    def _default_replica_id(cls, value: object) -> object:
        return value or new_replica_id()

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        return split_csv(value)

    @property
    def origins(self) -> list[str]:
        """The browser origins allowed to connect."""
        return list(self.allowed_origins if self.allowed_origins is not None else self.cors_origins)

    @property
    def notify_queue_name(self) -> str:
        return f"{self.notify_queue_prefix}{self.replica_id}"
