"""Settings shared by every SnapQueue service.

Each service subclasses :class:`CoreSettings` and builds its settings object once, at
startup (never at import). Environment variables carry the ``SNAPQUEUE_`` prefix, except
the AWS ones, which keep botocore's own names so the standard tooling applies unchanged.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

MiB = 1024 * 1024


def split_csv(value: object) -> object:
    """Accept ``a,b,c`` from the environment as well as a JSON list."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        return json.loads(value)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class CoreSettings(BaseSettings):
    """Values every service needs: where the resources are and how to reach AWS."""

    model_config = SettingsConfigDict(
        env_prefix="SNAPQUEUE_",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    # Which program is talking: AWS clients name it in their User-Agent header.
    client_name: ClassVar[str] = "snapqueue"

    # Required: botocore cannot pick an endpoint without a region, and guessing one would
    # silently talk to the wrong place.
    aws_region: str = Field(
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="AWS region of every resource.",
    )

    uploads_bucket: str = Field("snapqueue-uploads", description="Bucket browsers upload into.")
    processed_bucket: str = Field("snapqueue-processed", description="Bucket of the variants.")
    upload_queue: str = Field(
        "snapqueue-upload-events", description="Queue of the uploads bucket's S3 events."
    )
    upload_dlq: str = Field(
        "snapqueue-upload-events-dlq", description="Dead-letter queue of the upload queue."
    )
    images_table: str = Field("ImageMetadata", description="DynamoDB table of image records.")
    connections_table: str = Field(
        "WebSocketConnections", description="DynamoDB table routing events to notifier replicas."
    )
    gallery_index: str = Field(
        "gallery-index", description="Sparse GSI of COMPLETED images, newest first."
    )
    owner_index: str = Field(
        "owner-index", description="GSI of each user's images (ownerId), newest upload first."
    )
    usage_table: str = Field(
        "UsageCounters",
        description="DynamoDB table of per-user counters: uploads per minute, bytes stored.",
    )
    user_pool_name: str | None = Field(
        None,
        description="Emulators only: the Cognito user pool the bootstrap creates, with its SPA "
        "client and the admins group (on AWS, Terraform creates them).",
    )
    user_pool_client_name: str = Field(
        "snapqueue-spa", description="Emulators only: the user pool's SPA client (no secret)."
    )
    notify_queue_prefix: str = Field(
        "snapqueue-notify-", description="Name prefix of each notifier replica's own queue."
    )

    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")

    max_upload_bytes: int = Field(
        default=25 * MiB, gt=0, description="Largest accepted upload, in bytes (25 MiB)."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8080", "http://localhost:8080"],
        description="Origins of the SPA, comma-separated: CORS of the API and the buckets.",
    )

    # The worker's visibility timeout must exceed the longest job; the worker also extends
    # it while a job runs, so this only bounds how long a crashed worker's message hides.
    queue_visibility_timeout_seconds: int = Field(
        default=60, ge=5, le=43200, description="Visibility timeout of the upload queue."
    )
    queue_max_receive_count: int = Field(
        default=5, ge=1, le=1000, description="Deliveries before a message goes to the DLQ."
    )
    queue_retention_seconds: int = Field(
        default=4 * 24 * 3600, ge=60, description="Retention of the upload queue."
    )

    aws_connect_timeout_seconds: float = Field(
        default=3.0, gt=0, description="AWS connect timeout."
    )
    aws_read_timeout_seconds: float = Field(
        default=25.0, gt=0, description="AWS read timeout (above SQS's 20 s long poll)."
    )
    aws_max_attempts: int = Field(
        default=4,
        ge=1,
        le=10,
        description="Attempts per AWS call, the first included (botocore standard retries).",
    )
    aws_max_pool_connections: int = Field(
        default=50, ge=1, description="HTTP connections per AWS client."
    )
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        "auto", description="S3 addressing: `path` for emulators on a bare host:port."
    )

    # Presigning: the URL a browser reaches is not always the one the services use (inside
    # docker-compose the services say localstack:4566, the browser localhost:4566).
    public_s3_endpoint: str | None = Field(
        None, description="S3 endpoint a browser reaches, used only to presign URLs."
    )
    cdn_base_url: str | None = Field(
        None, description="When set, variant URLs are `{cdn}/{key}` instead of presigned GETs."
    )
    variant_url_expires_seconds: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, description="Lifetime of presigned variant URLs."
    )

    startup_timeout_seconds: float = Field(
        default=60.0, ge=0, description="How long a service waits at startup for its resources."
    )

    # A distinctive name: a subclass validator of the same name would silently replace it.
    @field_validator("cors_origins", mode="before")
    @classmethod
    def _core_parse_cors_origins(cls, value: object) -> object:
        return split_csv(value)

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Build the settings once, at startup; raise :class:`SettingsError` if incomplete."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise SettingsError.from_validation(cls.__name__, exc) from exc


# Signature algorithms a token may use: asymmetric only. With a symmetric one (HS256) the
# published JWKS would itself be the secret, and anyone could mint tokens with it.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class AuthSettings(CoreSettings):
    """What a service needs to check the user pool's tokens (upload-service, notifier)."""

    auth_issuer: str = Field(
        description="The `iss` every token must carry: https://cognito-idp.{region}."
        "amazonaws.com/{userPoolId}.",
    )
    auth_jwks_url: str | None = Field(
        None,
        description="Where the signing keys are; unset: the issuer's /.well-known/jwks.json.",
    )
    auth_client_ids: Annotated[list[str], NoDecode] = Field(
        min_length=1,
        description="App clients whose tokens are accepted (access `client_id`, id `aud`), "
        "comma-separated.",
    )
    auth_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256"],
        min_length=1,
        description="Accepted signature algorithms, comma-separated; asymmetric ones only.",
    )
    auth_admin_group: str = Field(
        "admins", min_length=1, description="Members of this group are administrators."
    )
    auth_jwks_min_refetch_seconds: float = Field(
        default=30.0,
        ge=0,
        description="A token with an unknown key id refetches the keys at most this often.",
    )
    auth_jwks_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Timeout of one fetch of the signing keys."
    )
    auth_leeway_seconds: float = Field(
        default=30.0, ge=0, le=300, description="Clock skew tolerated on exp, nbf and iat."
    )

    @field_validator("auth_client_ids", "auth_algorithms", mode="before")
    @classmethod
    def _auth_parse_lists(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("auth_issuer", "auth_jwks_url")
    @classmethod
    def _auth_check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("auth_algorithms")
    @classmethod
    def _auth_check_algorithms(cls, value: list[str]) -> list[str]:
        refused = [alg for alg in value if alg not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise ValueError(
                f"not asymmetric signature algorithms: {', '.join(refused)} "
                f"(use {', '.join(sorted(ASYMMETRIC_ALGORITHMS))})"
            )
        return value

    @property
    def jwks_url(self) -> str:
        """The signing keys' URL: ``auth_jwks_url``, or the issuer's well-known one."""
        return self.auth_jwks_url or f"{self.auth_issuer}/.well-known/jwks.json"


class SettingsError(RuntimeError):
    """The environment does not describe a runnable service; the message says what is missing."""

    @classmethod
    def from_validation(cls, name: str, exc: ValidationError) -> SettingsError:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "?"
            problems.append(f"{field}: {error['msg']}")
        return cls(f"invalid {name}: " + "; ".join(problems))
