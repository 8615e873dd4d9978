"""One classification of AWS and network failures: which are worth another try."""

from __future__ import annotations

import aiohttp
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from snapqueue_core.transient import (
    AWS_CALL_ERRORS,
    AWS_ERRORS,
    GONE_QUEUE_CODES,
    MISSING_OBJECT_CODES,
    MISSING_RESOURCE_CODES,
    STALE_RECEIPT_CODES,
    STALE_TOKEN_CODES,
    THROTTLING_CODES,
    TRANSIENT_ERRORS,
    error_code,
    http_status,
    is_transient,
)


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Operation",
    )


NETWORK_ERRORS = [
    EndpointConnectionError(endpoint_url="http://x"),
    ConnectTimeoutError(endpoint_url="http://x"),
    ReadTimeoutError(endpoint_url="http://x"),
    ConnectionClosedError(endpoint_url="http://x"),
    ResponseStreamingError(error="reset"),
    aiohttp.ClientPayloadError("truncated"),
    ConnectionResetError(),
    TimeoutError(),
]


@pytest.mark.parametrize("exc", NETWORK_ERRORS, ids=lambda exc: type(exc).__name__)
def test_network_errors_are_transient(exc: BaseException) -> None:
    assert isinstance(exc, TRANSIENT_ERRORS)
    assert isinstance(exc, AWS_CALL_ERRORS)
    assert is_transient(exc)


@pytest.mark.parametrize("code", sorted(THROTTLING_CODES))
def test_throttling_is_transient_whatever_the_status(code: str) -> None:
    assert is_transient(client_error(code, status=400))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_aws_failures_are_transient(status: int) -> None:
    assert is_transient(client_error("InternalError", status=status))


@pytest.mark.parametrize(
    "exc",
    [
        client_error("ResourceNotFoundException"),
        client_error("AccessDenied", status=403),
        client_error("ValidationException"),
        NoCredentialsError(),
        ParamValidationError(report="bad"),
        ValueError("a bug"),
    ],
    ids=lambda exc: error_code(exc) or type(exc).__name__,
)
def test_refusals_and_bugs_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_aws_errors_are_what_botocore_raises() -> None:
    assert isinstance(client_error("X"), AWS_ERRORS)
    assert isinstance(NoCredentialsError(), AWS_ERRORS)
    assert not isinstance(ValueError(), AWS_CALL_ERRORS)


def test_error_code_and_status() -> None:
    exc = client_error("NoSuchKey", status=404)
    assert error_code(exc) == "NoSuchKey"
    assert http_status(exc) == 404
    assert error_code(ValueError()) is None
    assert http_status(ValueError()) is None


def test_code_sets_hold_what_the_services_branch_on() -> None:
    assert {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"} == GONE_QUEUE_CODES
    assert {"NoSuchKey", "404"} == MISSING_OBJECT_CODES
    assert "ReceiptHandleIsInvalid" in STALE_RECEIPT_CODES
    assert "InvalidToken" in STALE_TOKEN_CODES
    assert {"ResourceNotFoundException", "NoSuchBucket", "404"} <= MISSING_RESOURCE_CODES
    assert GONE_QUEUE_CODES <= MISSING_RESOURCE_CODES
