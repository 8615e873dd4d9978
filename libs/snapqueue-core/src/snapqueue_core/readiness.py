"""The one readiness probe behind every service's ``/readyz``.

A service names the checks its readiness depends on (an AWS call each); :func:`probe` runs
them concurrently under one time budget and turns the outcome into the public answer:
``200 {"status": "ready"}`` or ``503 {"status": "not-ready", "reason": "…"}`` (docs/api.md,
docs/websocket.md). A check is ready when it returns; it says why not by raising, either an
AWS error (described here) or :class:`NotReady` with a reason of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from botocore.exceptions import ClientError

from .transient import AWS_CALL_ERRORS, error_code

TIMED_OUT_REASON = "AWS did not answer in time"


class NotReady(Exception):
    """Raised by a check for a reason of its own; the reason is reported as it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str | None = None

    @classmethod
    def not_ready(cls, reason: str) -> Readiness:
        return cls(ready=False, reason=reason)

    @property
    def status_code(self) -> int:
        return 200 if self.ready else 503

    @property
    def body(self) -> dict[str, str]:
        if self.ready:
            return {"status": "ready"}
        return {"status": "not-ready", "reason": self.reason or "not ready"}


READY = Readiness(ready=True)

_EXPECTED: tuple[type[BaseException], ...] = (NotReady, *AWS_CALL_ERRORS)


def describe(name: str, exc: BaseException) -> str:
    """The reason a failed check gives, naming the check unless it gave its own."""
    if isinstance(exc, NotReady):
        return exc.reason
    if isinstance(exc, TimeoutError):
        return f"{name}: {TIMED_OUT_REASON}"
    if isinstance(exc, ClientError):
        return f"{name}: AWS refused: {error_code(exc)}"
    return f"{name}: AWS unreachable: {type(exc).__name__}"


# ``timeout`` is a parameter, not the caller's asyncio.timeout: running out of time is a
# verdict (not ready), not an exception.
async def probe(
    checks: Mapping[str, Callable[[], Awaitable[object]]],
    *,
    timeout: float = 2.0,  # noqa: ASYNC109
) -> Readiness:
    """Run every check at once; ready when all of them return within ``timeout`` seconds.

    Not ready names the first failed check in ``checks``' order. Exceptions other than AWS
    errors and :class:`NotReady` are bugs and propagate.
    """
    try:
        async with asyncio.timeout(timeout):
            results = await asyncio.gather(
                *(check() for check in checks.values()), return_exceptions=True
            )
    except TimeoutError:
        return Readiness.not_ready(TIMED_OUT_REASON)
    failures = [
        (name, result)
        for name, result in zip(checks, results, strict=True)
        if isinstance(result, BaseException)
    ]
    for _name, failure in failures:
        if not isinstance(failure, _EXPECTED):
            raise failure
    if failures:
        return Readiness.not_ready(describe(*failures[0]))
    return READY
