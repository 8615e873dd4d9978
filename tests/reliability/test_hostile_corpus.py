"""The shared corpus through the real stack: every file ends as ``manifest.json`` says.

Each file goes the browser's way (presigned POST, WebSocket registration) with a declared
type taken from its real format; files of no accepted format are declared ``image/png``, so
it is the worker's sniffing, not the declared type, that must refuse them.

Modest: a deterministic sample of 60 files, half of them ``reject``. ``--full``: all
of them (the worker's own tests also run the full corpus in-process).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from devstack.corpus import CORPUS, MANIFEST
from devstack.stack import Stack
from snapqueue_core.schemas import ImageRecord
from tests.reliability.figures import write_figures
from tests.reliability.harness import (
    ALLOWED_ORIGIN,
    Inspector,
    UploadItem,
    WsPool,
    pool_size,
    run_uploads,
    tails,
)
from tests.reliability.invariants import settle, summarize

MODEST_SAMPLE = 60
DECLARED_TYPE = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
}
GENERIC_CODES = {"failed", "processing_failed", "internal_error", "processing_failed_repeatedly"}


def corpus_sample(full: bool) -> list[dict[str, Any]]:
    manifest: list[dict[str, Any]] = json.loads(MANIFEST.read_text())
    if full:
        return manifest

    def spread(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(entries, key=lambda e: hashlib.sha256(e["file"].encode()).hexdigest())

    rejects = spread([e for e in manifest if e["expect"] == "reject"])
    processed = spread([e for e in manifest if e["expect"] == "process"])
    half = MODEST_SAMPLE // 2
    return rejects[:half] + processed[: MODEST_SAMPLE - min(half, len(rejects))]


def upload_item(entry: dict[str, Any]) -> UploadItem:
    return UploadItem(
        payload=(CORPUS / entry["file"]).read_bytes(),
        content_type=DECLARED_TYPE.get(entry.get("format") or "", "image/png"),
        filename=Path(entry["file"]).name,
        label=entry["file"],
    )


def aspect_problem(entry: dict[str, Any], width: int, height: int) -> str | None:
    """The resized variant keeps the displayed aspect ratio (orientation applied), ±1 px."""
    dw, dh = entry["display_width"], entry["display_height"]
    if abs(width * dh - height * dw) > max(dw, dh):
        return f"resized {width}×{height}, displayed {dw}×{dh}"
    return None


async def variant_problems(
    inspector: Inspector, entry: dict[str, Any], record: ImageRecord, names: tuple[str, ...]
) -> list[str]:
    problems = []
    for name in names:
        variant = record.variants[name]
        data = await inspector.get_object(inspector.settings.processed_bucket, variant.key)
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.size != (variant.width, variant.height):
                problems.append(
                    f"{name} is {image.size}, recorded {variant.width}×{variant.height}"
                )
        if len(data) != variant.bytes:
            problems.append(f"{name} has {len(data)} bytes, recorded {variant.bytes}")
    return problems


@pytest.mark.timeout(900)
async def test_corpus_through_the_pipeline(stack: Stack, full_size: bool) -> None:
    entries = corpus_sample(full_size)
    items = [upload_item(e) for e in entries]
    async with (
        Inspector(stack) as inspector,
        WsPool(stack.ws_url, pool_size(len(items)), origin=ALLOWED_ORIGIN) as pool,
    ):
        run = await run_uploads(stack.url("upload"), pool, items, concurrency=10)
        assert run.server_errors == 0, run.statuses
        expect = {e["file"]: e["expect"] for e in entries}
        # A reject may also be refused up front (an empty file: size 0), with a 4xx.
        refused = [
            o
            for o in run.failures()
            if expect[o.item.label] == "reject" and 400 <= (o.request_status or 0) < 500
        ]
        unexpected = [(o.item.label, o.error) for o in run.failures() if o not in refused]
        assert not unexpected, unexpected[:10]
        settled = await settle(
            inspector,
            pool,
            run.image_ids,
            events_within=600 if full_size else 180,
            records_within=15,
        )
        problems = list(settled.problems)
        by_file = {o.item.label: settled.records[o.image_id] for o in run.outcomes if o.image_id}
        names = ("resized",) if full_size else ("thumbnail", "resized", "grayscale")
        for entry in entries:
            record = by_file.get(entry["file"])
            if record is None:
                continue  # reported by settle()
            where = f"{entry['file']} ({entry['expect']})"
            status = record.status.value
            if entry["expect"] == "process":
                if status != "COMPLETED":
                    problems.append(f"{where}: {status} {record.error}")
                    continue
                resized = record.variants["resized"]
                if issue := aspect_problem(entry, resized.width, resized.height):
                    problems.append(f"{where}: {issue}")
                thumbnail = record.variants["thumbnail"]
                if thumbnail.width != thumbnail.height:
                    problems.append(f"{where}: thumbnail {thumbnail.width}×{thumbnail.height}")
                for issue in await variant_problems(inspector, entry, record, names):
                    problems.append(f"{where}: {issue}")
            elif status == "FAILED":
                if record.error is None or record.error.code in GENERIC_CODES:
                    problems.append(f"{where}: FAILED without a specific reason: {record.error}")
            elif entry["decodes"] is False:
                # The README lets the pipeline accept more formats (an ICO, say), but a
                # file Pillow cannot decode must never come out COMPLETED.
                problems.append(f"{where}: {status}, expected FAILED")

    outcomes = Counter(
        f"{e['expect']} -> "
        + (
            f"{r.status.value}" + (f" {r.error.code}" if r.error else "")
            if (r := by_file.get(e["file"])) is not None
            else "refused up front"
        )
        for e in entries
    )
    write_figures(
        {
            "name": "corpus",
            "size": "full" if full_size else "modest",
            "files": len(entries),
            "outcomes": dict(sorted(outcomes.items())),
        }
    )
    assert not settled.missing, (
        f"{len(settled.missing)} clients never got a terminal event\n{tails(stack)}"
    )
    assert not problems, summarize(problems) + "\n" + tails(stack)
    assert stack.processes["worker"].running
