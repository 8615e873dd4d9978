"""The notifier-service's settings, built once at startup by ``python -m notifier_service``."""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from snapqueue_core.settings import AuthSettings, split_csv

KiB = 1024

# SQS queue names allow 80 characters of [A-Za-z0-9_-]; the replica id ends the name.
REPLICA_ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"

# A live replica must be able to miss two heartbeats (a slow AWS call, a long GC pause)
# and still be judged alive by the others' sweepers.
MIN_HEARTBEATS_PER_STALE_PERIOD = 3


def new_replica_id() -> str:
    return uuid.uuid4().hex[:12]


class NotifierSettings(AuthSettings):
    """Where the notifier listens, what it accepts, how it checks the users' tokens
    (``SNAPQUEUE_AUTH_*``, see :class:`~snapqueue_core.settings.AuthSettings`), and how its
    replica queue behaves."""

    client_name: ClassVar[str] = "snapqueue-notifier-service"

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
    heap_freeze_interval_seconds: float = Field(
        5.0,
        ge=0,
        description="How often the heap is frozen when connections arrived, so that full "
        "garbage collections skip the open connections; 0: never.",
    )
    heap_full_collection_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often, while freezing, everything is unfrozen and collected once "
        "in full (what died in a cycle after it was frozen).",
    )
    compression: bool = Field(
        False,
        description="permessage-deflate; off because frames are small and every "
        "compressed connection keeps zlib state in memory.",
    )
    queue_heartbeat_seconds: float = Field(
        60.0,
        gt=0,
        description="How often a replica refreshes the `snapqueue:heartbeat` tag of its queue.",
    )
    queue_sweep_interval_seconds: float = Field(
        300.0,
        gt=0,
        description="How often (±20% jitter) a replica deletes the queues of dead replicas; "
        "the first sweep comes one interval after start.",
    )
    queue_stale_after_seconds: float = Field(
        900.0,
        gt=0,
        description="A replica queue whose heartbeat is older than this is deleted by the "
        "sweep; at least 3 × `queue_heartbeat_seconds`.",
    )
    queue_untagged_stale_after_seconds: float = Field(
        86_400.0,
        gt=0,
        description="A replica queue without a heartbeat tag (made by a version before the "
        "sweeper) is deleted this long after its creation; at least "
        "`queue_stale_after_seconds`.",
    )

    @field_validator("replica_id", mode="before")
    @classmethod
    def _default_replica_id(cls, value: object) -> object:
        return value or new_replica_id()

    @field_validator("notify_queue_prefix")
    @classmethod
    def _prefix_spares_the_upload_queues(cls, value: str, info: ValidationInfo) -> str:
        # The sweeper lists every queue under this prefix and deletes the untagged old ones:
        # the upload queue and its DLQ must never be among them.
        if not value:
            raise ValueError("must not be empty: the sweeper would see every queue")
        for field in ("upload_queue", "upload_dlq"):
            name = info.data.get(field)
            if name is not None and name.startswith(value):
                raise ValueError(f"must not be a prefix of {field} ({name!r})")
        return value

    @field_validator("queue_stale_after_seconds")
    @classmethod
    def _stale_after_spans_heartbeats(cls, value: float, info: ValidationInfo) -> float:
        heartbeat = info.data.get("queue_heartbeat_seconds")
        if heartbeat is not None and value < MIN_HEARTBEATS_PER_STALE_PERIOD * heartbeat:
            raise ValueError(
                f"must be at least {MIN_HEARTBEATS_PER_STALE_PERIOD} × "
                f"queue_heartbeat_seconds ({heartbeat:g} s)"
            )
        return value

    @field_validator("queue_untagged_stale_after_seconds")
    @classmethod
    def _untagged_waits_longer(cls, value: float, info: ValidationInfo) -> float:
        stale_after = info.data.get("queue_stale_after_seconds")
        if stale_after is not None and value < stale_after:
            raise ValueError(f"must be at least queue_stale_after_seconds ({stale_after:g} s)")
        return value

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
