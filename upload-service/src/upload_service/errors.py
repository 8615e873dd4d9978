"""The service's one error type, its subclasses, and the handlers that render every error.

Every error response, including FastAPI's own validation errors and Starlette's 404/405,
has the body ``{"error": code, "message": text}``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from snapqueue_core.transient import AWS_ERRORS

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Base of every error this API answers with; carries its HTTP status and code."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code


class InvalidRequestError(ApiError):
    status_code = 422
    code = "invalid_request"


class InvalidFilenameError(ApiError):
    status_code = 422
    code = "invalid_filename"


class InvalidSizeError(ApiError):
    status_code = 422
    code = "invalid_size"


class FileTooLargeError(ApiError):
    status_code = 413
    code = "file_too_large"


class UnsupportedContentTypeError(ApiError):
    status_code = 415
    code = "unsupported_content_type"


class InvalidMultipartError(ApiError):
    status_code = 422
    code = "invalid_multipart"


class MissingFileError(ApiError):
    status_code = 422
    code = "missing_file"


class EmptyFileError(ApiError):
    status_code = 422
    code = "empty_file"


class InvalidImageIdError(ApiError):
    status_code = 422
    code = "invalid_image_id"


class InvalidLimitError(ApiError):
    status_code = 422
    code = "invalid_limit"


class InvalidCursorError(ApiError):
    status_code = 422
    code = "invalid_cursor"


class ImageNotFoundError(ApiError):
    status_code = 404
    code = "not_found"


class DependencyUnavailableError(ApiError):
    status_code = 503
    code = "service_unavailable"


class InvalidStatusError(ApiError):
    status_code = 422
    code = "invalid_status"


class UnauthenticatedError(ApiError):
    """No usable access token. ``refused``: one was sent and refused (RFC 6750's
    ``invalid_token``), as opposed to none at all."""

    status_code = 401
    code = "unauthenticated"

    def __init__(self, message: str, *, refused: bool = False) -> None:
        challenge = 'Bearer error="invalid_token"' if refused else "Bearer"
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class ForbiddenError(ApiError):
    status_code = 403
    code = "forbidden"


class RateLimitedError(ApiError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class QuotaExceededError(ApiError):
    status_code = 413
    code = "quota_exceeded"


class InvalidEmailError(ApiError):
    status_code = 422
    code = "invalid_email"


class InvalidPasswordError(ApiError):
    status_code = 422
    code = "invalid_password"


class UserExistsError(ApiError):
    status_code = 409
    code = "user_exists"


class InvalidCodeError(ApiError):
    status_code = 422
    code = "invalid_code"


class ExpiredCodeError(ApiError):
    status_code = 422
    code = "expired_code"


class InvalidCredentialsError(ApiError):
    status_code = 401
    code = "invalid_credentials"


class UserNotConfirmedError(ApiError):
    status_code = 403
    code = "user_not_confirmed"


class ChallengeRequiredError(ApiError):
    """Cognito answered the sign-in with a challenge (MFA, a new password) this API does
    not relay."""

    status_code = 403
    code = "challenge_required"


class InvalidRefreshTokenError(ApiError):
    status_code = 401
    code = "invalid_refresh_token"


def error_body(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def render(error: ApiError) -> JSONResponse:
    """The one place an error becomes a response."""
    return JSONResponse(
        error_body(error.code, error.message),
        status_code=error.status_code,
        headers=error.headers or None,
    )


async def handle_api_error(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiError):
        return render(exc)
    return await handle_unexpected(_, exc)


def describe_validation(exc: RequestValidationError) -> str:
    """One readable sentence from pydantic's error list, naming the offending fields."""
    problems = []
    for error in exc.errors()[:5]:
        if error.get("type") == "json_invalid":
            problems.append("the body is not valid JSON")
            continue
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        where = ".".join(location) or "body"
        if error.get("type") == "extra_forbidden":
            problems.append(f"unknown field '{where}'")
        else:
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(problems or ["malformed input"]) + "."


# Parameters whose validation failures have a code of their own.
_PARAMETER_ERRORS: dict[tuple[str, str], type[ApiError]] = {
    ("path", "imageId"): InvalidImageIdError,
    ("query", "limit"): InvalidLimitError,
    ("query", "cursor"): InvalidCursorError,
    ("query", "status"): InvalidStatusError,
}


def classify_validation(exc: RequestValidationError) -> ApiError:
    for error in exc.errors():
        location = tuple(str(part) for part in error.get("loc", ())[:2])
        if len(location) == 2 and location in _PARAMETER_ERRORS:
            return _PARAMETER_ERRORS[(location[0], location[1])](describe_validation(exc))
    return InvalidRequestError(describe_validation(exc))


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Malformed JSON, unknown fields, wrong types, bad parameters: 422."""
    if isinstance(exc, RequestValidationError):
        return render(classify_validation(exc))
    return await handle_unexpected(request, exc)


# Starlette raises these itself (unknown route, wrong method, ...).
_HTTP_ERRORS = {
    404: ("not_found", "No such route."),
    405: ("method_not_allowed", "Method not allowed on this route."),
}


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return await handle_unexpected(request, exc)
    if exc.status_code == 400:
        # FastAPI's "error parsing the body" (e.g. not UTF-8): bad input like any other.
        return render(InvalidRequestError("The body could not be parsed as JSON."))
    code, message = _HTTP_ERRORS.get(exc.status_code, ("http_error", str(exc.detail)))
    response = render(ApiError(message, status_code=exc.status_code, code=code))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def handle_aws_error(request: Request, exc: Exception) -> JSONResponse:
    """AWS unreachable or refusing: the request may be retried, so 503, never a bare 500."""
    log.error(
        "aws call failed",
        extra={"path": request.url.path, "awsError": type(exc).__name__},
        exc_info=exc,
    )
    return render(DependencyUnavailableError("Storage is unavailable; try again shortly."))


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", extra={"path": request.url.path}, exc_info=exc)
    return render(ApiError("Internal error.", status_code=500, code="internal_error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, handle_api_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    for aws_error in AWS_ERRORS:
        app.add_exception_handler(aws_error, handle_aws_error)
    app.add_exception_handler(Exception, handle_unexpected)
