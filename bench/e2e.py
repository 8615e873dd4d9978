"""The end-to-end benchmark: browser-like uploads through the embedded stack.

Each simulated tab asks the upload-service for a presigned POST, registers the imageId
on the notifier's WebSocket, uploads the file straight to S3 (the emulator) and waits
for the terminal event; tabs upload one image after another (a closed loop), at a few
concurrency levels. Latency is from the end of the upload to the event. The worker's
Prometheus histograms, scraped before and after each level, give the stage breakdown.

The same run measures transform-only throughput: ``process_file`` on the same file in a
thread pool as large as the worker's, with no AWS at all. The difference is the
pipeline's overhead (queueing, S3, DynamoDB, SQS, notifications, Python I/O).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from devstack.stack import Stack

from . import affinity
from .pipelines import Box, worker_settings
from .stats import summary_ms

STAGES = ("download", "thread_wait", "transform", "upload", "record", "notify")
TERMINAL = ("imageProcessed", "imageFailed")
SCRAPED = (
    "snapqueue_worker_stage_seconds_sum",
    "snapqueue_worker_stage_seconds_count",
    "snapqueue_worker_queue_lag_seconds_sum",
    "snapqueue_worker_queue_lag_seconds_count",
    "snapqueue_worker_jobs_total",
    "snapqueue_worker_transform_cpu_seconds_total",
    "snapqueue_worker_transform_threads",
    "snapqueue_worker_job_slots",
    "snapqueue_worker_aws_requests_total",
)
TRANSFORM_CPU = "snapqueue_worker_transform_cpu_seconds_total"
AWS_REQUESTS = re.compile(
    r'^snapqueue_worker_aws_requests_total\{operation="(?P<operation>[^"]+)",'
    r'service="(?P<service>[^"]+)"\}$'
)


def scrape(worker_url: str) -> dict[str, float]:
    """The worker's stage and queue-lag histogram sums and counts."""
    text = httpx.get(worker_url + "/metrics", timeout=10).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        if name.startswith(SCRAPED):
            values[name] = float(value)
    return values


def stage_breakdown(
    before: dict[str, float], after: dict[str, float], images: int
) -> dict[str, float]:
    """Mean seconds per image spent in each stage during one level."""

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    stages = {}
    lag_count = delta("snapqueue_worker_queue_lag_seconds_count")
    stages["queue wait"] = (
        delta("snapqueue_worker_queue_lag_seconds_sum") / lag_count if lag_count else 0.0
    )
    for stage in STAGES:
        # Per image, not per call: notify runs twice per image (progress, terminal).
        stages[stage.replace("_", " ")] = delta(
            f'snapqueue_worker_stage_seconds_sum{{stage="{stage}"}}'
        ) / max(1, images)
    return stages


def requests_per_image(
    before: dict[str, float], after: dict[str, float], images: int
) -> dict[str, float]:
    """The worker's AWS requests per image during one level, as "service Operation"."""
    per_image = {}
    for name, value in after.items():
        match = AWS_REQUESTS.match(name)
        if match:
            count = value - before.get(name, 0.0)
            if count > 0:
                per_image[f"{match['service']} {match['operation']}"] = count / max(1, images)
    return per_image


class Tab:
    """A browser tab: one WebSocket, one upload at a time."""

    def __init__(self, http: httpx.AsyncClient, socket: ClientConnection, upload_url: str) -> None:
        self.http = http
        self.socket = socket
        self.upload_url = upload_url

    async def frame(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await self.socket.recv())
        return message

    async def upload(self, data: bytes, filename: str) -> dict[str, Any]:
        began = time.perf_counter()
        ticket_response = await self.http.post(
            self.upload_url + "/upload-request",
            json={"filename": filename, "contentType": "image/jpeg", "size": len(data)},
        )
        if ticket_response.status_code != 201:
            raise RuntimeError(
                f"upload-request: {ticket_response.status_code} {ticket_response.text}"
            )
        ticket = ticket_response.json()
        image_id = ticket["imageId"]
        await self.socket.send(json.dumps({"action": "registerImage", "imageId": image_id}))
        while (await self.frame())["type"] != "registered":
            pass
        upload_start = time.perf_counter()
        response = await self.http.post(
            ticket["upload"]["url"],
            data=ticket["upload"]["fields"],
            files={"file": (filename, data, "image/jpeg")},
        )
        if response.status_code not in (200, 201, 204):
            raise RuntimeError(f"S3 POST: {response.status_code} {response.text[:300]}")
        uploaded = time.perf_counter()
        while True:
            frame = await self.frame()
            if frame.get("imageId") == image_id and frame["type"] in TERMINAL:
                break
        done = time.perf_counter()
        return {
            "imageId": image_id,
            "ok": frame["type"] == "imageProcessed",
            "request_s": upload_start - began,
            "upload_s": uploaded - upload_start,
            "latency_s": done - uploaded,
            "done_at": done,
        }


