"""Every way a file can be refused maps to a specific code, before pixels are decoded."""

from __future__ import annotations

import contextlib
import io
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from devstack.corpus import CORPUS
from processing_worker import decode
from processing_worker.decode import Source
from processing_worker.errors import PermanentImageError
from processing_worker.pipeline import process_file
from processing_worker.settings import WorkerSettings


@pytest.fixture
def settings() -> WorkerSettings:
    built = WorkerSettings.from_env()
    decode.configure(built)
    return built


@pytest.fixture(params=["path", "memory"])
def write(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[bytes], Source]]:
    """Every refusal both ways a file reaches the pipeline: a path (the benchmarks, a
    spooled upload too big for memory) or the worker's in-memory download."""
    with contextlib.ExitStack() as opened:

        def make(data: bytes) -> Source:
            if request.param == "memory":
                spool = opened.enter_context(tempfile.SpooledTemporaryFile(len(data) + 1))
                spool.write(data)
                return spool
            path = tmp_path / "upload"
            path.write_bytes(data)
            return str(path)

        yield make


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A few dozen bytes whose header claims a huge image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def refusal(source: Source, settings: WorkerSettings) -> PermanentImageError:
    with pytest.raises(PermanentImageError) as caught:
        process_file(source, settings)
    assert caught.value.message  # always something a user can read
    return caught.value


def test_bomb_is_refused_from_its_header(
    settings: WorkerSettings, write: Callable[[bytes], Source]
) -> None:
    data = bomb_png(100_000, 100_000)
    assert len(data) < 200
    error = refusal(write(data), settings)
    assert error.code == "too_many_pixels"


def test_pixel_cap_is_a_setting(write: Callable[[bytes], Source]) -> None:
    small_cap = WorkerSettings.from_env(max_pixels=1000)
    error = refusal(write(encoded(Image.new("RGB", (40, 40)), "PNG")), small_cap)
    assert error.code == "too_many_pixels"
    assert "40×40" in error.message


def test_frame_cap(write: Callable[[bytes], Source]) -> None:
    frames = [Image.new("RGB", (8, 8), (i * 50, 0, 0)) for i in range(5)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    error = refusal(write(data), WorkerSettings.from_env(max_frames=3))
    assert error.code == "too_many_frames"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated(settings: WorkerSettings, write: Callable[[bytes], Source], fmt: str) -> None:
    noisy = Image.effect_noise((300, 300), 80).convert("RGB")
    data = encoded(noisy, fmt)
    error = refusal(write(data[: len(data) // 2]), settings)
    assert error.code == "truncated_image"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        b"just some text, not an image\n",
        (CORPUS / "pillow" / "hopper.ico").read_bytes(),
        encoded(Image.new("RGB", (8, 8)), "PPM"),
    ],
    ids=["pdf", "svg", "text", "ico", "ppm"],
)
def test_unsupported_formats(
    settings: WorkerSettings, write: Callable[[bytes], Source], data: bytes
) -> None:
    error = refusal(write(data), settings)
    assert error.code == "unsupported_format"
    assert "JPEG" in error.message


def test_corrupt_data_behind_a_valid_signature(
    settings: WorkerSettings, write: Callable[[bytes], Source]
) -> None:
    error = refusal(write(b"\x89PNG\r\n\x1a\n" + b"\x13" * 200), settings)
    assert error.code == "corrupt_image"


def test_empty_and_oversized_files(write: Callable[[bytes], Source]) -> None:
    settings = WorkerSettings.from_env(max_upload_bytes=1000)
    assert refusal(write(b""), settings).code == "empty_file"
    big = encoded(Image.effect_noise((200, 200), 80), "PNG")
    assert refusal(write(big), settings).code == "file_too_large"


def test_format_comes_from_content_not_name(settings: WorkerSettings, tmp_path: Path) -> None:
    path = tmp_path / "holiday.gif"  # a PNG in disguise
    path.write_bytes(encoded(Image.new("RGB", (10, 10)), "PNG"))
    assert process_file(str(path), settings).metadata["format"] == "PNG"


def test_pillow_pixel_limit_is_set_at_configure_not_import() -> None:
    before = Image.MAX_IMAGE_PIXELS
    try:
        decode.configure(WorkerSettings.from_env(max_pixels=1234))
        assert Image.MAX_IMAGE_PIXELS == 1234
    finally:
        Image.MAX_IMAGE_PIXELS = before


def test_heif_opener_is_registered(settings: WorkerSettings) -> None:
    assert "HEIF" in Image.OPEN
