"""One factory for every AWS client, on aiobotocore.

Endpoints are never passed in code: botocore reads ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` itself, so each service can point at an emulator or at AWS
without a code change. The one exception is presigning, whose host is the browser's.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import aiobotocore
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session

from .settings import CoreSettings

# Defined with the other error classification; still importable from here, where callers
# have long found it.

# aiobotocore ships no type information; these aliases say which client is meant.
S3Client = Any
SQSClient = Any
DynamoDBClient = Any


def user_agent(settings: CoreSettings) -> str:
    """The User-Agent of every AWS request: which SnapQueue program sent it (CloudTrail and
    S3 access logs show it), then the SDK underneath.

    Setting it also makes it fixed: with botocore's own header, every request rebuilt and
    re-sanitised the whole string, character by character, to add feature codes for AWS's
    SDK statistics: a noticeable share of a small request's client-side CPU, paid on every
    one of the many requests a worker sends per image (the benchmark report has figures).
    """
    # aiobotocore's session appends "botocore/<version>" itself.
    return (
        f"{settings.client_name}/{version('snapqueue-core')} "
        f"aiobotocore/{aiobotocore.__version__} Python/{platform.python_version()}"
    )


def client_config(
    settings: CoreSettings, service: str = "", *, read_timeout: float | None = None
) -> AioConfig:
    config = AioConfig(
        connect_timeout=settings.aws_connect_timeout_seconds,
        read_timeout=read_timeout or settings.aws_read_timeout_seconds,
        # botocore's "max_attempts" counts retries only; the setting means all attempts.
        retries={"mode": "standard", "total_max_attempts": settings.aws_max_attempts},
        max_pool_connections=settings.aws_max_pool_connections,
        s3={"addressing_style": settings.s3_addressing_style},
        user_agent=user_agent(settings),
    )
    if service == "s3":
        # botocore still presigns with SigV2 in us-east-1, which S3 refuses for every
        # bucket created since mid-2020: browser uploads would fail on real AWS.
        config = config.merge(AioConfig(signature_version="s3v4"))
    return config


def create_client(
    session: AioSession,
    service: str,
    settings: CoreSettings,
    *,
    endpoint_url: str | None = None,
    read_timeout: float | None = None,
) -> Any:
    """An async context manager for one client; ``endpoint_url`` only for presigning."""
    return session.create_client(
        service,
        region_name=settings.aws_region,
        endpoint_url=endpoint_url,
        config=client_config(settings, service, read_timeout=read_timeout),
    )


@dataclass(frozen=True)
class AwsClients:
    s3: S3Client
    sqs: SQSClient
    dynamodb: DynamoDBClient
    # Signs URLs for browsers; the same client as ``s3`` unless a public endpoint is set.
    s3_presign: S3Client


async def open_clients(
    stack: AsyncExitStack, settings: CoreSettings, session: AioSession | None = None
) -> AwsClients:
    """Open the clients a service needs; they close when ``stack`` closes."""
    session = session or get_session()
    s3 = await stack.enter_async_context(create_client(session, "s3", settings))
    sqs = await stack.enter_async_context(create_client(session, "sqs", settings))
    dynamodb = await stack.enter_async_context(create_client(session, "dynamodb", settings))
    s3_presign = s3
    if settings.public_s3_endpoint:
        s3_presign = await stack.enter_async_context(
            create_client(session, "s3", settings, endpoint_url=settings.public_s3_endpoint)
        )
    return AwsClients(s3=s3, sqs=sqs, dynamodb=dynamodb, s3_presign=s3_presign)


# One call per HTTP attempt (retries included), as AWS counts and bills them.
RequestCallback = Callable[[str, str], None]


def count_requests(clients: AwsClients, record: RequestCallback) -> None:
    """Call ``record(service, operation)`` for every request any of ``clients`` sends.

    Requests, not API calls: a retried call counts each attempt. Presigning sends
    nothing and is not counted.
    """

    def before_send(event_name: str, **_kwargs: Any) -> None:
        # "before-send.<service>.<Operation>"; returning None lets the request go out.
        _event, service, operation = event_name.split(".", 2)
        record(service, operation)

    unique = {id(client): client for client in (clients.s3, clients.sqs, clients.dynamodb)}
    for client in unique.values():
        client.meta.events.register("before-send", before_send)
