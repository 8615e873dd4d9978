"""The one start-up wait: poll until what a service needs exists, or give up with a reason.

In ``make run`` and docker-compose every service starts together with the emulator and the
bootstrap, so a service's first calls may find AWS not listening yet, or its table, bucket
or queue not created yet. :func:`wait_until` treats both as "not yet" and keeps asking; any
other failure (access denied, a bad parameter, a bug) is raised at once, since waiting
cannot mend it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .transient import AWS_CALL_ERRORS, MISSING_RESOURCE_CODES, error_code, is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")


class StartupTimeout(TimeoutError):
    """What a service waited for did not appear in time; ``last_reason`` says why not."""

    def __init__(self, what: str, last_reason: str, timeout: float | None = None) -> None:
        within = f" within {timeout:g} s" if timeout is not None else ""
        super().__init__(f"{what} not ready{within}: {last_reason}")
        self.what = what
        self.last_reason = last_reason


def not_yet_reason(exc: BaseException) -> str | None:
    """Why ``exc`` only means "not yet" (a start-up wait retries); ``None`` if it is real."""
    code = error_code(exc)
    if code in MISSING_RESOURCE_CODES:
        return f"does not exist yet ({code})"
    if is_transient(exc):
        detail = code or type(exc).__name__
        return f"AWS not answering ({detail}: {exc})"
    return None


async def wait_until(
    check: Callable[[], Awaitable[T | None]],
    *,
    # Not the caller's asyncio.timeout: the deadline is checked between attempts, so a check
    # is never cut off halfway (a bootstrap half applied), and its expiry carries a reason.
    timeout: float,  # noqa: ASYNC109
    what: str,
    interval: float = 0.5,
) -> T:
    """Call ``check`` until it returns something other than ``None``, and return that.

    ``None``, a transient error or a "does not exist" error means not yet: logged at debug,
    tried again after ``interval``. Any other exception propagates. Once ``timeout`` seconds
    have passed, raises :class:`StartupTimeout` with the last reason. A check in flight is
    not interrupted: each AWS call is bounded by the client's own connect and read timeouts.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await check()
        except AWS_CALL_ERRORS as exc:
            reason = not_yet_reason(exc)
            if reason is None:
                raise
            last_reason = reason
            cause: BaseException | None = exc
        else:
            if result is not None:
                return result
            last_reason = "not ready yet"
            cause = None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StartupTimeout(what, last_reason, timeout) from cause
        log.debug("waiting", extra={"waitingFor": what, "reason": last_reason})
        await asyncio.sleep(min(interval, remaining))
