"""BlurHash (https://blurha.sh) encoder: a ~30-character placeholder of an image.

The algorithm is Wolt's reference: a few cosine components of the linear-light image,
quantised and written in base 83. Fed a tiny downsample (32×32), it costs about a millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"

_SRGB_TO_LINEAR = [
    (v / 255) / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4
    for v in range(256)
]


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - i - 1)) % 83] for i in range(length))


def _linear_to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _sign_pow(value: float, exponent: float) -> float:
    return math.copysign(abs(value) ** exponent, value)


def encode(
    pixels: Sequence[tuple[int, int, int]],
    width: int,
    height: int,
    x_components: int = 4,
    y_components: int = 3,
) -> str:
    """The BlurHash of ``width × height`` sRGB ``pixels`` (row-major)."""
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("components must be between 1 and 9")
    if len(pixels) != width * height or width < 1 or height < 1:
        raise ValueError("pixels do not match width × height")
    linear = [tuple(_SRGB_TO_LINEAR[c] for c in pixel) for pixel in pixels]
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(x_components)]
    cos_y = [
        [math.cos(math.pi * j * y / height) for y in range(height)] for j in range(y_components)
    ]
    # The cosine basis is separable: sum each row against cos_x once, then the row sums
    # against cos_y, instead of a full pass over the pixels per component (3× fewer
    # multiplications for 4×3 components).
    row_sums: list[list[tuple[float, float, float]]] = []
    for y in range(height):
        row = linear[y * width : (y + 1) * width]
        sums = []
        for i in range(x_components):
            r = g = b = 0.0
            for cx, (pr, pg, pb) in zip(cos_x[i], row, strict=True):
                r += cx * pr
                g += cx * pg
                b += cx * pb
            sums.append((r, g, b))
        row_sums.append(sums)
    factors: list[tuple[float, float, float]] = []
    for j in range(y_components):
        for i in range(x_components):
            norm = (1.0 if i == 0 and j == 0 else 2.0) / (width * height)
            r = g = b = 0.0
            for cy, sums in zip(cos_y[j], row_sums, strict=True):
                sr, sg, sb = sums[i]
                r += cy * sr
                g += cy * sg
                b += cy * sb
            factors.append((r * norm, g * norm, b * norm))

    dc, ac = factors[0], factors[1:]
    result = _base83((x_components - 1) + (y_components - 1) * 9, 1)
    if ac:
        actual_max = max(abs(v) for factor in ac for v in factor)
        quantised_max = int(max(0, min(82, math.floor(actual_max * 166 - 0.5))))
        maximum = (quantised_max + 1) / 166
        result += _base83(quantised_max, 1)
    else:
        maximum = 1.0
        result += _base83(0, 1)
    r, g, b = (_linear_to_srgb(v) for v in dc)
    result += _base83((r << 16) + (g << 8) + b, 4)
    for factor in ac:
        qr, qg, qb = (
            int(max(0, min(18, math.floor(_sign_pow(v / maximum, 0.5) * 9 + 9.5)))) for v in factor
        )
        result += _base83(qr * 19 * 19 + qg * 19 + qb, 2)
    return result
