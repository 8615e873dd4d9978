"""docs/api.md and the OpenAPI schema say what the code does: every error code, every
protected operation."""

from __future__ import annotations

import re
from pathlib import Path

from tests.upload_service.upload_helpers import RunningService
from upload_service import errors

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def error_codes() -> set[str]:
    codes = {"internal_error", "method_not_allowed"}
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.ApiError):
            codes.add(value.code)
    codes.discard("bad_request")  # the base class's placeholder, never answered
    return codes


def test_every_error_code_is_in_the_docs_table() -> None:
    table = set(re.findall(r"^\| `([a-z_]+)` \| \d{3} \|", DOC.read_text(), re.MULTILINE))
    assert error_codes() <= table, sorted(error_codes() - table)


async def test_openapi_declares_the_bearer_scheme(service: RunningService) -> None:
    schema = (await service.anonymous.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access token of `POST /auth/sign-in` (or `/auth/refresh`).",
    }
    security = {
        (method.upper(), path): operation.get("security")
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    required = [{"bearerAuth": []}]
    optional = [{}, {"bearerAuth": []}]
    for operation in (
        ("POST", "/upload-request"),
        ("POST", "/uploads"),
        ("PATCH", "/image/{imageId}"),
        ("DELETE", "/image/{imageId}"),
        ("GET", "/me"),
        ("GET", "/me/images"),
        ("GET", "/admin/images"),
    ):
        assert security[operation] == required, operation
    for operation in (
        ("GET", "/image/{imageId}"),
        ("GET", "/status/{imageId}"),
        ("GET", "/get-all-images"),
    ):
        assert security[operation] == optional, operation
    for path in ("/auth/sign-up", "/auth/confirm", "/auth/sign-in", "/auth/refresh"):
        assert security[("POST", path)] is None, path
