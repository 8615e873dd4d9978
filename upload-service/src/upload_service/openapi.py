"""The OpenAPI document, with the limits of the running configuration written into it.

The request model stays loose on purpose (so each bad value gets its own error code), but
the published schema states the actual accepted types and sizes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .settings import UploadServiceSettings


def document_limits(schema: dict[str, Any], settings: UploadServiceSettings) -> dict[str, Any]:
    """Pure: add the configured limits to the ``UploadRequestBody`` component."""
    body = schema.get("components", {}).get("schemas", {}).get("UploadRequestBody")
    if body is None:
        return schema
    properties = body["properties"]
    properties["contentType"]["enum"] = list(settings.allowed_content_types)
    properties["size"]["minimum"] = 1
    properties["size"]["maximum"] = settings.max_upload_bytes
    properties["filename"]["minLength"] = 1
    properties["filename"]["maxLength"] = settings.filename_max_length
    return schema


# Routes anyone may call; a token, when sent, is checked (a refused one is a 401).
OPTIONAL_AUTH_OPERATIONS = (
    ("/image/{imageId}", "get"),
    ("/status/{imageId}", "get"),
    ("/get-all-images", "get"),
)


def document_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Pure: say that the public reads work without a token too (OpenAPI's ``{}``)."""
    paths = schema.get("paths", {})
    for path, method in OPTIONAL_AUTH_OPERATIONS:
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        security = operation.setdefault("security", [])
        if {} not in security:
            security.insert(0, {})
    return schema


def install_openapi(app: FastAPI, settings: UploadServiceSettings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document_security(document_limits(schema, settings))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
