"""schemathesis against the live service's OpenAPI schema: no 5xx, responses as documented.

The fuzzing client is synchronous, so the service runs in a thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import ParameterLocation

from snapqueue_core.aws import open_clients
from snapqueue_core.resources import bootstrap, declare
from snapqueue_core.user_pool import UserPoolIds
from tests.upload_service.upload_helpers import InLoopServer, sign_in_new_user, start_server
from upload_service.__main__ import bound_port
from upload_service.settings import UploadServiceSettings

EXAMPLES_PER_MODE = 12

# Statuses that count as rejecting schema-violating input: schemathesis's defaults, plus
# 413, since a `size` above the schema's maximum is refused with 413 file_too_large
# (docs/api.md). Which cases reach that depends on the whole session's Hypothesis state.
# (5xx is listed as schemathesis lists it; not_a_server_error still fails any 5xx.)
REJECTION_STATUSES = [
    *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"),
    "5xx",
]
FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}}}
)


class ThreadedService:
    """Bootstraps resources and runs uvicorn in a thread until stopped."""

    def __init__(
        self, settings: UploadServiceSettings, emulator_url: str, user_pool: UserPoolIds
    ) -> None:
        self.settings = settings
        self.port = 0
        self.access_token = ""
        self._emulator_url = emulator_url
        self._user_pool = user_pool
        self._ready = threading.Event()
        self._server: InLoopServer | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced to the test thread in start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        async with AsyncExitStack() as stack:
            clients = await open_clients(stack, self.settings)
            await bootstrap(clients, declare(self.settings), self.settings.aws_region)
        user = await sign_in_new_user(self._emulator_url, self._user_pool)
        self.access_token = user.access_token
        self._server, task = await start_server(self.settings)
        self.port = bound_port(self._server) or 0
        self._ready.set()
        await task

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            raise RuntimeError(f"service did not start: {self._error!r}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)


@pytest.fixture
def live_service(
    settings_factory: Callable[..., Any], emulator_url: str, user_pool: UserPoolIds
) -> Iterator[ThreadedService]:
    # The fuzzer uploads far more often than a person: no rate limit in the way.
    settings = settings_factory(
        UploadServiceSettings, http_port=0, user_uploads_per_minute=1_000_000
    )
    running = ThreadedService(settings, emulator_url, user_pool)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_openapi_schema_holds_under_fuzzing(live_service: ThreadedService) -> None:
    base_url = f"http://127.0.0.1:{live_service.port}"
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=FUZZ_CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /upload-request",
        "POST /uploads",
        "GET /image/{imageId}",
        "GET /status/{imageId}",
        "GET /get-all-images",
        "GET /healthz",
        "GET /readyz",
        "POST /auth/sign-up",
        "POST /auth/confirm",
        "POST /auth/sign-in",
        "POST /auth/refresh",
        "GET /me",
        "GET /me/images",
        "GET /admin/images",
        "PATCH /image/{imageId}",
        "DELETE /image/{imageId}",
    }
    strategy = st.one_of(
        [
            op.as_strategy(generation_mode=mode)
            for op in operations
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
        ]
    )

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_MODE * 2 * len(operations),
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        # Schema-valid is not always acceptable: a filename of only control characters
        # matches "string" yet is refused (422 invalid_filename), by design.
        # Signed in, so the protected routes are fuzzed past the token check; the
        # ignored-auth check still sends each secured operation once without it.
        # A case whose headers are the schema-violating part (the bearer token left out)
        # is sent as generated: adding the token would make it valid and the check moot.
        headers_negative = case.meta is not None and case.meta.is_negative_at(
            ParameterLocation.HEADER
        )
        case.call_and_validate(
            base_url=base_url,
            timeout=15,
            headers=None
            if headers_negative
            else {"Authorization": f"Bearer {live_service.access_token}"},
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
        )

    check()
