"""The client factory: explicit timeouts and retries, SigV4 for every S3 signature."""

from contextlib import AsyncExitStack
from importlib.metadata import version
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from snapqueue_core.aws import client_config, count_requests, open_clients
from snapqueue_core.settings import CoreSettings


def test_config_is_explicit() -> None:
    settings = CoreSettings.from_env(aws_connect_timeout_seconds=1.5, aws_max_attempts=7)
    config = client_config(settings, "sqs")
    assert config.connect_timeout == 1.5
    assert config.read_timeout == settings.aws_read_timeout_seconds
    assert config.retries == {"mode": "standard", "total_max_attempts": 7}
    assert config.signature_version is None  # SQS and DynamoDB sign with their own v4
    assert client_config(settings, "s3").signature_version == "s3v4"


async def test_presigned_urls_use_sigv4_in_us_east_1(resources_factory: Any) -> None:
    settings, clients = await resources_factory(public_s3_endpoint="http://browser.example:4566")
    assert settings.aws_region == "us-east-1"
    post = await clients.s3_presign.generate_presigned_post(
        settings.uploads_bucket, "uploads/x", ExpiresIn=60
    )
    assert post["url"].startswith("http://browser.example:4566/")
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert "AWSAccessKeyId" not in post["fields"]
    url = await clients.s3_presign.generate_presigned_url(
        "get_object", Params={"Bucket": settings.processed_bucket, "Key": "k"}, ExpiresIn=60
    )
    assert parse_qs(urlsplit(url).query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


async def test_each_service_can_point_at_its_own_endpoint(
    monkeypatch: pytest.MonkeyPatch, emulator_url: str
) -> None:
    """botocore's own AWS_ENDPOINT_URL_<SERVICE> variables, no code involved."""
    from devstack.stack import free_port

    nowhere = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", nowhere)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", emulator_url)
    settings = CoreSettings.from_env(aws_max_attempts=1, aws_connect_timeout_seconds=1)
    async with AsyncExitStack() as stack:
        clients = await open_clients(stack, settings)
        await clients.s3.list_buckets()  # reaches the emulator
        with pytest.raises(EndpointConnectionError):
            await clients.sqs.list_queues()  # the general variable: nothing listens there


async def test_count_requests_sees_every_request_by_service_and_operation(
    resources_factory: Any,
) -> None:
    settings, clients = await resources_factory()
    seen: list[tuple[str, str]] = []
    count_requests(clients, lambda service, operation: seen.append((service, operation)))
    await clients.s3.put_object(Bucket=settings.uploads_bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError):  # an error response was still a request
        await clients.s3.get_object(Bucket=settings.uploads_bucket, Key="missing")
    await clients.dynamodb.get_item(TableName=settings.images_table, Key={"imageId": {"S": "nope"}})
    await clients.sqs.list_queues()
    # Presigning signs locally: nothing is sent, nothing counted.
    await clients.s3_presign.generate_presigned_post(settings.uploads_bucket, "k", ExpiresIn=60)
    assert seen == [
        ("s3", "PutObject"),
        ("s3", "GetObject"),
        ("dynamodb", "GetItem"),
        ("sqs", "ListQueues"),
    ]


async def test_count_requests_counts_each_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """What AWS counts (and bills) is requests: three attempts are three."""
    from devstack.stack import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    settings = CoreSettings.from_env(aws_max_attempts=3, aws_connect_timeout_seconds=1)
    seen: list[tuple[str, str]] = []
    async with AsyncExitStack() as stack:
        clients = await open_clients(stack, settings)
        count_requests(clients, lambda service, operation: seen.append((service, operation)))
        with pytest.raises(EndpointConnectionError):
            await clients.sqs.list_queues()
    assert seen == [("sqs", "ListQueues")] * 3


class ProbeSettings(CoreSettings):
    client_name: ClassVar[str] = "snapqueue-probe"


async def test_every_request_names_the_program_in_a_fixed_user_agent(
    resources_factory: Any,
) -> None:
    """CloudTrail and S3 access logs tell the services apart; the header is built once."""
    settings, clients = await resources_factory(ProbeSettings)
    sent: list[str] = []

    def before_send(request: Any, **_kwargs: Any) -> None:
        sent.append(request.headers["User-Agent"].decode())

    for client in (clients.s3, clients.sqs, clients.dynamodb):
        client.meta.events.register("before-send", before_send)
    for _ in range(2):
        await clients.s3.put_object(Bucket=settings.uploads_bucket, Key="k", Body=b"x")
        await clients.sqs.list_queues()
        await clients.dynamodb.get_item(
            TableName=settings.images_table, Key={"imageId": {"S": "nope"}}
        )
    assert len(sent) == 6
    assert len(set(sent)) == 1  # no per-request feature codes appended
    product, *rest = sent[0].split()
    assert product == f"snapqueue-probe/{version('snapqueue-core')}"
    assert [part.split("/")[0] for part in rest] == ["aiobotocore", "Python", "botocore"]
