"""One image file in (a path or an open file), encoded variants and metadata out:
synchronous, CPU only, no AWS.

The worker runs :func:`process_file` on a thread pool (Pillow releases the GIL while it
decodes, resizes and encodes); the benchmarks call it directly.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from . import decode, metadata, transforms
from .errors import PermanentImageError
from .settings import OutputFormat, Preset, WorkerSettings

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}


@dataclass(frozen=True)
class EncodedVariant:
    name: str
    data: bytes
    width: int
    height: int
    content_type: str
    extension: str


@dataclass(frozen=True)
class ProcessResult:
    variants: dict[str, EncodedVariant]
    metadata: dict[str, Any]
    # Diagnostics for tests and benchmarks: the size libjpeg actually decoded.
    decoded_size: tuple[int, int] = (0, 0)
    timings: dict[str, float] = field(default_factory=dict)


def file_digest(source: decode.Source) -> str:
    digest = hashlib.sha256()
    with decode.rewound(source) as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def thumbnail_fits(size: tuple[int, int], preset: Preset) -> bool:
    """Whether a thumbnail cut from an image of ``size`` reaches the preset's full size."""
    width, height = size
    return width >= preset.width and height >= preset.height


# libjpeg's DCT scaling is a coarse filter: a photo decoded so small that LANCZOS has little
# left to do (a 24 MP photo at 1/4 scale leaves it 1.38×) gives a resized variant clearly
# further from a full-resolution LANCZOS than the next larger scale does, which costs only
# a little more decoding. So at least 1.5× is left to LANCZOS. (Pillow's thumbnail() leaves
# 2×, which would make a 4032 px photo decode at full size for a 1024 px variant: 1/2 scale
# gives 2016.)
MIN_RESIZE_AFTER_DRAFT = 1.5


def needed_decode_size(display: tuple[int, int], settings: WorkerSettings) -> tuple[int, int]:
    """The smallest upright size from which every variant can be made at full quality:
    each variant's size, times the margin left to LANCZOS, never beyond the image."""
    box = settings.resized_preset
    target_w, target_h = transforms.fit_size(display, (box.width, box.height))
    thumb = settings.thumbnail_preset
    width = max(target_w, min(display[0], thumb.width))
    height = max(target_h, min(display[1], thumb.height))
    return (
        min(display[0], math.ceil(width * MIN_RESIZE_AFTER_DRAFT)),
        min(display[1], math.ceil(height * MIN_RESIZE_AFTER_DRAFT)),
    )


def output_format(image: Image.Image, setting: OutputFormat) -> str:
    if setting == "auto":
        return "png" if transforms.has_alpha(image) else "jpeg"
    return setting


def encode(name: str, image: Image.Image, settings: WorkerSettings) -> EncodedVariant:
    """Encode without any metadata: no EXIF, GPS, XMP, comments or source ICC profile."""
    fmt = output_format(image, settings.output_format)
    buffer = io.BytesIO()
    image.info = {}
    if fmt == "jpeg":
        image = transforms.flatten(image)
        image.save(buffer, "JPEG", quality=settings.jpeg_quality, optimize=True)
    elif fmt == "png":
        image.save(buffer, "PNG", compress_level=settings.png_compress_level)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=settings.webp_quality, method=4)
    else:
        image.save(buffer, "AVIF", quality=settings.avif_quality)
    return EncodedVariant(
        name=name,
        data=buffer.getvalue(),
        width=image.width,
        height=image.height,
        content_type=CONTENT_TYPES[fmt],
        extension=EXTENSIONS[fmt],
    )


def decode_rgb(
    image: Image.Image, settings: WorkerSettings
) -> tuple[Image.Image, Image.Exif, tuple[int, int]]:
    """Decode (draft-scaled for JPEG) to sRGB RGB or RGBA, still in stored orientation (the
    variants are turned upright once they are small); also return the source's EXIF."""
    if image.format in decode.JPEG_FORMATS:
        # JPEG keeps EXIF in a header segment: readable before decoding, as the draft
        # scale depends on the orientation.
        exif = metadata.read_exif(image)
        orientation = metadata.orientation_of(exif)
        display = metadata.display_size(image.size, orientation)
        needed = metadata.display_size(needed_decode_size(display, settings), orientation)
        decode.draft_jpeg(image, needed)
        decode.load(image)
    else:
        # Other plugins load the whole image to find EXIF; decode errors surface here.
        decode.load(image)
        exif = metadata.read_exif(image)
    decoded_size = image.size
    try:
        return transforms.to_rgb_or_rgba(image), exif, decoded_size
    except decode.DECODER_FAILURES as exc:
        # Some plugins decode lazily, during the first conversion.
        raise decode.decode_failure(exc) from exc


def make_variants(
    stored: Image.Image, orientation: int, settings: WorkerSettings
) -> tuple[Image.Image, Image.Image, Image.Image]:
    """resized, thumbnail and grayscale, upright, from the decoded image in stored orientation.

    The resize runs before the rotation, so only the 1024 px result is transposed: turning
    the whole decoded image upright first would cost time and a second copy of it.
    """
    resized = transforms.upright(
        transforms.resized(stored, transforms.stored_preset(settings.resized_preset, orientation)),
        orientation,
    )
    display = metadata.display_size(stored.size, orientation)
    thumb_source = resized
    if resized.size != display and not thumbnail_fits(resized.size, settings.thumbnail_preset):
        # A long panorama: the resized one is too thin to crop.
        thumb_source = transforms.upright(stored, orientation)
    return (
        resized,
        transforms.thumbnail(thumb_source, settings.thumbnail_preset),
        transforms.grayscale(resized, settings.resized_preset),
    )


def process_file(source: decode.Source, settings: WorkerSettings) -> ProcessResult:
    """Validate, decode and transform ``source``; raise :class:`PermanentImageError` if it
    cannot be processed."""
    limits = decode.Limits.from_settings(settings)
    size_bytes = decode.check_file_size(source, limits.max_bytes)
    digest = file_digest(source)
    with decode.open_image(source, limits) as image:
        source_format = image.format or "unknown"
        source_mode = image.mode
        frames = decode.frame_count(image)
        # Before decoding: a JPEG's draft mode shrinks ``image.size`` to the decoded scale.
        source_size = image.size
        stored, exif, decoded_size = decode_rgb(image, settings)
        exif_summary = metadata.exif_summary(exif, include_gps=settings.store_gps_coordinates)
    if stored.width < 1 or stored.height < 1:
        raise PermanentImageError("corrupt_image", "The image says it has no pixels.")

    orientation = metadata.orientation_of(exif)
    resized, thumbnail, grayscale = make_variants(stored, orientation, settings)
    variants = {
        "thumbnail": encode("thumbnail", thumbnail, settings),
        "resized": encode("resized", resized, settings),
        "grayscale": encode("grayscale", grayscale, settings),
    }
    width, height = metadata.display_size(source_size, orientation)
    meta: dict[str, Any] = {
        "width": width,
        "height": height,
        "format": source_format,
        "mode": source_mode,
        "frames": frames,
        "bytes": size_bytes,
        "sha256": digest,
        **metadata.visual_summary(resized),
        "exif": exif_summary,
    }
    return ProcessResult(variants=variants, metadata=meta, decoded_size=decoded_size)
