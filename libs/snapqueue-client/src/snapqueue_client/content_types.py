"""Which content type to declare for a file, from its name or, failing that, its first bytes."""

from __future__ import annotations

import mimetypes
from pathlib import PurePath

# The types the API accepts (docs/api.md). The CLI picks files by these extensions.
IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".bmp": "image/bmp",
}
EXTENSION_FOR_TYPE = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/avif": ".avif",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/tiff": ".tif",
    "image/bmp": ".bmp",
}
FALLBACK_TYPE = "application/octet-stream"


def is_image_filename(name: str) -> bool:
    return PurePath(name).suffix.lower() in IMAGE_TYPES


def sniff(head: bytes) -> str | None:
    """The image type the leading bytes announce, for ``bytes`` uploads without a name."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"heim", b"heis"):
            return "image/heic"
        if brand in (b"mif1", b"msf1"):
            return "image/heif"
    return None


def guess_content_type(filename: str | None, head: bytes = b"") -> str:
    """From the extension (ours first, then :mod:`mimetypes`), else from the bytes.

    An unknown type is declared ``application/octet-stream``; the API then refuses it with
    ``unsupported_content_type``, which says more than a guess would.
    """
    if filename:
        suffix = PurePath(filename).suffix.lower()
        if suffix in IMAGE_TYPES:
            return IMAGE_TYPES[suffix]
        guessed, _ = mimetypes.guess_type(filename, strict=False)
        if guessed:
            return guessed
    return sniff(head) or FALLBACK_TYPE


def extension_for(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    return EXTENSION_FOR_TYPE.get(base) or mimetypes.guess_extension(base) or ".bin"
