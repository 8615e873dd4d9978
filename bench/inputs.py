"""Deterministic, realistic large photos made from the corpus's 1800×1200 photos.

A corpus photo is cropped to 4:3, upscaled, given fine texture (the high-pass detail of a
second photo) and sensor-like noise (luminance-dependent grain plus blotchy chroma
noise), then saved like a phone would: JPEG q90 4:2:0 with an EXIF block, or PNG. An
upscaled photo without that texture would compress to a fraction of a real photo's size
and decode unrealistically fast. Everything is seeded, so every run measures the same
bytes; files are cached under ``bench/.inputs/``.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from devstack.corpus import ORIENTATION

from .profile import InputSpec

CORPUS = ORIENTATION
CACHE = Path(__file__).resolve().parent / ".inputs"
GENERATOR_VERSION = 1

_EXIF_IFD = 0x8769


def _seed(spec: InputSpec) -> int:
    return zlib.crc32(f"{spec.name}:{GENERATOR_VERSION}".encode())


def _crop_to_aspect(image: Image.Image, width: int, height: int) -> Image.Image:
    """The largest centred crop of ``image`` with the aspect ``width:height``."""
    return ImageOps.fit(
        image, (width, height), method=Image.Resampling.BICUBIC, centering=(0.5, 0.5)
    )


def _texture(spec: InputSpec, width: int, height: int) -> np.ndarray:
    """High-pass detail of another photo, tiled (mirrored, so there are no seams)."""
    with Image.open(CORPUS / spec.texture_source) as source:
        gray = source.convert("L")
    detail = np.asarray(gray, dtype=np.float32) - np.asarray(
        gray.filter(ImageFilter.GaussianBlur(2)), dtype=np.float32
    )
    tile = np.concatenate([detail, detail[:, ::-1]], axis=1)
    tile = np.concatenate([tile, tile[::-1, :]], axis=0)
    reps = (height // tile.shape[0] + 1, width // tile.shape[1] + 1)
    tiled: np.ndarray = np.tile(tile, reps)[:height, :width]
    return tiled


def synthesize(spec: InputSpec) -> Image.Image:
    """The stored pixels of ``spec`` (landscape; the EXIF orientation says how to show it)."""
    rng = np.random.default_rng(_seed(spec))
    with Image.open(CORPUS / spec.source) as source:
        base = _crop_to_aspect(source.convert("RGB"), spec.width, spec.height)
    pixels = np.asarray(base, dtype=np.float32)
    luminance = pixels.mean(axis=2, keepdims=True)
    pixels += 0.6 * _texture(spec, spec.width, spec.height)[:, :, None]
    # Shot noise grows with the signal; read noise is the floor.
    grain = rng.standard_normal((spec.height, spec.width, 1), dtype=np.float32)
    pixels += grain * (1.2 + 0.018 * luminance)
    # Chroma noise is low-frequency: drawn at a quarter of the size, then upscaled.
    small = rng.standard_normal(
        (max(1, spec.height // 4), max(1, spec.width // 4), 3), dtype=np.float32
    )
    chroma = Image.fromarray(np.clip(small * 32 + 128, 0, 255).astype(np.uint8)).resize(
        (spec.width, spec.height), Image.Resampling.BILINEAR
    )
    pixels += (np.asarray(chroma, dtype=np.float32) - 128) / 16
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))


def exif_block(spec: InputSpec) -> Image.Exif:
    """What a phone writes: orientation, camera, date and exposure (no GPS)."""
    exif = Image.Exif()
    exif[0x0112] = spec.orientation
    exif[0x010F] = "SnapQueue"
    exif[0x0110] = "Bench Synthetic"
    exif[0x0132] = "2024:06:01 12:00:00"
    sub = exif.get_ifd(_EXIF_IFD)
    sub[0x9003] = "2024:06:01 12:00:00"  # DateTimeOriginal
    sub[0x829A] = 1 / 250  # ExposureTime
    sub[0x829D] = 1.8  # FNumber
    sub[0x8827] = 100  # ISO
    sub[0x920A] = 4.25  # FocalLength
    return exif


def ensure_input(spec: InputSpec, cache: Path = CACHE) -> Path:
    """The path of ``spec``'s file, generated on first use."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"v{GENERATOR_VERSION}-{spec.filename}"
    if path.exists():
        return path
    image = synthesize(spec)
    partial = path.with_suffix(path.suffix + ".partial")
    if spec.format == "JPEG":
        image.save(partial, "JPEG", quality=90, subsampling=2, exif=exif_block(spec).tobytes())
    else:
        image.save(partial, "PNG", compress_level=6)
    partial.replace(path)
    return path


def ensure_inputs(specs: tuple[InputSpec, ...], cache: Path = CACHE) -> dict[str, Path]:
    return {spec.name: ensure_input(spec, cache) for spec in specs}
