"""Every corpus file through the real queue: each lands where manifest.json says."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from worker_helpers import FAST, running_worker, upload, wait_terminal

from devstack.corpus import CORPUS, MANIFEST, verify
from processing_worker import decode
from processing_worker.errors import PermanentImageError
from processing_worker.pipeline import process_file
from processing_worker.settings import WorkerSettings

# Pillow warns about the corpus's damaged files (that is what they are for).
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SPECIFIC_CODES = {
    "unsupported_format",
    "corrupt_image",
    "truncated_image",
    "too_many_pixels",
    "too_many_frames",
    "file_too_large",
    "empty_file",
}


def aspect_matches(width: int, height: int, display_w: int, display_h: int) -> bool:
    """Equal aspect up to the rounding of a side to whole pixels."""
    expected = display_w / display_h
    low = max(width - 0.5, 0.5) / (height + 0.5)
    high = (width + 0.5) / max(height - 0.5, 0.5)
    return low <= expected <= high


def variant_size_problem(
    label: str, name: str, size: tuple[int, int], display: tuple[int, int]
) -> str | None:
    """What is wrong with a variant's size: a thumbnail is a square of the default 256 px
    (smaller for a smaller image); the others keep the displayed aspect."""
    if name == "thumbnail":
        side = min(256, *display)
        if size != (side, side):
            return f"{label}/thumbnail: {size}, expected {side}×{side}"
    elif not aspect_matches(*size, *display):
        return f"{label}/{name}: {size} does not follow {display}"
    return None


CHECKED: dict[str, int] = {}


def load_manifest() -> list[dict[str, Any]]:
    verify()  # a missing or changed corpus fails here, saying how to fetch it
    rows: list[dict[str, Any]] = json.loads(MANIFEST.read_text())
    return rows


def test_every_corpus_file_through_the_pipeline() -> None:
    """Every manifest file through process_file (no AWS): fast, so it always runs in full."""
    settings = WorkerSettings.from_env()
    decode.configure(settings)
    problems = []
    manifest = load_manifest()
    assert len(manifest) >= 1000, f"the manifest lists only {len(manifest)} files"
    for row in manifest:
        try:
            result = process_file(str(CORPUS / row["file"]), settings)
        except PermanentImageError as exc:
            if row["expect"] == "process":
                problems.append(f"{row['file']}: rejected with {exc.code}")
            elif exc.code not in SPECIFIC_CODES:
                problems.append(f"{row['file']}: vague code {exc.code}")
            continue
        if row["expect"] == "reject":
            problems.append(f"{row['file']}: accepted, manifest says reject")
            continue
        display = (row["display_width"], row["display_height"])
        for name, variant in result.variants.items():
            problem = variant_size_problem(
                row["file"], name, (variant.width, variant.height), display
            )
            if problem:
                problems.append(problem)
    assert problems == [], "\n".join(problems[:30])
    CHECKED["in-process sweep"] = len(manifest)


async def test_corpus_through_the_real_queue(resources_factory: Any) -> None:
    """Every corpus file through the real queue, buckets and table (~90 s here: moto and
    the worker share this process and the machine's two cores)."""
    problems = await run_shard(resources_factory, load_manifest())
    assert problems == [], "\n".join(problems[:30])


async def run_shard(resources_factory: Any, manifest: list[dict[str, Any]]) -> list[str]:
    settings, clients = await resources_factory(WorkerSettings, concurrency=3, **FAST)
    limit = asyncio.Semaphore(8)

    async def send(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        async with limit:
            data = (CORPUS / row["file"]).read_bytes()
            return await upload(clients, settings, data, Path(row["file"]).name), row

    async with running_worker(settings) as app:
        sent = dict(await asyncio.gather(*(send(row) for row in manifest)))
        records = await wait_terminal(clients, settings, sent, within=600, poll=2)
        assert app.consumer is not None
        assert app.consumer.receiving  # nothing crashed or hung the worker
    assert len(records) == len(manifest)

    async def check(image_id: str, row: dict[str, Any]) -> list[str]:
        record = records[image_id]
        name = row["file"]
        if row["expect"] == "reject":
            if record["status"] != "FAILED":
                return [f"{name}: expected FAILED, got {record['status']}"]
            if record["error"]["code"] not in SPECIFIC_CODES:
                return [f"{name}: vague error {record['error']}"]
            return []
        if record["status"] != "COMPLETED":
            return [f"{name}: expected COMPLETED, got {record.get('error')}"]
        problems = []
        display = (row["display_width"], row["display_height"])
        if (record["metadata"]["width"], record["metadata"]["height"]) != display:
            problems.append(f"{name}: metadata size {record['metadata']} != {display}")
        for variant_name, variant in record["variants"].items():
            async with limit:
                obj = await clients.s3.get_object(
                    Bucket=settings.processed_bucket, Key=variant["key"]
                )
                data = await obj["Body"].read()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                size = image.size
            if size != (variant["width"], variant["height"]):
                problems.append(f"{name}/{variant_name}: {size} != recorded size")
            problem = variant_size_problem(name, variant_name, size, display)
            if problem:
                problems.append(problem)
        return problems

    results = await asyncio.gather(*(check(i, row) for i, row in sent.items()))
    return [p for found in results for p in found]
