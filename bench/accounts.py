"""Signing the benchmarks' load in, and what checking its tokens costs.

Every request of the upload and end-to-end benchmarks carries a bearer token of a user of the
stack's own Cognito (the emulator's), as a signed-in browser's does. The verification's own
cost is timed here apart: :class:`snapqueue_core.tokens.TokenVerifier` on a real access token,
with the signing keys already fetched, as in a running service.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from devstack.stack import Stack
from devstack.users import SignedInUser, stack_user
from snapqueue_core.settings import AuthSettings
from snapqueue_core.tokens import TokenVerifier

from .results import Summary
from .stats import summary_ms


def bench_user(stack: Stack) -> SignedInUser:
    """A fresh, signed-in user of the stack's user pool."""
    return asyncio.run(stack_user(stack))


async def _verify(token: str, calls: int) -> list[float]:
    # bench_stack put the stack's environment in this process's: the services' own settings.
    settings = AuthSettings.from_env()
    async with httpx.AsyncClient(timeout=10) as http:
        verifier = TokenVerifier(settings, http)
        await verifier.verify(token)  # fetches the keys once, as a service does at startup
        durations = []
        for _ in range(calls):
            began = time.perf_counter()
            await verifier.verify(token)
            durations.append(time.perf_counter() - began)
    return durations


def verification_cost(user: SignedInUser, calls: int) -> Summary:
    """Milliseconds per :meth:`TokenVerifier.verify` of ``user``'s access token."""
    return summary_ms(asyncio.run(_verify(user.access_token, calls)))
