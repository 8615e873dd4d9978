"""Pure input rules: filenames, content types, sizes, page limits. No I/O here."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

from snapqueue_core import store as core_store
from snapqueue_core.schemas import is_image_id

from .errors import (
    FileTooLargeError,
    InvalidCursorError,
    InvalidFilenameError,
    InvalidImageIdError,
    InvalidLimitError,
    InvalidSizeError,
    UnsupportedContentTypeError,
)

# Control, format (bidi overrides, zero-width), surrogate, private-use and line/paragraph
# separator characters: invisible or misleading in a displayed name.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_WHITESPACE_RUN = re.compile(r"\s+")

# Names some clients send for the types we accept.
_CONTENT_TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
}

# For multipart parts sent without a useful Content-Type (curl for unknown extensions).
_EXTENSION_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "heic": "image/heic",
    "heif": "image/heif",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
}
GENERIC_CONTENT_TYPES = frozenset({"", "application/octet-stream"})


def sanitize_filename(raw: str, max_length: int) -> str:
    """A display-safe file name: last path component, NFC, no control characters.

    Raises :class:`InvalidFilenameError` if nothing displayable is left or it is too long.
    """
    # Measured on what the client sent, as the published schema's maxLength says.
    if len(raw) > max_length:
        raise InvalidFilenameError(f"Filename is longer than {max_length} characters.")
    name = unicodedata.normalize("NFC", raw)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    name = _WHITESPACE_RUN.sub(" ", name).strip()
    if name in ("", ".", ".."):
        raise InvalidFilenameError(
            "Filename is empty once path and control characters are removed."
        )
    if len(name) > max_length:
        raise InvalidFilenameError(f"Filename is longer than {max_length} characters.")
    return name


def canonical_content_type(raw: str, allowed: Collection[str]) -> str:
    """The canonical allowed type for ``raw``, or :class:`UnsupportedContentTypeError`."""
    value = raw.split(";", 1)[0].strip().lower()
    value = _CONTENT_TYPE_ALIASES.get(value, value)
    if value not in allowed:
        shown = raw[:100]
        raise UnsupportedContentTypeError(
            f"Content type '{shown}' is not accepted; use one of: {', '.join(sorted(allowed))}."
        )
    return value


def content_type_from_filename(filename: str | None) -> str:
    """A guess from the extension, for parts declared only as octet-stream ('' if none)."""
    if not filename or "." not in filename:
        return ""
    return _EXTENSION_TYPES.get(filename.rsplit(".", 1)[-1].lower(), "")


def check_declared_size(size: int, max_bytes: int) -> int:
    if size <= 0:
        raise InvalidSizeError("size must be a positive number of bytes.")
    if size > max_bytes:
        raise FileTooLargeError(f"size {size} exceeds the maximum of {max_bytes} bytes.")
    return size


def check_image_id(image_id: str) -> str:
    if not is_image_id(image_id):
        raise InvalidImageIdError("imageId must be 32 lowercase hexadecimal characters.")
    return image_id


def page_limit(limit: int | None, default: int, maximum: int) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise InvalidLimitError(f"limit must be between 1 and {maximum}.")
    return limit


def check_cursor(cursor: str) -> str:
    """Refuse cursors this API cannot have issued, before DynamoDB sees them."""
    try:
        core_store.decode_cursor(cursor)
    except core_store.InvalidCursorError as exc:
        raise InvalidCursorError("cursor is not one this API issued.") from exc
    return cursor
