"""Transforms as pure functions: sizes, crops, modes, transparency, orientation."""

from __future__ import annotations

import json

import pytest
from PIL import Image, ImageChops, ImageStat

from devstack.corpus import CORPUS, MANIFEST
from processing_worker import metadata, transforms
from processing_worker.settings import Preset

THUMB = Preset(width=256, height=256)
BOX = Preset(width=1024, height=1024)


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((4000, 3000), (1024, 1024), (1024, 768)),
        ((3000, 4000), (1024, 1024), (768, 1024)),
        ((300, 200), (1024, 1024), (300, 200)),  # never enlarged
        ((10000, 10), (1024, 1024), (1024, 1)),
    ],
)
def test_fit_size(size: tuple[int, int], box: tuple[int, int], expected: tuple[int, int]) -> None:
    assert transforms.fit_size(size, box) == expected


def test_resized_fits_and_never_upscales() -> None:
    big = Image.new("RGB", (2048, 1536), "red")
    small = Image.new("RGB", (300, 200), "red")
    assert transforms.resized(big, BOX).size == (1024, 768)
    out = transforms.resized(small, BOX)
    assert out.size == (300, 200)
    assert out is not small  # a new image: callers may change it freely


def test_thumbnail_is_a_centred_square_crop() -> None:
    # Red sides, a green centre square: the crop must keep exactly the centre.
    image = Image.new("RGB", (1200, 400), "red")
    image.paste((0, 255, 0), (400, 0, 800, 400))
    thumb = transforms.thumbnail(image, THUMB)
    assert thumb.size == (256, 256)
    for corner in ((2, 2), (253, 2), (2, 253), (253, 253)):
        r, g, _ = thumb.getpixel(corner)  # type: ignore[misc]
        assert g > 240, corner
        assert r < 15, corner


def test_thumbnail_of_a_small_source_is_not_enlarged() -> None:
    thumb = transforms.thumbnail(Image.new("RGB", (100, 60)), THUMB)
    assert thumb.size == (60, 60)


def test_grayscale_mode_and_size() -> None:
    rgb = Image.new("RGB", (2000, 1000), (200, 30, 30))
    gray = transforms.grayscale(rgb, BOX)
    assert gray.mode == "L"
    assert gray.size == (1024, 512)
    rgba = Image.new("RGBA", (50, 50), (200, 30, 30, 100))
    assert transforms.grayscale(rgba, BOX).mode == "LA"


def test_transparency_is_kept_and_opaque_alpha_dropped() -> None:
    clear = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    assert transforms.to_rgb_or_rgba(clear).mode == "RGBA"
    opaque = Image.new("RGBA", (20, 20), (255, 0, 0, 255))
    assert transforms.to_rgb_or_rgba(opaque).mode == "RGB"
    palette = Image.new("P", (20, 20), 3)
    palette.info["transparency"] = 3
    assert transforms.to_rgb_or_rgba(palette).mode == "RGBA"
    assert transforms.to_rgb_or_rgba(Image.new("LA", (5, 5), (9, 0))).mode == "RGBA"


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "I", "F", "P", "L", "1", "LAB", "YCbCr"])
def test_every_mode_becomes_rgb(mode: str) -> None:
    image = Image.new(mode, (16, 16))
    out = transforms.to_rgb_or_rgba(image)
    assert out.mode == "RGB"
    assert out.size == (16, 16)


def test_wide_samples_are_stretched_not_blackened() -> None:
    # 12-bit data in a 16-bit container: /256 would make it almost black.
    image = Image.new("I;16", (4, 1))
    for x, value in enumerate((0, 1000, 2000, 4095)):
        image.putpixel((x, 0), value)
    out = transforms.to_rgb_or_rgba(image)
    values = [out.getpixel((x, 0))[0] for x in range(4)]  # type: ignore[index]
    assert values[0] == 0
    assert values[-1] == 255
    assert values == sorted(values)


def test_cmyk_white_is_white() -> None:
    out = transforms.to_rgb_or_rgba(Image.new("CMYK", (4, 4), (0, 0, 0, 0)))
    assert out.getpixel((0, 0)) == (255, 255, 255)


def test_transforms_do_not_mutate_their_input() -> None:
    image = Image.new("RGB", (600, 300), "blue")
    before = image.tobytes()
    transforms.thumbnail(image, THUMB)
    transforms.resized(image, Preset(width=100, height=100))
    transforms.grayscale(image, BOX)
    transforms.to_rgb_or_rgba(image)
    transforms.upright(image, 6)
    assert image.tobytes() == before
    assert image.size == (600, 300)


def _manifest() -> dict[str, dict[str, object]]:
    rows = json.loads(MANIFEST.read_text())
    return {row["file"]: row for row in rows}


@pytest.mark.parametrize("kind", ["Landscape", "Portrait"])
def test_every_exif_orientation_ends_upright(kind: str) -> None:
    """All nine files show the same picture; converted and turned upright as the worker
    does, they must look alike."""
    manifest = _manifest()
    reference: Image.Image | None = None
    for flag in range(9):
        name = f"orientation/{kind}_{flag}.jpg"
        with Image.open(CORPUS / name) as source:
            source.draft("RGB", (source.width // 8, source.height // 8))
            source.load()
            orientation = metadata.orientation_of(source.getexif())
            upright = transforms.upright(transforms.to_rgb_or_rgba(source), orientation)
        row = manifest[name]
        expected_ratio = int(row["display_width"]) / int(row["display_height"])  # type: ignore[call-overload]
        assert upright.width / upright.height == pytest.approx(expected_ratio, rel=0.01), name
        small = upright.resize((48, 32) if kind == "Landscape" else (32, 48))
        if reference is None:
            reference = small
            continue
        difference = ImageStat.Stat(ImageChops.difference(reference, small)).mean
        assert max(difference) < 12, (name, difference)  # sideways or mirrored is > 40
