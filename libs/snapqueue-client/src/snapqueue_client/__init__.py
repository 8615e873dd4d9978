"""SnapQueue's typed client: ``AsyncSnapQueue`` (asyncio) and ``SnapQueue`` (blocking).

See docs/client.md. Only the public REST and WebSocket contracts are used, so the package
installs and runs without any of the services.
"""

from snapqueue_client.client import DEFAULT_TIMEOUT, DEFAULT_WAIT_SECONDS, AsyncSnapQueue
from snapqueue_client.content_types import guess_content_type
from snapqueue_client.errors import (
    ApiError,
    FileTooLarge,
    Forbidden,
    InvalidRequest,
    NetworkError,
    NotFound,
    ServiceUnavailable,
    SnapQueueError,
    Unauthenticated,
    UnsupportedContentType,
    UploadFailed,
    WaitTimeout,
)
from snapqueue_client.models import (
    ImageError,
    ImageEvent,
    ImagePage,
    ImageRecord,
    PresignedPost,
    Status,
    StatusInfo,
    UploadTicket,
    Variant,
)
from snapqueue_client.sync import SnapQueue
from snapqueue_client.urls import derive_ws_url
from snapqueue_client.version import __version__

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_SECONDS",
    "ApiError",
    "AsyncSnapQueue",
    "FileTooLarge",
    "Forbidden",
    "ImageError",
    "ImageEvent",
    "ImagePage",
    "ImageRecord",
    "InvalidRequest",
    "NetworkError",
    "NotFound",
    "PresignedPost",
    "ServiceUnavailable",
    "SnapQueue",
    "SnapQueueError",
    "Status",
    "StatusInfo",
    "Unauthenticated",
    "UnsupportedContentType",
    "UploadFailed",
    "UploadTicket",
    "Variant",
    "WaitTimeout",
    "__version__",
    "derive_ws_url",
    "guess_content_type",
]
