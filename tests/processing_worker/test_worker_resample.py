"""The vectorised LANCZOS kernels give Pillow's pixels, byte for byte."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from devstack.corpus import CORPUS
from processing_worker import resample

LANCZOS = Image.Resampling.LANCZOS


def pillow_reference(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """What the worker did with Pillow alone: both sides shrinking, two calls, the vertical
    one first; otherwise one call (Pillow orders the passes)."""
    width, height = size
    if width < image.width and height < image.height:
        image = image.resize((image.width, height), LANCZOS)
    return image.resize(size, LANCZOS)


def noise(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    bands = len(mode)
    shape = (size[1], size[0]) if bands == 1 else (size[1], size[0], bands)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def assert_same_pixels(got: Image.Image, expected: Image.Image) -> None:
    assert (got.mode, got.size) == (expected.mode, expected.size)
    difference = np.asarray(got).astype(int) - np.asarray(expected)
    assert not difference.any(), f"{np.count_nonzero(difference)} samples differ"


def random_cases(count: int) -> Iterator[tuple[str, tuple[int, int], tuple[int, int]]]:
    rng = np.random.default_rng(20261122)
    for index in range(count):
        width, height = (int(v) for v in rng.integers(1, 240, 2))
        if index % 3:  # mostly shrinking, as the worker does
            target = (int(rng.integers(1, width + 1)), int(rng.integers(1, height + 1)))
        else:
            target = (int(rng.integers(1, 320)), int(rng.integers(1, 320)))
        yield ("L", "RGB")[index % 2], (width, height), target


@pytest.mark.parametrize(("mode", "size", "target"), list(random_cases(120)))
def test_random_sizes_match_pillow(
    mode: str, size: tuple[int, int], target: tuple[int, int]
) -> None:
    image = noise(mode, size, seed=size[0] * 1000 + size[1])
    assert_same_pixels(resample.lanczos(image, target), pillow_reference(image, target))


@pytest.mark.parametrize(
    ("size", "target"),
    [
        ((1, 1), (1, 5)),  # a single pixel stretched
        ((5, 1), (1, 1)),
        ((1000, 3), (7, 1)),  # extreme shrink, taps clamped at both edges
        ((64, 64), (63, 64)),  # one side only
        ((64, 64), (64, 17)),
        ((40, 300), (120, 100)),  # wider but shorter: Pillow 13 runs vertical first
        ((300, 40), (100, 120)),  # narrower but taller: horizontal first
    ],
)
def test_edge_sizes_match_pillow(size: tuple[int, int], target: tuple[int, int]) -> None:
    for mode in ("L", "RGB"):
        image = noise(mode, size, seed=7)
        assert_same_pixels(resample.lanczos(image, target), pillow_reference(image, target))


def test_a_real_photo_matches_pillow() -> None:
    with Image.open(CORPUS / "orientation" / "Landscape_0.jpg") as source:
        photo = source.convert("RGB")
    for target in ((1024, 683), (256, 171), (1799, 1199)):
        assert_same_pixels(resample.lanczos(photo, target), pillow_reference(photo, target))
    gray = photo.convert("L")
    assert_same_pixels(resample.lanczos(gray, (600, 400)), pillow_reference(gray, (600, 400)))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "I;16", "F"])
def test_other_modes_are_left_to_pillow(mode: str) -> None:
    # Pillow premultiplies alpha and filters wide samples itself: same result, same mode.
    image = noise("RGBA", (90, 70), seed=3).convert(mode)
    for target in ((45, 35), (120, 20), (30, 140)):
        got = resample.lanczos(image, target)
        expected = pillow_reference(image, target)
        assert (got.mode, got.size) == (expected.mode, expected.size)
        assert got.tobytes() == expected.tobytes()


def test_same_size_is_a_copy() -> None:
    image = noise("RGB", (20, 10), seed=1)
    copy = resample.lanczos(image, image.size)
    assert copy is not image
    assert copy.tobytes() == image.tobytes()


@pytest.mark.parametrize(
    ("size", "target", "expected"),
    [
        ((2016, 1512), (1024, 768), True),  # both shrink: vertical first, always
        ((2016, 1512), (2016, 768), True),
        ((2016, 1512), (1024, 1512), False),
        ((40, 300), (120, 100), True),  # Pillow: height shrinks more than twice the width
        ((300, 40), (100, 120), False),
        ((100, 100), (150, 150), False),
    ],
)
def test_pass_order(size: tuple[int, int], target: tuple[int, int], expected: bool) -> None:
    assert resample.vertical_first(size, target) is expected


def test_compiled_coefficients_equal_their_python_source() -> None:
    compiled = resample.kernels()
    for in_size, out_size in ((2016, 1024), (1512, 768), (7, 300), (300, 7), (1, 1)):
        bounds, weights = resample.coefficients(in_size, out_size)
        compiled_bounds, compiled_weights = compiled.coefficients(in_size, out_size)
        assert np.array_equal(bounds, compiled_bounds)
        assert np.array_equal(weights, compiled_weights)
        # Each row's weights sum to one in fixed point, give or take the rounding of each.
        sums = weights.sum(axis=1)
        assert np.all(np.abs(sums - (1 << resample.PRECISION_BITS)) <= weights.shape[1])


def test_kernels_release_the_gil_and_warm_up_compiles_them() -> None:
    assert resample.warm_up() >= 0
    compiled = resample.kernels()
    for kernel in (compiled.vertical_pass, compiled.rows_to_lines, compiled.lines_to_rows):
        assert kernel.targetoptions["nogil"] is True
        assert kernel.signatures, "warm_up compiled nothing"


def test_without_a_writable_cache_the_kernels_compile_in_memory(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import numba

    real_njit = numba.njit

    def njit_without_cache(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("cache"):
            # What numba raises when neither the package's __pycache__, NUMBA_CACHE_DIR nor
            # the user's home can be written (a read-only container image).
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", njit_without_cache)
    resample.kernels.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=resample.__name__):
            image = noise("RGB", (50, 40), seed=5)
            assert_same_pixels(resample.lanczos(image, (20, 16)), pillow_reference(image, (20, 16)))
        assert "numba cache unavailable" in caplog.messages
    finally:
        resample.kernels.cache_clear()  # the next test gets the cached kernels again
