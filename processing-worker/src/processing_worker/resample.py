"""Pillow's LANCZOS resampling, computed the same way but vectorised.

Pillow's resize is the largest part of a job's CPU time, and its vertical pass is the slow
half because it walks down the columns, one pixel and one tap at a time. These kernels
make a whole job markedly faster end to end, which is why they are kept over Pillow's own
resize (``bench/resample_vs_pillow.py`` measures both; the figures are in
docs/benchmarks/resample_vs_pillow.json). They compute exactly what Pillow computes — the
same filter, the same coefficients rounded to the same 22-bit fixed point, the same
rounding and clipping — so their output is identical to Pillow's, byte for byte (the tests
check it). What changes is the loop order: the vertical pass accumulates whole rows, which
the compiler turns into SIMD instructions; the horizontal pass is the same vertical pass
over transposed stripes. numba compiles them (once per process, cached on disk) and runs
them without the GIL.

Only ``L`` and ``RGB`` take this path; other modes (alpha is premultiplied by Pillow
first) go through Pillow itself.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from PIL import Image

log = logging.getLogger(__name__)

LANCZOS = Image.Resampling.LANCZOS

# Pillow's fixed point: 8 bits of result and 2 bits for the filter's overshoot, in 32 bits.
PRECISION_BITS = 32 - 8 - 2
# The Lanczos window: 3 lobes on each side.
SUPPORT = 3.0
# Output rows per call of a pass: the source is read in stripes of about this many rows
# (times the scale), never copied whole. For the horizontal pass a stripe is transposed:
# 64 rows × 3 channels make lines long enough to vectorise, short enough that a 4000 px
# wide stripe still fits in L2.
STRIPE_ROWS = 64
FAST_MODES = frozenset({"L", "RGB"})

UInt8Array = NDArray[np.uint8]
Int32Array = NDArray[np.int32]


def coefficients(in_size: int, out_size: int) -> tuple[Int32Array, Int32Array]:
    """Per output pixel: the first input pixel and tap count, and the fixed-point weights.

    Pillow's ``precompute_coeffs`` and ``normalize_coeffs_8bpc`` (src/libImaging/Resample.c).
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = SUPPORT * filterscale
    ksize = math.ceil(support) * 2 + 1
    bounds = np.zeros((out_size, 2), np.int32)
    weights = np.zeros((out_size, ksize), np.int32)
    taps = np.zeros(ksize, np.float64)
    inverse = 1.0 / filterscale
    one = float(1 << PRECISION_BITS)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        total = 0.0
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        for x in range(xmax):
            t = (x + xmin - center + 0.5) * inverse
            w = 0.0
            if -SUPPORT <= t < SUPPORT:
                # sinc(t) · sinc(t / 3), written out: numba compiles no calls to Python.
                w = 1.0 if t == 0.0 else math.sin(t * math.pi) / (t * math.pi)
                third = t / 3.0
                w *= 1.0 if third == 0.0 else math.sin(third * math.pi) / (third * math.pi)
            taps[x] = w
            total += w
        for x in range(xmax):
            v = taps[x] / total if total != 0.0 else taps[x]
            weights[xx, x] = int(-0.5 + v * one) if v < 0 else int(0.5 + v * one)
        bounds[xx, 0] = xmin
        bounds[xx, 1] = xmax
    return bounds, weights


def vertical_pass(
    src: UInt8Array, bounds: Int32Array, weights: Int32Array, out: UInt8Array
) -> None:
    """``src`` and ``out`` are (rows, width × channels); each output row is a weighted sum
    of source rows."""
    height = bounds.shape[0]
    row_length = src.shape[1]
    acc = np.empty(row_length, np.int32)
    half = 1 << (PRECISION_BITS - 1)
    for yy in range(height):
        ymin = bounds[yy, 0]
        for i in range(row_length):
            acc[i] = half
        for y in range(bounds[yy, 1]):
            w = weights[yy, y]
            row = src[ymin + y]
            for i in range(row_length):
                acc[i] += np.int32(row[i]) * w
        for i in range(row_length):
            v = acc[i] >> PRECISION_BITS
            out[yy, i] = 0 if v < 0 else (255 if v > 255 else v)


def rows_to_lines(src: UInt8Array, lines: UInt8Array) -> None:
    """Transpose a stripe: ``src`` (rows, width, channels) to ``lines`` (width, rows ×
    channels), one line per source column, so the horizontal pass can run as a vertical
    pass over contiguous memory."""
    rows, width, channels = src.shape
    for r in range(rows):
        row = src[r]
        for x in range(width):
            for c in range(channels):
                lines[x, r * channels + c] = row[x, c]


def lines_to_rows(lines: UInt8Array, out: UInt8Array) -> None:
    """The inverse of :func:`rows_to_lines`: ``lines`` (width, rows × channels) back to
    ``out`` (rows, width, channels)."""
    rows, width, channels = out.shape
    for r in range(rows):
        for x in range(width):
            for c in range(channels):
                out[r, x, c] = lines[x, r * channels + c]


@dataclass(frozen=True)
class Kernels:
    coefficients: Callable[[int, int], tuple[Int32Array, Int32Array]]
    vertical_pass: Callable[[UInt8Array, Int32Array, Int32Array, UInt8Array], None]
    rows_to_lines: Callable[[UInt8Array, UInt8Array], None]
    lines_to_rows: Callable[[UInt8Array, UInt8Array], None]


