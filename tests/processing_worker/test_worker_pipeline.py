"""process_file end to end without AWS: variants, metadata, privacy, the JPEG fast path."""

from __future__ import annotations

import hashlib
import io
import math
import tempfile
from pathlib import Path

import fast_blurhash
import numpy as np
import pytest
from PIL import Image, ImageChops, ImageFilter, ImageOps

from devstack.corpus import CORPUS
from processing_worker import decode, metadata
from processing_worker.pipeline import process_file
from processing_worker.settings import WorkerSettings

EXIF_GPS = CORPUS / "pillow" / "exif_gps.jpg"


@pytest.fixture
def settings() -> WorkerSettings:
    built = WorkerSettings.from_env()
    decode.configure(built)
    return built


def save(tmp_path: Path, image: Image.Image, fmt: str, **params: object) -> str:
    path = tmp_path / f"source.{fmt.lower()}"
    image.save(path, fmt, **params)
    return str(path)


def photo_like(width: int, height: int) -> Image.Image:
    """Smooth gradients, texture and grain: closer to a photo than flat colour."""
    r = Image.linear_gradient("L").resize((width, height))
    g = Image.radial_gradient("L").resize((width, height))
    b = Image.effect_noise((width // 8, height // 8), 60).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    grain = Image.effect_noise((width, height), 12).convert("RGB")
    merged = Image.merge("RGB", (r, g, b))
    return ImageChops.add(merged, grain, offset=-20).filter(ImageFilter.GaussianBlur(1))


def psnr(a: Image.Image, b: Image.Image) -> float:
    histogram = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    squared = sum(count * (index % 256) ** 2 for index, count in enumerate(histogram))
    mse = squared / (a.width * a.height * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def test_no_exif_or_gps_in_any_variant(settings: WorkerSettings) -> None:
    with Image.open(EXIF_GPS) as source:
        assert source.getexif().get_ifd(0x8825)  # the source does carry GPS
    result = process_file(str(EXIF_GPS), settings)
    assert set(result.variants) == {"thumbnail", "resized", "grayscale"}
    for variant in result.variants.values():
        with Image.open(io.BytesIO(variant.data)) as image:
            assert dict(image.getexif()) == {}
            assert "exif" not in image.info
            assert "xmp" not in image.info
            assert "comment" not in image.info
        assert b"Exif\x00\x00" not in variant.data
    exif = result.metadata["exif"]
    assert exif["gpsPresent"] is True
    assert "gps" not in exif


def test_gps_coordinates_only_when_allowed(tmp_path: Path) -> None:
    exif = Image.Exif()
    gps_ifd = exif.get_ifd(0x8825)
    gps_ifd.update({1: "N", 2: (52.0, 30.0, 36.0), 3: "W", 4: (1.0, 15.0, 0.0)})
    path = save(tmp_path, Image.new("RGB", (50, 50)), "JPEG", exif=exif.tobytes())
    hidden = process_file(path, WorkerSettings.from_env()).metadata["exif"]
    assert hidden["gpsPresent"] is True
    assert "gps" not in hidden
    allowed = WorkerSettings.from_env(store_gps_coordinates=True)
    shown = process_file(path, allowed).metadata["exif"]
    assert shown["gps"] == {"lat": 52.51, "lon": -1.25}
    # exif_gps.jpg's GPS block is junk (latitude 4294967295): no coordinates from it.
    assert "gps" not in process_file(str(EXIF_GPS), allowed).metadata["exif"]


def test_metadata_fields(settings: WorkerSettings, tmp_path: Path) -> None:
    image = Image.new("RGB", (640, 480), (250, 10, 10))
    exif = Image.Exif()
    exif[0x010F] = "Snap Camera Co"
    exif[0x0110] = "Model X"
    exif[0x0112] = 6  # rotate 90°: displayed portrait
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9003] = "2024:05:06 07:08:09"
    exif_ifd[0x8827] = 200
    path = save(tmp_path, image, "JPEG", exif=exif.tobytes())
    meta = process_file(path, settings).metadata
    assert (meta["width"], meta["height"]) == (480, 640)
    assert meta["format"] == "JPEG"
    assert meta["mode"] == "RGB"
    assert meta["frames"] == 1
    assert meta["bytes"] == Path(path).stat().st_size
    assert meta["sha256"] == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    red = int(meta["dominantColor"][1:3], 16)
    assert red > 230
    assert meta["dominantColor"].startswith("#")
    assert len(meta["blurhash"]) == 28
    assert meta["exif"] == {
        "make": "Snap Camera Co",
        "model": "Model X",
        "dateTaken": "2024-05-06T07:08:09",
        "iso": 200,
        "orientation": 6,
        "gpsPresent": False,
    }


def _linear_mean(pixels: bytes) -> list[float]:
    """Mean colour in linear light, per channel (BlurHash averages there, not in sRGB)."""
    channels = np.frombuffer(pixels, np.uint8).reshape(-1, 3) / 255.0
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return [float(value) for value in linear.mean(axis=0)]


def test_blurhash_is_the_reference_hash() -> None:
    # The same 32×32 sample of Pillow's hopper.png, encoded by the reference-derived Python
    # package (blurhash 1.1.5, blurhash_encode): the SPA's decoder gets a standard hash.
    with Image.open(CORPUS / "pillow" / "hopper.png") as hopper:
        summary = metadata.visual_summary(hopper.convert("RGB"))
    assert summary["blurhash"] == "LQDlTzr95tNI%OaINfX99uXU#*xG"


def test_stored_blurhash_decodes_to_the_image(settings: WorkerSettings, tmp_path: Path) -> None:
    """4×3 components (28 characters, size flag "L"); decoded, it has the image's average
    colour, with the red left half on the left and the blue right half on the right."""
    image = Image.new("RGB", (640, 480), (200, 40, 30))
    image.paste((30, 60, 190), (320, 0, 640, 480))
    meta = process_file(save(tmp_path, image, "JPEG", quality=95), settings).metadata
    hash_ = meta["blurhash"]
    assert len(hash_) == 28
    assert hash_[0] == "L"
    decoded = fast_blurhash.decode(hash_, 32, 24)
    want = _linear_mean(image.resize((32, 24), Image.Resampling.BOX).tobytes())
    got = _linear_mean(decoded)
    assert got == pytest.approx(want, abs=0.03)
    placeholder = Image.frombytes("RGB", (32, 24), decoded)
    left, right = placeholder.getpixel((4, 12)), placeholder.getpixel((27, 12))
    assert isinstance(left, tuple)
    assert isinstance(right, tuple)
    assert left[0] > left[2] + 60
    assert right[2] > right[0] + 60


def test_alpha_gives_png_and_opaque_gives_jpeg(settings: WorkerSettings, tmp_path: Path) -> None:
    clear = Image.new("RGBA", (300, 200), (0, 128, 0, 0))
    clear.paste((0, 128, 0, 255), (100, 50, 200, 150))
    variants = process_file(save(tmp_path, clear, "PNG"), settings).variants
    assert {v.content_type for v in variants.values()} == {"image/png"}
    with Image.open(io.BytesIO(variants["resized"].data)) as resized:
        assert resized.mode == "RGBA"
        assert resized.getpixel((0, 0))[3] == 0  # type: ignore[index]
    with Image.open(io.BytesIO(variants["grayscale"].data)) as gray:
        assert gray.mode == "LA"
    opaque = process_file(save(tmp_path, Image.new("RGBA", (30, 20), "blue"), "PNG"), settings)
    assert {v.content_type for v in opaque.variants.values()} == {"image/jpeg"}


@pytest.mark.parametrize(
    ("fmt", "content_type", "pillow_format"),
    [("webp", "image/webp", "WEBP"), ("avif", "image/avif", "AVIF"), ("png", "image/png", "PNG")],
)
def test_output_format_setting(
    tmp_path: Path, fmt: str, content_type: str, pillow_format: str
) -> None:
    settings = WorkerSettings.from_env(output_format=fmt)
    result = process_file(save(tmp_path, photo_like(400, 300), "JPEG"), settings)
    for variant in result.variants.values():
        assert variant.content_type == content_type
        with Image.open(io.BytesIO(variant.data)) as image:
            assert image.format == pillow_format
            assert image.size == (variant.width, variant.height)


def test_jpeg_setting_flattens_alpha(tmp_path: Path) -> None:
    settings = WorkerSettings.from_env(output_format="jpeg")
    clear = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    result = process_file(save(tmp_path, clear, "PNG"), settings)
    with Image.open(io.BytesIO(result.variants["resized"].data)) as image:
        assert image.format == "JPEG"
        r, g, b = image.getpixel((20, 20))  # type: ignore[misc]
        assert min(r, g, b) > 245  # transparent shows as white, not black


def test_animated_input_gives_first_frame(settings: WorkerSettings, tmp_path: Path) -> None:
    frames = [Image.new("RGB", (64, 64), c) for c in ("red", "lime", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    result = process_file(str(path), settings)
    assert result.metadata["frames"] == 3
    with Image.open(io.BytesIO(result.variants["resized"].data)) as image:
        r, g, b = image.getpixel((32, 32))  # type: ignore[misc]
        assert r > 200
        assert max(g, b) < 60


@pytest.mark.parametrize(
    ("size", "decoded"),
    [
        ((4000, 3000), (2000, 1500)),  # 1/2: 1.95× is left to LANCZOS
        ((5664, 4248), (2832, 2124)),  # 1/4 would leave only 1.38×
        ((8000, 6000), (2000, 1500)),  # 1/4 leaves 1.95×
        ((1800, 1200), (1800, 1200)),  # 1/2 would be smaller than the variant
    ],
)
def test_draft_scale_leaves_lanczos_at_least_one_and_a_half(
    tmp_path: Path, size: tuple[int, int], decoded: tuple[int, int]
) -> None:
    """Decoding at 1/4 for a 1.38× resize cost the 24 MP benchmark photo 8 dB of PSNR."""
    path = save(tmp_path, Image.new("RGB", size, "teal"), "JPEG")
    assert process_file(path, WorkerSettings.from_env()).decoded_size == decoded


def test_jpeg_fast_path_is_draft_scaled_and_accurate(tmp_path: Path) -> None:
    """12 MP photo: decoded at 1/2 scale, yet within 45 dB of a full-size LANCZOS."""
    path = save(tmp_path, photo_like(4000, 3000), "JPEG", quality=92)
    # PNG output, so the comparison measures the decode and resize, not JPEG re-encoding.
    lossless = WorkerSettings.from_env(output_format="png")
    result = process_file(path, lossless)
    assert result.decoded_size == (2000, 1500)  # not 4000×3000
    # The metadata describes the upload, not the scale it was decoded at.
    assert (result.metadata["width"], result.metadata["height"]) == (4000, 3000)
    with Image.open(path) as full:
        reference = full.convert("RGB").resize((1024, 768), Image.Resampling.LANCZOS)
    with Image.open(io.BytesIO(result.variants["resized"].data)) as resized:
        assert resized.size == (1024, 768)
        assert psnr(resized, reference) >= 45


def test_draft_decoded_rotated_photo_reports_its_upright_source_size(
    settings: WorkerSettings, tmp_path: Path
) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # a phone portrait: stored landscape, shown portrait
    path = save(tmp_path, photo_like(4000, 3000), "JPEG", quality=90, exif=exif.tobytes())
    result = process_file(path, settings)
    assert result.decoded_size == (2000, 1500)
    assert (result.metadata["width"], result.metadata["height"]) == (3000, 4000)
    assert (result.variants["resized"].width, result.variants["resized"].height) == (768, 1024)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("shape", ["Landscape", "Portrait"])
def test_every_orientation_comes_out_upright(shape: str, orientation: int) -> None:
    """The variants are resized in stored orientation and turned upright afterwards: they
    must show what a viewer shows (Pillow's exif_transpose of the full image)."""
    path = CORPUS / "orientation" / f"{shape}_{orientation}.jpg"
    settings = WorkerSettings.from_env(output_format="png")
    result = process_file(str(path), settings)
    with Image.open(path) as source:
        viewed = ImageOps.exif_transpose(source.convert("RGB"))
    assert (result.metadata["width"], result.metadata["height"]) == viewed.size
    for name in ("resized", "thumbnail"):
        variant = result.variants[name]
        with Image.open(io.BytesIO(variant.data)) as image:
            produced = image.convert("RGB")
        if name == "resized":
            expected = viewed.resize(produced.size, Image.Resampling.LANCZOS)
        else:
            expected = ImageOps.fit(viewed, produced.size, Image.Resampling.LANCZOS)
        assert psnr(produced, expected) > 30, (name, psnr(produced, expected))


def test_an_open_file_gives_what_its_path_gives(settings: WorkerSettings) -> None:
    """The worker hands over its in-memory download; the benchmarks and large uploads a
    path. Same bytes in, same variants and metadata out."""
    from_path = process_file(str(EXIF_GPS), settings)
    with tempfile.SpooledTemporaryFile(max_size=1 << 24) as spool:
        spool.write(EXIF_GPS.read_bytes())
        from_memory = process_file(spool, settings)
    assert from_memory.metadata == from_path.metadata
    assert {name: v.data for name, v in from_memory.variants.items()} == {
        name: v.data for name, v in from_path.variants.items()
    }
