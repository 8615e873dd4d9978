"""What the record says about an image: the EXIF subset, dominant colour and blurhash.

Pure functions of an opened image; values are plain JSON (finite numbers, short strings)
so they store in DynamoDB as they are.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import fast_blurhash
from PIL import ExifTags, Image

from .decode import DECODER_FAILURES

ORIENTATION_TAG = 0x0112
_MAKE, _MODEL = 0x010F, 0x0110
_DATETIME, _DATETIME_ORIGINAL = 0x0132, 0x9003
_EXPOSURE_TIME, _F_NUMBER, _ISO, _FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x920A
_MAX_TEXT = 64

# A tiny sample is enough for a placeholder: the hash keeps only 4×3 cosine components.
SAMPLE_SIZE = (32, 32)
# The components the SPA's placeholder is decoded with (28 characters).
BLURHASH_COMPONENTS = (4, 3)


def read_exif(image: Image.Image) -> Image.Exif:
    """The image's EXIF, or an empty one if it is unreadable (metadata never fails a job)."""
    try:
        return image.getexif()
    except DECODER_FAILURES:
        return Image.Exif()


def orientation_of(exif: Image.Exif) -> int:
    value = exif.get(ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def display_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """The size a viewer shows: orientations 5–8 swap width and height."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned[:_MAX_TEXT] or None


def _number(value: object) -> float | int | None:
    if isinstance(value, tuple | list) and value:
        value = value[0]
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else round(number, 6)


def _date(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _coordinate(values: object, ref: object, limit: float) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds); ``None`` if absent or absurd."""
    if not isinstance(values, tuple | list) or len(values) != 3:
        return None
    parts = [_number(v) for v in values]
    if any(p is None for p in parts):
        return None
    degrees, minutes, seconds = (float(p) for p in parts if p is not None)
    result = degrees + minutes / 60 + seconds / 3600
    if not 0 <= result <= limit:
        return None
    if _text(ref) in ("S", "W"):
        result = -result
    return round(result, 6)


def exif_summary(exif: Image.Exif, *, include_gps: bool) -> dict[str, Any]:
    """make, model, dateTaken, exposureTime, fNumber, iso, focalLength, orientation, GPS."""
    try:
        details = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except DECODER_FAILURES:
        details, gps = {}, {}
    summary: dict[str, Any] = {
        "make": _text(exif.get(_MAKE)),
        "model": _text(exif.get(_MODEL)),
        "dateTaken": _date(details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)),
        "exposureTime": _number(details.get(_EXPOSURE_TIME)),
        "fNumber": _number(details.get(_F_NUMBER)),
        "iso": _number(details.get(_ISO)),
        "focalLength": _number(details.get(_FOCAL_LENGTH)),
        "orientation": orientation_of(exif),
        "gpsPresent": bool(gps),
    }
    if include_gps and gps:
        lat = _coordinate(gps.get(2), gps.get(1), 90)
        lon = _coordinate(gps.get(4), gps.get(3), 180)
        if lat is not None and lon is not None:
            summary["gps"] = {"lat": lat, "lon": lon}
    return {key: value for key, value in summary.items() if value is not None}


def _opaque_sample(image: Image.Image) -> Image.Image:
    sample = image.resize(SAMPLE_SIZE, Image.Resampling.BOX)
    if sample.mode in ("RGBA", "LA"):
        # Transparent areas show the page behind them: white.
        base = Image.new("RGBA", sample.size, (255, 255, 255, 255))
        base.alpha_composite(sample.convert("RGBA"))
        sample = base
    return sample.convert("RGB")


def dominant_color(sample: Image.Image) -> str:
    """The most common of a few median-cut colours, as ``#rrggbb``."""
    quantized = sample.quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    counts = quantized.getcolors() or [(1, 0)]
    _, index = max(counts, key=lambda entry: entry[0])
    position = 3 * int(index) if isinstance(index, int) else 0
    palette = quantized.getpalette() or [0, 0, 0]
    r, g, b = palette[position : position + 3]
    return f"#{r:02x}{g:02x}{b:02x}"


def visual_summary(image: Image.Image) -> dict[str, str]:
    """dominantColor and blurhash of an upright RGB/RGBA image."""
    sample = _opaque_sample(image)
    x_components, y_components = BLURHASH_COMPONENTS
    return {
        "dominantColor": dominant_color(sample),
        "blurhash": fast_blurhash.encode(
            sample.tobytes(), x_components, y_components, sample.width, sample.height
        ),
    }
