"""schemathesis against the running upload-service's own OpenAPI schema, over real HTTP.

Valid and invalid requests generated from ``/openapi.json`` for every operation: no 5xx,
and every response matches the schema (status code documented, content type, body shape).
The upload-service's own tests run schemathesis in-process; this run hits the real process
with the real emulator behind it.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.meta import ParameterLocation

from devstack.stack import Stack
from tests.reliability.harness import auth_headers

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz_operation(operation: Any, mode: GenerationMode, base_url: str, examples: int) -> list[str]:
    """Run ``examples`` generated cases; the failures as text (no shrinking: bounded time)."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        # Signed in as the suite's user: the protected routes are fuzzed past their 401,
        # unless the headers are the schema-violating part (the token left out).
        negative_headers = case.meta is not None and case.meta.is_negative_at(
            ParameterLocation.HEADER
        )
        headers = None if negative_headers else auth_headers(base_url)
        response = case.call(base_url=base_url, timeout=30, headers=headers)
        try:
            case.validate_response(response, checks=CHECKS)
        except (FailureGroup, AssertionError) as exc:
            failures.append(f"{operation.label} [{mode.value}] {case.method} {case.path}: {exc}")

    try:
        run()
    except Unsatisfiable:
        # An operation without parameters or body has no invalid input to generate.
        if mode is not GenerationMode.NEGATIVE:
            raise
    return failures


def test_upload_api_matches_its_schema_under_fuzzing(stack: Stack, full_size: bool) -> None:
    base_url = stack.url("upload")
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", wait_for_schema=30)
    examples = 200 if full_size else 25
    failures: list[str] = []
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        for mode in GenerationMode:
            failures += fuzz_operation(operation, mode, base_url, examples)
    print(f"\n[schemathesis] {len(labels)} operations x {examples} examples x 2 modes: {labels}")
    assert {"POST /upload-request", "GET /image/{imageId}"} <= set(labels), labels
    assert not failures, "\n\n".join(failures[:10])
    assert stack.processes["upload"].running
