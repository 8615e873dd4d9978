"""The one start-up wait: "not yet" is retried, anything else is raised, time runs out."""

from __future__ import annotations

import logging
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from snapqueue_core.waiting import StartupTimeout, wait_until


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "DescribeTable",
    )


class Script:
    """A check that plays back outcomes: raise exceptions, return values, then the last."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def test_returns_the_first_value_that_is_not_none() -> None:
    check = Script(
        EndpointConnectionError(endpoint_url="http://x"),
        client_error("ResourceNotFoundException"),
        None,
        client_error("ServiceUnavailable", status=503),
        {"queueUrl": "q"},
    )
    assert await wait_until(check, timeout=5, what="the queue", interval=0.01) == {"queueUrl": "q"}
    assert check.calls == 5


async def test_falsy_values_are_ready_too() -> None:
    assert await wait_until(Script(0), timeout=1, what="x", interval=0.01) == 0


@pytest.mark.parametrize(
    "exc", [client_error("AccessDeniedException", status=403), NoCredentialsError(), KeyError("x")]
)
async def test_real_failures_are_raised_at_once(exc: BaseException) -> None:
    check = Script(None, exc)
    with pytest.raises(type(exc)):
        await wait_until(check, timeout=5, what="x", interval=0.01)
    assert check.calls == 2


async def test_gives_up_with_the_last_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="snapqueue_core.waiting")
    started = time.monotonic()
    with pytest.raises(StartupTimeout) as raised:
        await wait_until(
            Script(client_error("ResourceNotFoundException")),
            timeout=0.2,
            what="table Images",
            interval=0.05,
        )
    assert 0.2 <= time.monotonic() - started < 2
    error = raised.value
    assert isinstance(error, TimeoutError)
    assert error.what == "table Images"
    assert "ResourceNotFoundException" in error.last_reason
    assert str(error).startswith("table Images not ready within 0.2 s: ")
    assert isinstance(error.__cause__, ClientError)
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("ResourceNotFound" in r.reason for r in debug)


async def test_none_until_the_end_says_so() -> None:
    with pytest.raises(StartupTimeout, match="not ready yet"):
        await wait_until(Script(None), timeout=0.05, what="x", interval=0.01)
