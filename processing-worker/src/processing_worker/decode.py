"""Open an uploaded file safely: real format from the content, limits before decoding.

Every way Pillow can fail is mapped to a :class:`PermanentImageError` whose code and
message tell the user why their file was refused.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import IO

from PIL import Image, UnidentifiedImageError

from .errors import PermanentImageError
from .settings import WorkerSettings

# Pillow plugin names; ICO, PSD, PDF, SVG, EPS and the rest are refused. MPO (multi-picture
# JPEG) has no opener of its own: the JPEG opener returns it.
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF", "HEIF", "TIFF", "BMP")
JPEG_FORMATS = frozenset({"JPEG", "MPO"})
ACCEPTED_NAMES = "JPEG, PNG, GIF, WebP, AVIF, HEIF, TIFF or BMP"

# What Pillow's decoders raise on malformed input (fuzzing finds all of these).
DECODER_FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    ZeroDivisionError,
    OverflowError,
)

# An uploaded file: a path, or a seekable binary file (the worker's in-memory download).
Source = str | IO[bytes]

# Raised by ``open`` and ``load`` too: a header announcing more than twice MAX_IMAGE_PIXELS.
LOAD_FAILURES: tuple[type[BaseException], ...] = (*DECODER_FAILURES, Image.DecompressionBombError)

_SIGNATURES = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
    b"II+\x00",
    b"MM\x00+",
    b"BM",
)
_ISOBMFF_BRANDS = frozenset(
    {b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
)


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int
    max_frames: int

    @classmethod
    def from_settings(cls, settings: WorkerSettings) -> Limits:
        return cls(settings.max_upload_bytes, settings.max_pixels, settings.max_frames)


@cache
def _register_plugins() -> None:
    from pillow_heif import register_heif_opener

    # Pillow decodes AVIF itself; pillow-heif adds HEIC/HEIF only.
    register_heif_opener()


def configure(settings: WorkerSettings) -> None:
    """Process-wide Pillow setup, done once at startup (never at import)."""
    _register_plugins()
    # Pillow's own guard as a second line: ours below runs first with the same limit.
    Image.MAX_IMAGE_PIXELS = settings.max_pixels


def looks_like_allowed_image(head: bytes) -> bool:
    """Whether the first bytes carry the signature of a format we accept."""
    if head.startswith(_SIGNATURES):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp" and head[8:12] in _ISOBMFF_BRANDS


@contextlib.contextmanager
def rewound(source: Source) -> Iterator[IO[bytes]]:
    """``source`` as a binary file at its start: a path is opened (and closed after), an
    open file is rewound (and left open for its owner)."""
    if isinstance(source, str):
        with open(source, "rb") as handle:
            yield handle
    else:
        source.seek(0)
        yield source


def read_head(source: Source, size: int = 32) -> bytes:
    with rewound(source) as handle:
        return handle.read(size)


def _open_failure(source: Source, exc: BaseException) -> PermanentImageError:
    head = read_head(source)
    if isinstance(exc, Image.DecompressionBombError):
        return PermanentImageError("too_many_pixels", "The image has more pixels than we accept.")
    if isinstance(exc, UnidentifiedImageError) and not looks_like_allowed_image(head):
        return PermanentImageError(
            "unsupported_format",
            f"This file is not an image in a format we accept ({ACCEPTED_NAMES}).",
        )
    return decode_failure(exc)


def decode_failure(exc: BaseException) -> PermanentImageError:
    """The user-facing error for a failure while reading pixels."""
    if isinstance(exc, Image.DecompressionBombError):
        return PermanentImageError("too_many_pixels", "The image has more pixels than we accept.")
    if "truncat" in str(exc).lower() or isinstance(exc, EOFError):
        return PermanentImageError(
            "truncated_image", "The image file is incomplete: it ends before its image data does."
        )
    return PermanentImageError("corrupt_image", "The image data is damaged and cannot be decoded.")


def source_size(source: Source) -> int:
    with rewound(source) as handle:
        return handle.seek(0, os.SEEK_END)


def check_file_size(source: Source, max_bytes: int) -> int:
    size = source_size(source)
    if size == 0:
        raise PermanentImageError("empty_file", "The file is empty.")
    if size > max_bytes:
        raise PermanentImageError(
            "file_too_large",
            f"The file is {size:,} bytes; the limit is {max_bytes:,} bytes.",
        )
    return size


def open_image(source: Source, limits: Limits) -> Image.Image:
    """Open (not decode) ``source``, refusing it before any pixel is decoded if it is too
    big.

    The caller closes the image (and a file it passed in). Format comes from the content
    only.
    """
    _register_plugins()
    check_file_size(source, limits.max_bytes)
    try:
        image = Image.open(source, formats=ALLOWED_FORMATS)
    except LOAD_FAILURES as exc:
        raise _open_failure(source, exc) from exc
    with contextlib.ExitStack() as on_failure:
        on_failure.callback(image.close)
        check_dimensions(image, limits)
        on_failure.pop_all()  # passed: the caller owns the open image now
    return image


def check_dimensions(image: Image.Image, limits: Limits) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise PermanentImageError("corrupt_image", "The image says it has no pixels.")
    if width * height > limits.max_pixels:
        raise PermanentImageError(
            "too_many_pixels",
            f"The image is {width}×{height} pixels ({width * height / 1e6:.1f} megapixels); "
            f"the limit is {limits.max_pixels / 1e6:g} megapixels.",
        )
    try:
        frames = frame_count(image)
    except DECODER_FAILURES as exc:
        raise decode_failure(exc) from exc
    if frames > limits.max_frames:
        raise PermanentImageError(
            "too_many_frames",
            f"The image has {frames} frames; the limit is {limits.max_frames}.",
        )


def frame_count(image: Image.Image) -> int:
    return int(getattr(image, "n_frames", 1))


def draft_jpeg(image: Image.Image, needed: tuple[int, int]) -> bool:
    """Let libjpeg decode at the smallest DCT scale (1/2, 1/4, 1/8) still ≥ ``needed``.

    ``needed`` is in stored (pre-orientation) pixels. Returns whether the scale changed.
    Unlike ``Image.thumbnail()``, no ``reducing_gap`` margin is added: that margin makes
    a 4:3 photo fall back to full-size decoding for a 1024 px output.
    """
    if image.format not in JPEG_FORMATS:
        return False
    before = image.size
    image.draft(None, needed)
    return image.size != before


def load(image: Image.Image) -> None:
    """Decode the pixels (the current frame), mapping failures to user errors."""
    try:
        image.load()
    except LOAD_FAILURES as exc:
        raise decode_failure(exc) from exc
