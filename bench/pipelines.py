"""The pipelines compared by the transform benchmark, each ``(path) -> variants``.

- ``ours``: the worker's own :func:`processing_worker.pipeline.process_file` (validation,
  DCT-scaled decode, one resize, variants derived from it, metadata and blurhash), called
  exactly as the worker calls it;
- ``naive``: what typical Pillow code does: full decode, ``exif_transpose``, every variant
  resized from the full-size image;
- ``pyvips``: libvips' ``thumbnail`` with shrink-on-load, thumbnail and grayscale derived
  from the resized image: the fastest mainstream peer.

All three encode JPEG with optimised Huffman tables and 4:2:0 chroma at the worker's
quality, and strip metadata, so the comparison is of decoding and resizing strategy. Each
also returns its resized variant's pixels before encoding, for the PSNR check.

Two diagnostics: ``split`` calls the public functions ``process_file`` is made of
(``decode_rgb``, ``make_variants``, ``encode``, the metadata summaries) one at a time to
time them, and also gives ``ours``' pixels before encoding, which ``process_file`` does
not return; ``full_decode`` is the full-size decode alone, what the naive pipeline pays
before resizing anything.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps

LANCZOS = Image.Resampling.LANCZOS
JPEG_QUALITY = 85
STAGES = ("read+hash", "decode", "resize", "encode", "metadata")


@dataclass(frozen=True)
class Box:
    resized: int
    thumbnail: int


@dataclass
class Output:
    variants: dict[str, bytes]
    resized: np.ndarray | None = None
    stages: dict[str, float] = field(default_factory=dict)


Pipeline = Callable[[str, bool], Output]


def fit_size(size: tuple[int, int], box: int) -> tuple[int, int]:
    """Fit within ``box``×``box``, aspect kept, never enlarged (the worker's rounding)."""
    width, height = size
    scale = min(box / width, box / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def centre_square(size: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# naive Pillow


def naive(box: Box) -> Pipeline:
    def run(path: str, keep_pixels: bool) -> Output:
        with Image.open(path) as source:
            source.load()
            upright = ImageOps.exif_transpose(source)
        assert upright is not None
        full = upright.convert("RGB")
        resized = full.resize(fit_size(full.size, box.resized), LANCZOS)
        side = min(box.thumbnail, *full.size)
        thumbnail = full.resize((side, side), LANCZOS, box=centre_square(full.size))
        gray = full.convert("L").resize(fit_size(full.size, box.resized), LANCZOS)
        variants = {
            "thumbnail": _jpeg(thumbnail),
            "resized": _jpeg(resized),
            "grayscale": _jpeg(gray),
        }
        return Output(variants, np.asarray(resized) if keep_pixels else None)

    return run


# ---------------------------------------------------------------------------
# pyvips


def configure_pyvips() -> None:
    """One thread and no operation cache: otherwise run 2 would be served from run 1."""
    os.environ.setdefault("VIPS_CONCURRENCY", "1")
    import pyvips

    pyvips.cache_set_max(0)
    pyvips.cache_set_max_mem(0)
    pyvips.cache_set_max_files(0)


def pyvips_pipeline(box: Box) -> Pipeline:
    configure_pyvips()
    import pyvips

    def save(image: Any) -> bytes:
        data: bytes = image.jpegsave_buffer(Q=JPEG_QUALITY, optimize_coding=True, keep="none")
        return data

    def run(path: str, keep_pixels: bool) -> Output:
        resized = pyvips.Image.thumbnail(path, box.resized, height=box.resized, size="down")
        if resized.hasalpha():
            resized = resized.flatten(background=[255, 255, 255])
        # Materialise once: both derived variants read the resized pixels, not the file.
        resized = resized.copy_memory()
        side = min(box.thumbnail, resized.width, resized.height)
        thumbnail = resized.thumbnail_image(side, height=side, crop="centre")
        gray = resized.colourspace("b-w")
        variants = {"thumbnail": save(thumbnail), "resized": save(resized), "grayscale": save(gray)}
        pixels = None
        if keep_pixels:
            pixels = np.ndarray(
                buffer=resized.write_to_memory(),
                dtype=np.uint8,
                shape=(resized.height, resized.width, resized.bands),
            )
        return Output(variants, pixels)

    return run


# ---------------------------------------------------------------------------
# ours


def worker_settings(box: Box) -> Any:
    os.environ.setdefault("AWS_REGION", "us-east-1")
    from processing_worker.settings import Preset, WorkerSettings

    return WorkerSettings.from_env(
        resized_preset=Preset(width=box.resized, height=box.resized),
        thumbnail_preset=Preset(width=box.thumbnail, height=box.thumbnail),
        jpeg_quality=JPEG_QUALITY,
        output_format="auto",
    )


def ours(box: Box) -> Pipeline:
    from processing_worker.pipeline import process_file

    settings = worker_settings(box)
    resized_pixels = split(box)

    def run(path: str, keep_pixels: bool) -> Output:
        result = process_file(path, settings)
        variants = {name: variant.data for name, variant in result.variants.items()}
        # Only asked for outside the timed runs: process_file returns encoded bytes, and
        # the PSNR is of the pixels before encoding, as for the other pipelines.
        pixels = resized_pixels(path, True).resized if keep_pixels else None
        return Output(variants, pixels)

    return run


def split(box: Box) -> Pipeline:
    """``process_file``'s steps, each one of the worker's public functions, timed."""
    from processing_worker import decode, metadata
    from processing_worker.pipeline import decode_rgb, encode, file_digest, make_variants

    settings = worker_settings(box)
    limits = decode.Limits.from_settings(settings)

    def run(path: str, keep_pixels: bool) -> Output:
        marks = [time.perf_counter()]
        decode.check_file_size(path, limits.max_bytes)
        file_digest(path)
        marks.append(time.perf_counter())
        with decode.open_image(path, limits) as image:
            stored, exif, _ = decode_rgb(image, settings)
        marks.append(time.perf_counter())
        resized, thumb, gray = make_variants(stored, metadata.orientation_of(exif), settings)
        marks.append(time.perf_counter())
        pixels = np.asarray(resized) if keep_pixels else None
        variants = {
            "thumbnail": encode("thumbnail", thumb, settings).data,
            "resized": encode("resized", resized, settings).data,
            "grayscale": encode("grayscale", gray, settings).data,
        }
        marks.append(time.perf_counter())
        metadata.exif_summary(exif, include_gps=settings.store_gps_coordinates)
        metadata.visual_summary(resized)
        marks.append(time.perf_counter())
        stages = {name: marks[i + 1] - marks[i] for i, name in enumerate(STAGES)}
        return Output(variants, pixels, stages)

    return run


def full_decode(box: Box) -> Pipeline:
    """Full-size decode alone: what the naive pipeline pays before resizing anything."""

    def run(path: str, keep_pixels: bool) -> Output:
        with Image.open(path) as image:
            image.load()
        return Output({})

    return run


FACTORIES: dict[str, Callable[[Box], Pipeline]] = {
    "ours": ours,
    "naive": naive,
    "pyvips": pyvips_pipeline,
    "split": split,
    "full_decode": full_decode,
}
# The three compared pipelines; the others are diagnostics.
COMPARED = ("ours", "naive", "pyvips")
TIMED = (*COMPARED, "split", "full_decode")
