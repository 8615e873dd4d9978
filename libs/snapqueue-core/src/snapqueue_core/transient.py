"""Which AWS and network failures are worth another try, in one place.

Every service catches the same failures around its AWS calls and branches on the same error
codes; they are named here once, so a retry loop, a readiness probe and a start-up wait all
agree on what "AWS hiccuped" means:

- :data:`AWS_ERRORS`: anything botocore raises for a call (a refusal or a client failure).
- :data:`TRANSIENT_ERRORS`: the network, or AWS not answering: connection, timeout and
  endpoint errors, plus what can escape aiobotocore unwrapped (``OSError``, ``TimeoutError``,
  aiohttp's client errors).
- :data:`AWS_CALL_ERRORS`: both together, what a loop that must outlive AWS trouble catches.
- The error-code sets, and :func:`is_transient`, which also counts throttling and 5xx
  answers as transient.
"""

from __future__ import annotations

from aiohttp import ClientError as AiohttpClientError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
)

AWS_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)

# botocore's ConnectionError covers the endpoint, connect-timeout, proxy and TLS failures;
# HTTPClientError the read timeouts, closed connections and broken response streams.
# aiohttp is aiobotocore's transport: most of its errors arrive wrapped in those two, but a
# body being read can still fail with aiohttp's own. TimeoutError is also what
# asyncio.timeout raises around a call.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    ConnectionError,
    HTTPClientError,
    AiohttpClientError,
    OSError,
    TimeoutError,
)

AWS_CALL_ERRORS: tuple[type[Exception], ...] = AWS_ERRORS + TRANSIENT_ERRORS

# The codes AWS services answer when a caller is being rate-limited: the same list botocore's
# standard retry mode treats as throttling.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

# An SQS queue that does not exist (any more): a replica that died, a sweep, a deploy.
GONE_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})

# An S3 object that is not there; HEAD requests have no body, hence the bare status.
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404"})

# A receipt handle SQS no longer honours: the message was deleted, or became visible again
# and was received by someone else, or its queue is gone.
STALE_RECEIPT_CODES = frozenset(
    {"ReceiptHandleIsInvalid", "InvalidParameterValue", "AWS.SimpleQueueService.NonExistentQueue"}
)

# A ListQueues page token that no longer leads anywhere: the queue it pointed at was deleted.
STALE_TOKEN_CODES = frozenset({"InvalidToken", "InvalidParameterValue"})

# A table, bucket or queue that does not exist: at start-up, one the bootstrap has not
# created yet. HeadBucket answers a bare "404".
MISSING_RESOURCE_CODES = frozenset({"ResourceNotFoundException", "NoSuchBucket", "404"}) | (
    GONE_QUEUE_CODES
)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError``, or ``None`` for anything else."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of the answer behind a ``ClientError``; ``None`` if there was none."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether trying the same call again later may succeed.

    True for the network and timeouts (:data:`TRANSIENT_ERRORS`), throttling, and AWS's own
    failures (a 5xx answer); false for a refusal of the request itself (a 4xx: missing
    resource, bad parameter, access denied) and for anything that is not an AWS error.
    """
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    if not isinstance(exc, ClientError):
        return False
    if error_code(exc) in THROTTLING_CODES:
        return True
    status = http_status(exc)
    return status is not None and status >= 500