@cache
def kernels() -> Kernels:
    """The compiled kernels: built on first use (``warm_up`` at startup), never at import."""
    import numba

    def compile_(function: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return cast(Callable[..., Any], numba.njit(cache=True, nogil=True)(function))
        except RuntimeError as exc:
            # No writable cache directory (read-only image without NUMBA_CACHE_DIR): compile
            # in memory, every start.
            log.warning("numba cache unavailable", extra={"reason": str(exc)})
            return cast(Callable[..., Any], numba.njit(nogil=True)(function))

    return Kernels(
        coefficients=compile_(coefficients),
        vertical_pass=compile_(vertical_pass),
        rows_to_lines=compile_(rows_to_lines),
        lines_to_rows=compile_(lines_to_rows),
    )


def warm_up() -> float:
    """Compile (or load from the cache) every kernel for the types the worker uses, so
    the first job does not pay for it; returns the seconds it took."""
    started = time.perf_counter()
    for mode in sorted(FAST_MODES):
        lanczos(Image.new(mode, (8, 6)), (3, 2))  # both passes, every kernel
    return time.perf_counter() - started


Source = Image.Image | UInt8Array


def _shape(source: Source) -> tuple[int, int, int]:
    """(height, width, channels)."""
    if isinstance(source, np.ndarray):
        height, width, channels = source.shape
        return height, width, channels
    return source.height, source.width, len(source.getbands())


def _rows(source: Source, top: int, bottom: int) -> UInt8Array:
    """Rows ``top:bottom`` as a C-contiguous (rows, width, channels) array. From a Pillow
    image, only this stripe is copied out: a whole-image copy would raise the job's peak
    memory by the size of the decoded image."""
    if isinstance(source, np.ndarray):
        return source[top:bottom]
    stripe: UInt8Array = np.asarray(source.crop((0, top, source.width, bottom)))
    return stripe.reshape(bottom - top, source.width, -1)


def _resize_rows(source: Source, height: int) -> UInt8Array:
    compiled = kernels()
    in_height, width, channels = _shape(source)
    bounds, weights = compiled.coefficients(in_height, height)
    out = np.empty((height, width, channels), np.uint8)
    for first in range(0, height, STRIPE_ROWS):
        last = min(first + STRIPE_ROWS, height)
        # The source rows these output rows read: windows only move down.
        top = int(bounds[first, 0])
        bottom = int(bounds[last - 1, 0] + bounds[last - 1, 1])
        stripe = _rows(source, top, bottom).reshape(bottom - top, width * channels)
        shifted = bounds[first:last].copy()
        shifted[:, 0] -= top
        target = out[first:last].reshape(last - first, width * channels)
        compiled.vertical_pass(stripe, shifted, weights[first:last], target)
    return out


def _resize_columns(source: Source, width: int) -> UInt8Array:
    """The horizontal pass: each stripe of rows transposed, filtered by the vertical pass,
    and transposed back."""
    compiled = kernels()
    height, in_width, channels = _shape(source)
    bounds, weights = compiled.coefficients(in_width, width)
    out = np.empty((height, width, channels), np.uint8)
    for top in range(0, height, STRIPE_ROWS):
        bottom = min(top + STRIPE_ROWS, height)
        line_length = (bottom - top) * channels
        lines = np.empty((in_width, line_length), np.uint8)
        compiled.rows_to_lines(_rows(source, top, bottom), lines)
        filtered = np.empty((width, line_length), np.uint8)
        compiled.vertical_pass(lines, bounds, weights, filtered)
        compiled.lines_to_rows(filtered, out[top:bottom])
    return out


def vertical_first(size: tuple[int, int], target: tuple[int, int]) -> bool:
    """The pass order: the vertical pass first whenever both sides shrink, so that the
    horizontal one has fewer rows to filter (less work, in Pillow too); otherwise Pillow
    13's own rule for a single ``resize`` call."""
    (width, height), (out_width, out_height) = size, target
    if out_width < width and out_height < height:
        return True
    return height - out_height > 0 and height - out_height > (width - out_width) * 2


def lanczos(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """LANCZOS to ``size``: the pixels Pillow gives, pass for pass, in the order of
    :func:`vertical_first` (the two orders differ by rounding only; neither is closer to a
    full-resolution reference)."""
    if size == image.size:
        return image.copy()
    width, height = size
    first_vertical = vertical_first(image.size, size)
    if image.mode not in FAST_MODES:
        if width < image.width and height < image.height:
            image = image.resize((image.width, height), LANCZOS)
        return image.resize(size, LANCZOS)  # otherwise Pillow orders the passes itself
    if first_vertical:
        pixels = _resize_rows(image, height)
        if width != image.width:
            pixels = _resize_columns(pixels, width)
    else:
        if width != image.width:
            pixels = _resize_columns(image, width)
        else:  # only taller: the worker never enlarges, but the function is general
            pixels = _rows(image, 0, image.height)
        if height != image.height:
            pixels = _resize_rows(pixels, height)
    return Image.fromarray(pixels[:, :, 0] if image.mode == "L" else pixels)