async def run_level(stack: Stack, data: bytes, concurrency: int, uploads: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(limits=limits, timeout=120) as http:
        sockets = [
            await connect(stack.ws_url, ping_interval=None, compression=None)
            for _ in range(concurrency)
        ]
        tabs = [Tab(http, socket, stack.url("upload")) for socket in sockets]
        remaining = uploads
        results: list[dict[str, Any]] = []

        async def drive(tab: Tab) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                results.append(await tab.upload(data, "bench.jpg"))

        start = time.perf_counter()
        await asyncio.gather(*(drive(tab) for tab in tabs))
        elapsed = time.perf_counter() - start
        await asyncio.gather(*(socket.close() for socket in sockets))
    latencies = [r["latency_s"] for r in results]
    return {
        "concurrency": concurrency,
        "uploads": len(results),
        "failed": sum(1 for r in results if not r["ok"]),
        "seconds": elapsed,
        "images_per_s": steady_rate(sorted(r["done_at"] for r in results)),
        "overall_images_per_s": len(results) / elapsed,
        "latency_ms": summary_ms(latencies),
        "upload_ms": summary_ms([r["upload_s"] for r in results]),
        "request_ms": summary_ms([r["request_s"] for r in results]),
    }


def steady_rate(done_at: list[float], trim: float = 0.1) -> float:
    """Completions per second between the first and last ``trim`` of completions.

    A closed loop starts with an empty pipeline (the first result needs a whole
    latency) and ends draining it (the last tabs wait alone): both are the benchmark's
    edges, not the pipeline's rate, and would cost a 10 s level several percent.
    """
    n = len(done_at)
    first, last = int(n * trim), n - 1 - int(n * trim)
    if last - first < 2:
        return n / max(done_at[-1] - done_at[0], 1e-9) if n > 1 else 0.0
    return (last - first) / (done_at[last] - done_at[first])


def transform_only(path: Path, threads: int, images: int, box: Box) -> dict[str, Any]:
    """``process_file`` on the same file, ``threads`` at a time: the pipeline's ceiling."""
    from processing_worker.pipeline import process_file

    settings = worker_settings(box)
    process_file(str(path), settings)  # warm-up
    with ThreadPoolExecutor(max_workers=threads) as pool:
        start = time.perf_counter()
        list(pool.map(lambda _: process_file(str(path), settings), range(images)))
        elapsed = time.perf_counter() - start
    return {
        "threads": threads,
        "images": images,
        "seconds": elapsed,
        "images_per_s": images / elapsed,
    }


def cpu_by_process(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of every stack process and of this one (the load generator)."""
    used = {
        name: affinity.cpu_seconds(process.pid)
        for name, process in stack.processes.items()
        if process.running
    }
    # This process alone: its children are the stack's processes, counted above.
    used["load generator"] = affinity.cpu_seconds(os.getpid(), children=False)
    return used


def measure_level(stack: Stack, data: bytes, tabs: int, uploads: int) -> dict[str, Any]:
    """One closed-loop level, with the worker's stage means and every process's CPU."""
    worker_url = stack.url("worker")
    before, cpu_before = scrape(worker_url), cpu_by_process(stack)
    row = asyncio.run(run_level(stack, data, tabs, uploads))
    cpu_after = cpu_by_process(stack)
    after = scrape(worker_url)
    row["stages_s"] = stage_breakdown(before, after, row["uploads"])
    row["aws_requests_per_image"] = requests_per_image(before, after, row["uploads"])
    # The worker's own CPU split: its transform threads, the rest is its event loop's I/O.
    row["transform_cpu_ms_per_image"] = (
        1000
        * (after.get(TRANSFORM_CPU, 0.0) - before.get(TRANSFORM_CPU, 0.0))
        / max(1, row["uploads"])
    )
    row["worker_threads"] = int(after.get("snapqueue_worker_transform_threads", 0))
    row["worker_job_slots"] = int(after.get("snapqueue_worker_job_slots", 0))
    row["cpu_ms_per_image"] = {
        name: 1000 * (cpu_after[name] - cpu_before.get(name, 0.0)) / max(1, row["uploads"])
        for name in cpu_after
    }
    return row


def pinned_run(
    stack: Stack,
    path: Path,
    data: bytes,
    tabs: int,
    uploads: int,
    box: Box,
    images: int,
    rounds: int = 1,
) -> dict[str, Any]:
    """The worker alone on one core, everything else (emulator, upload-service, notifier,
    this load generator) on the others; the transform-only ceiling on the worker's core.

    On AWS the emulator's work is done by S3, SQS and DynamoDB, not by the worker's CPUs:
    this isolates what the pipeline itself costs. The worker is restarted pinned, so its
    defaults see one CPU (one Pillow thread and its job slots), as in a 1-vCPU task.

    The machine's speed drifts by several percent within a minute, so there are
    ``rounds`` levels, each compared with the transform-only runs just before and after
    it; the round with the median overhead is reported, with all rounds alongside.
    """
    cpus = sorted(affinity.all_cpus())
    worker_cpus, other_cpus = {cpus[-1]}, set(cpus[:-1])
    worker = stack.processes["worker"]
    worker.stop()
    worker.cpus = worker_cpus
    worker.start()
    worker.wait_healthy(120)
    others = [p for name, p in stack.processes.items() if name != "worker" and p.running]
    for process in others:
        affinity.pin_process_tree(process.pid, other_cpus)
    ceilings: list[float] = []
    measured: list[dict[str, Any]] = []
    try:
        with affinity.this_thread_on(worker_cpus):
            ceilings.append(transform_only(path, 1, images, box)["images_per_s"])
        for _ in range(max(1, rounds)):
            with affinity.this_thread_on(other_cpus):
                row = measure_level(stack, data, tabs, uploads)
            with affinity.this_thread_on(worker_cpus):
                ceilings.append(transform_only(path, 1, images, box)["images_per_s"])
            ceiling = sum(ceilings[-2:]) / 2
            row["transform_only"] = {
                "threads": 1,
                "images": images,
                "runs_images_per_s": ceilings[-2:],
                "images_per_s": ceiling,
            }
            row["overhead_pct"] = 100 * (1 - row["images_per_s"] / ceiling)
            measured.append(row)
    finally:
        everywhere = set(cpus)
        for process in [*others, worker]:
            affinity.pin_process_tree(process.pid, everywhere)
        worker.cpus = None
    median = sorted(measured, key=lambda r: r["overhead_pct"])[(len(measured) - 1) // 2]
    return {
        **median,
        "worker_cpu": sorted(worker_cpus),
        "other_cpus": sorted(other_cpus),
        "rounds": [
            {
                "images_per_s": r["images_per_s"],
                "transform_only_images_per_s": r["transform_only"]["images_per_s"],
                "overhead_pct": r["overhead_pct"],
                "worker_cpu_ms": r["cpu_ms_per_image"].get("worker"),
                "transform_cpu_ms": r.get("transform_cpu_ms_per_image"),
                "io_share_pct": io_share_pct(r),
                "aws_requests_per_image": sum(r.get("aws_requests_per_image", {}).values()),
            }
            for r in measured
        ],
    }


def io_share_pct(row: dict[str, Any]) -> float | None:
    """The share of the worker's CPU that is not its transform, both over the same level:
    the overhead its core would show if nothing else held it back (drift-free, since both
    were measured in the same seconds)."""
    worker_ms = row["cpu_ms_per_image"].get("worker")
    transform_ms = row.get("transform_cpu_ms_per_image")
    if not worker_ms or not transform_ms:
        return None
    return 100 * (1 - float(transform_ms) / float(worker_ms))


def run(
    stack: Stack,
    path: Path,
    levels: tuple[int, ...],
    uploads_per_level: int,
    box: Box,
    log: Any = print,
    pinned_tabs: int | None = None,
    pinned_rounds: int = 1,
) -> dict[str, Any]:
    data = path.read_bytes()
    from processing_worker.settings import usable_cpus

    # The worker's pool: its concurrency setting, and that setting's own default.
    threads = int(stack.env.get("SNAPQUEUE_CONCURRENCY", usable_cpus()))
    images = max(8, uploads_per_level // 2)
    # A few uploads first, not measured: services finish starting (imports, botocore's
    # models, connection pools) before anything is timed, the ceiling included.
    asyncio.run(run_level(stack, data, 2, min(6, uploads_per_level)))
    before_levels = transform_only(path, threads, images, box)
    log(f"e2e: transform only, {threads} threads: {before_levels['images_per_s']:.2f} images/s")
    rows = []
    for concurrency in levels:
        row = measure_level(stack, data, concurrency, uploads_per_level)
        rows.append(row)
        log(
            f"e2e: {concurrency} concurrent: {row['images_per_s']:.2f} images/s, "
            f"p50 {row['latency_ms']['p50']:.0f} ms, p99 {row['latency_ms']['p99']:.0f} ms"
        )
    # The machine's load drifts: the ceiling is measured before and after the levels.
    after_levels = transform_only(path, threads, images, box)
    log(f"e2e: transform only again: {after_levels['images_per_s']:.2f} images/s")
    baseline = {
        "threads": threads,
        "images": images,
        "runs_images_per_s": [before_levels["images_per_s"], after_levels["images_per_s"]],
        "images_per_s": (before_levels["images_per_s"] + after_levels["images_per_s"]) / 2,
    }
    best = max(rows, key=lambda r: r["images_per_s"])
    pinned = None
    if pinned_tabs and affinity.available():
        # Twice the uploads: this is the figure the target is judged on.
        pinned = pinned_run(
            stack, path, data, pinned_tabs, 2 * uploads_per_level, box, images, pinned_rounds
        )
        each = ", ".join(f"{r['overhead_pct']:.0f}%" for r in pinned["rounds"])
        log(
            f"e2e: worker on its own core: {pinned['images_per_s']:.2f} images/s against "
            f"{pinned['transform_only']['images_per_s']:.2f} transform-only, overhead "
            f"{pinned['overhead_pct']:.0f}% (median of rounds: {each})"
        )
    return {
        "pinned": pinned,
        "input_bytes": len(data),
        "worker_threads": threads,
        "transform_only": baseline,
        "levels": rows,
        "best_images_per_s": best["images_per_s"],
        "overhead_pct": 100 * (1 - best["images_per_s"] / baseline["images_per_s"]),
    }
