"""Every error the client raises derives from :class:`SnapQueueError`.

The API answers errors as ``{"error": code, "message": text}``; :func:`api_error` turns any
answer (JSON or not: a proxy's HTML page, S3's XML) into an :class:`ApiError` that keeps the
HTTP status, so callers can branch on ``code`` or on the subclass.
"""

from __future__ import annotations

import json
import re
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from snapqueue_client.models import ImageRecord, Status

# S3 answers errors as XML: <Error><Code>AccessDenied</Code><Message>…</Message></Error>.
_XML_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]{1,500})</Message>")


class SnapQueueError(Exception):
    """Base class of everything this package raises."""


class NetworkError(SnapQueueError):
    """The service could not be reached, or the connection broke before an answer."""

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class ApiError(SnapQueueError):
    """An error answer: ``status`` (HTTP), ``code`` (stable, machine) and ``message``."""

    def __init__(self, status: int, code: str, message: str, *, body: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class InvalidRequest(ApiError):
    """422: the request was malformed (``invalid_request``, ``invalid_size``, ...)."""


class NotFound(ApiError):
    """404 ``not_found``: unknown image id (or route)."""


class FileTooLarge(ApiError):
    """413 ``file_too_large``: above the service's ``maxBytes``."""


class UnsupportedContentType(ApiError):
    """415 ``unsupported_content_type``: not one of the accepted image types."""


class Unauthenticated(ApiError):
    """401 ``unauthenticated``: a sign-in token is missing, expired or wrong."""


class Forbidden(ApiError):
    """403: authenticated but not allowed (or an upload permission S3 refused)."""


class ServiceUnavailable(ApiError):
    """503 ``service_unavailable``: storage is unreachable; retrying later may succeed."""


class InvalidCredentials(ApiError):
    """401 ``invalid_credentials``: sign-in with a wrong e-mail or password."""


class InvalidRefreshToken(Unauthenticated):
    """401 ``invalid_refresh_token``: the refresh token expired or was revoked; sign in again."""


class UserNotConfirmed(Forbidden):
    """403 ``user_not_confirmed``: sign-up is not confirmed yet (``confirm(email, code)``)."""


class Conflict(ApiError):
    """409: the request clashes with what exists."""


class UserExists(Conflict):
    """409 ``user_exists``: an account with this e-mail exists already."""


class InvalidPassword(InvalidRequest):
    """422 ``invalid_password``: the password breaks the policy; ``message`` states it."""


class InvalidEmail(InvalidRequest):
    """422 ``invalid_email``: not an e-mail address."""


class QuotaExceeded(ApiError):
    """413 ``quota_exceeded``: the upload would take the account past its storage quota."""


class RateLimited(ApiError):
    """429 ``rate_limited``: too many requests; ``retry_after`` is the server's advice in
    seconds (``None`` when it gave none)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, code, message, body=body)
        self.retry_after = retry_after


class NotSignedIn(SnapQueueError):
    """The call needs a sign-in the client does not have (no refresh token to use)."""


_BY_CODE: dict[str, type[ApiError]] = {
    "not_found": NotFound,
    "file_too_large": FileTooLarge,
    "unsupported_content_type": UnsupportedContentType,
    "unauthenticated": Unauthenticated,
    "forbidden": Forbidden,
    "service_unavailable": ServiceUnavailable,
    "invalid_credentials": InvalidCredentials,
    "invalid_refresh_token": InvalidRefreshToken,
    "user_not_confirmed": UserNotConfirmed,
    "user_exists": UserExists,
    "invalid_password": InvalidPassword,
    "invalid_email": InvalidEmail,
    "quota_exceeded": QuotaExceeded,
    "rate_limited": RateLimited,
}
_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: FileTooLarge,
    415: UnsupportedContentType,
    422: InvalidRequest,
    429: RateLimited,
    503: ServiceUnavailable,
}


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass  # not a number: the other allowed form, a date
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def api_error(response: httpx.Response) -> ApiError:
    """The typed error for a non-2xx ``response`` (its body must already be read)."""
    text = response.text
    code, message = f"http_{response.status_code}", text.strip()[:500] or response.reason_phrase
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code = body["error"]
        message = str(body.get("message", ""))
    elif (xml_code := _XML_CODE.search(text)) is not None:
        code = xml_code.group(1)
        xml_message = _XML_MESSAGE.search(text)
        message = xml_message.group(1) if xml_message else message
    cls = _BY_CODE.get(code) or _BY_STATUS.get(response.status_code, ApiError)
    if issubclass(cls, RateLimited):
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return cls(response.status_code, code, message, body=text, retry_after=retry_after)
    return cls(response.status_code, code, message, body=text)


class UploadFailed(SnapQueueError):
    """The image ended ``FAILED``; ``record.error.code`` says why (``unsupported_format``...)."""

    def __init__(self, record: ImageRecord) -> None:
        error = record.error
        self.record = record
        self.code = error.code if error else "failed"
        self.error_message = error.message if error else "Processing failed."
        super().__init__(f"image {record.image_id} failed: {self.code}: {self.error_message}")


class ImageDeleted(NotFound):
    """The image was deleted (by its owner or an admin) while it was being waited for.

    A :class:`NotFound` (404, ``image_deleted``), so code that handles an unknown image
    handles this too; a wait that learns of it by polling gets the API's plain NotFound.
    """

    def __init__(self, image_id: str) -> None:
        super().__init__(404, "image_deleted", f"image {image_id} was deleted")
        self.image_id = image_id


class WaitTimeout(SnapQueueError):
    """The image was not terminal within the deadline; ``last_status`` is what was seen."""

    def __init__(self, image_id: str, timeout: float, last_status: Status | None) -> None:
        seen = last_status.value if last_status else "no status"
        super().__init__(f"image {image_id} not finished after {timeout:g}s ({seen})")
        self.image_id = image_id
        self.timeout = timeout
        self.last_status = last_status
