"""Labels every corpus file with stock Pillow + pillow-heif, into the committed manifest.

``process``: stock Pillow opens it as a format the worker accepts, decodes every frame within
the worker's default pixel and frame limits. ``reject``: anything else. ``display_width`` /
``display_height`` are the size after EXIF orientation. Run ``python -m devstack.label_corpus``
after a corpus or Pillow upgrade and review the diff of ``devstack/corpus_manifest.json``.
"""

from __future__ import annotations

import json
import struct
import warnings

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from devstack.corpus import CORPUS, MANIFEST, fetch

ACCEPTED = {"JPEG", "MPO", "PNG", "GIF", "WEBP", "AVIF", "HEIF", "TIFF", "BMP"}
MAX_PIXELS = 50_000_000
MAX_FRAMES = 1000


def label(path_name: str) -> dict[str, object]:
    row: dict[str, object] = {"file": path_name, "expect": "reject", "format": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(CORPUS / path_name) as image:
                row["format"] = image.format
                frames = getattr(image, "n_frames", 1)
                row["frames"] = frames
                if image.format not in ACCEPTED or image.width * image.height > MAX_PIXELS:
                    return row
                if frames > MAX_FRAMES:
                    return row
                image.load()
                upright = ImageOps.exif_transpose(image)
                row["display_width"], row["display_height"] = upright.size
    except (
        OSError,
        UnidentifiedImageError,
        ValueError,
        SyntaxError,
        EOFError,
        NotImplementedError,
        TypeError,
        IndexError,
        KeyError,
        struct.error,
        ZeroDivisionError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        return row
    row["expect"] = "process"
    return row


def main() -> None:
    fetch()
    pillow_heif.register_heif_opener()
    names = sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.name not in {"LICENSE", "corpus.json"}
    )
    rows = [label(name) for name in names]
    MANIFEST.write_text(json.dumps(rows, indent=1) + "\n")
    processed = sum(1 for r in rows if r["expect"] == "process")
    print(f"{MANIFEST}: {len(rows)} files, {processed} process, {len(rows) - processed} reject")


if __name__ == "__main__":
    main()
