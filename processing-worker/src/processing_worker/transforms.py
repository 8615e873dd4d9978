"""Pure image transforms, ``(image, preset) -> image`` in the style of ``PIL.ImageOps``.

No I/O here: every function takes a loaded image and returns a new one.
``to_rgb_or_rgba`` turns whatever Pillow decoded (any mode, colour profile) into an sRGB
``RGB`` or ``RGBA`` image; the variant functions resize it in its stored orientation, and
``upright`` turns the small results the way the EXIF orientation says.
"""

from __future__ import annotations

import io
import math
from functools import cache

from PIL import Image, ImageCms

from . import resample
from .settings import Preset

# Modes whose pixel values are not 0..255 samples; they are rescaled to 8 bits.
_WIDE_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@cache
def _lab_to_srgb() -> ImageCms.ImageCmsTransform:
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
    return ImageCms.buildTransform(lab, _srgb_profile(), "LAB", "RGB")


def _required(image: Image.Image | None) -> Image.Image:
    """Pillow types some results as optional though they are not for these arguments."""
    if image is None:
        raise ValueError("Pillow returned no image")
    return image


def fit_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled to fit within ``box``, keeping its aspect ratio, never enlarged."""
    width, height = size
    scale = min(box[0] / width, box[1] / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES


def to_srgb(image: Image.Image) -> Image.Image:
    """Convert an embedded ICC profile to sRGB; images without one are taken as sRGB."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if image.mode == "RGBA":
            # Convert the colour channels only; alpha is not a colour.
            alpha = image.getchannel("A")
            rgb = _required(
                ImageCms.profileToProfile(
                    image.convert("RGB"), source, _srgb_profile(), outputMode="RGB"
                )
            )
            rgb.putalpha(alpha)
            return rgb
        converted = ImageCms.profileToProfile(image, source, _srgb_profile(), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # A broken or exotic profile: the pixels are still usable without it.
        return image
    return _required(converted)


def _rescale_wide(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float samples to 8 bits, keeping 0 black.

    Values that already fit 0..255 are kept; otherwise ``[min(low, 0), high]`` is
    stretched to 0..255 (many such files are 12-bit scientific or medical data, which
    a fixed ``/256`` would turn almost black).
    """
    wide = image.convert("F")
    extrema = wide.getextrema()
    low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
    if not (math.isfinite(low) and math.isfinite(high)):
        # NaN or infinite samples carry no picture we could scale; show black.
        return Image.new("L", image.size, 0)
    if low >= 0 and high <= 255:
        return wide.convert("L")
    floor = min(low, 0.0)
    span = (high - floor) or 1.0
    return wide.point(lambda v: (v - floor) * (255.0 / span)).convert("L")


def to_rgb_or_rgba(image: Image.Image) -> Image.Image:
    """Any Pillow mode to ``RGB``, or ``RGBA`` when there is real transparency."""
    image = to_srgb(image)
    mode = image.mode
    if mode in _WIDE_MODES:
        image = _rescale_wide(image)
    elif mode == "LAB":
        image = _required(ImageCms.applyTransform(image, _lab_to_srgb()))
    elif mode == "1":
        image = image.convert("L")
    if image.mode in _ALPHA_MODES or image.has_transparency_data:
        image = image.convert("RGBA")
        low, _ = image.getchannel("A").getextrema()
        if low == 255:
            image = image.convert("RGB")  # an alpha channel that hides nothing
    elif image.mode != "RGB":
        image = image.convert("RGB")
    return image


# What ImageOps.exif_transpose does for each EXIF orientation.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """``image`` as a viewer shows it, given the EXIF orientation (1–8) it was stored with."""
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def stored_preset(preset: Preset, orientation: int) -> Preset:
    """The box that, in stored orientation, becomes ``preset`` once the image is upright."""
    if orientation in (5, 6, 7, 8):
        return Preset(width=preset.height, height=preset.width)
    return preset


def downscale(
    image: Image.Image, size: tuple[int, int], box: tuple[int, int, int, int] | None = None
) -> Image.Image:
    """LANCZOS to ``size`` (of ``box``, if given): Pillow's filter and pixels, computed by
    :mod:`.resample`'s vectorised kernels."""
    source = image.crop(box) if box is not None else image
    return resample.lanczos(source, size)


def resized(image: Image.Image, preset: Preset) -> Image.Image:
    """Fit within the preset's box, aspect kept, never enlarged."""
    size = fit_size(image.size, (preset.width, preset.height))
    if size == image.size:
        return image.copy()
    return downscale(image, size)


def thumbnail(image: Image.Image, preset: Preset) -> Image.Image:
    """The largest centred crop with the preset's aspect, scaled down to the preset.

    A source smaller than the preset is cropped but not enlarged: its thumbnail is a
    square (for a square preset) with the source's short side.
    """
    width, height = image.size
    ratio = preset.width / preset.height
    if width / height > ratio:
        crop_w, crop_h = max(1, round(height * ratio)), height
    else:
        crop_w, crop_h = width, max(1, round(width / ratio))
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    box = (left, top, left + crop_w, top + crop_h)
    size = (preset.width, preset.height) if crop_w > preset.width else (crop_w, crop_h)
    return downscale(image, size, box)


def grayscale(image: Image.Image, preset: Preset) -> Image.Image:
    """The resized image in shades of grey (``L``, or ``LA`` to keep transparency)."""
    source = (
        image
        if fit_size(image.size, (preset.width, preset.height)) == image.size
        else (resized(image, preset))
    )
    return source.convert("LA" if has_alpha(source) else "L")


def flatten(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Composite onto an opaque background, for formats without alpha (JPEG)."""
    if not has_alpha(image):
        return image
    rgba = image.convert("RGBA")
    base = Image.new("RGBA", rgba.size, (*background, 255))
    base.alpha_composite(rgba)
    target = "L" if image.mode in ("LA", "La") else "RGB"
    return base.convert(target)
