"""The one readiness probe: concurrent checks, one budget, the public answer's shape."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from snapqueue_core.readiness import READY, NotReady, Readiness, probe


async def ok() -> None:
    return None


def failing(exc: BaseException) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        raise exc

    return check


def refused(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "DescribeTable")


async def test_ready_when_every_check_returns() -> None:
    result = await probe({"table": ok, "bucket": ok})
    assert result == READY
    assert result.status_code == 200
    assert result.body == {"status": "ready"}
    assert await probe({}) == READY


async def test_the_first_failure_names_its_check() -> None:
    result = await probe(
        {
            "images table": ok,
            "uploads bucket": failing(refused("NoSuchBucket")),
            "queue": failing(EndpointConnectionError(endpoint_url="http://x")),
        }
    )
    assert result == Readiness(ready=False, reason="uploads bucket: AWS refused: NoSuchBucket")
    assert result.status_code == 503
    assert result.body == {
        "status": "not-ready",
        "reason": "uploads bucket: AWS refused: NoSuchBucket",
    }


async def test_unreachable_and_own_reasons() -> None:
    unreachable = await probe({"queue": failing(EndpointConnectionError(endpoint_url="http://x"))})
    assert unreachable.reason == "queue: AWS unreachable: EndpointConnectionError"
    own = await probe({"queue": failing(NotReady("the replica queue is gone"))})
    assert own.reason == "the replica queue is gone"


async def test_checks_run_concurrently_under_one_budget() -> None:
    async def slow() -> None:
        await asyncio.sleep(0.15)

    started = time.monotonic()
    assert await probe({"a": slow, "b": slow, "c": slow}, timeout=1) == READY
    assert time.monotonic() - started < 0.4

    async def stuck() -> None:
        await asyncio.sleep(30)

    started = time.monotonic()
    result = await probe({"a": ok, "b": stuck}, timeout=0.1)
    assert time.monotonic() - started < 1
    assert result.body == {"status": "not-ready", "reason": "AWS did not answer in time"}


async def test_a_bug_in_a_check_is_not_a_verdict() -> None:
    with pytest.raises(KeyError):
        await probe({"a": failing(refused("X")), "b": failing(KeyError("x"))})
