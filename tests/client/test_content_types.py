"""The declared content type: from the name, else from the first bytes."""

from __future__ import annotations

import pytest

from snapqueue_client.content_types import extension_for, guess_content_type, is_image_filename
from tests.client.conftest import image_bytes


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", "image/jpeg"),
        ("A.JPEG", "image/jpeg"),
        ("b.png", "image/png"),
        ("c.heic", "image/heic"),
        ("d.avif", "image/avif"),
        ("e.tif", "image/tiff"),
        ("f.svg", "image/svg+xml"),
        ("g.txt", "text/plain"),
    ],
)
def test_from_the_name(name: str, expected: str) -> None:
    assert guess_content_type(name) == expected


def test_from_the_bytes_when_there_is_no_name() -> None:
    assert guess_content_type(None, image_bytes(1, "JPEG")[:32]) == "image/jpeg"
    assert guess_content_type(None, image_bytes(1, "PNG")[:32]) == "image/png"
    assert guess_content_type(None, image_bytes(1, "GIF")[:32]) == "image/gif"
    assert guess_content_type(None, image_bytes(1, "WEBP")[:32]) == "image/webp"
    assert guess_content_type(None, b"plain text") == "application/octet-stream"


def test_image_extensions_and_back() -> None:
    assert is_image_filename("x/y/holiday.JPG")
    assert not is_image_filename("notes.txt")
    assert extension_for("image/jpeg") == ".jpg"
    assert extension_for("image/png; charset=binary") == ".png"
