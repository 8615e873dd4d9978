"""Figures of a run: throughput, latency percentiles, peak RSS per service.

Written as JSON to ``artifacts/reliability/<name>.json`` (gitignored) and printed, so
``docs/reliability.md`` can quote real numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import psutil

from devstack.stack import ROOT, Stack
from tests.reliability.harness import UploadRun, WsPool

ARTIFACTS = ROOT / "artifacts" / "reliability"
MiB = 1024 * 1024


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class RssSampler:
    """Samples each service's resident memory; follows a process across restarts."""

    def __init__(self, stack: Stack, names: Sequence[str], interval: float = 0.25) -> None:
        self.stack = stack
        self.names = list(names)
        self.interval = interval
        self.peak: dict[str, int] = dict.fromkeys(self.names, 0)
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for name in self.names:
            process = self.stack.processes[name]
            if not process.running:
                continue
            with contextlib.suppress(psutil.Error):
                rss = psutil.Process(process.pid).memory_info().rss
                self.peak[name] = max(self.peak[name], rss)

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> RssSampler:
        self.sample()
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()

    def peak_mib(self) -> dict[str, float]:
        return {name: round(value / MiB, 1) for name, value in self.peak.items()}


def run_figures(
    name: str,
    run: UploadRun,
    pool: WsPool,
    statuses: dict[str, int],
    *,
    full: bool,
    concurrency: int,
    rss: RssSampler | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The figures of one run, from end of upload to the client's first terminal event."""
    latencies = []
    ends = []
    for outcome in run.outcomes:
        if outcome.image_id is None or outcome.uploaded is None:
            continue
        first = pool.first_terminal(outcome.image_id)
        if first is not None:
            latencies.append(max(first - outcome.uploaded, 0.0) * 1000)
            ends.append(first)
    elapsed = (max(ends) - run.started) if ends else None
    # The same terminal event received twice by the same client (at-least-once delivery).
    per_client = Counter(
        (image_id, index) for image_id, seen in pool.terminal.items() for index, _, _ in seen
    )
    duplicates = sum(n - 1 for n in per_client.values())

    def ms(value: float | None) -> float | None:
        return round(value, 1) if value is not None else None

    return {
        "name": name,
        "size": "full" if full else "modest",
        "uploads": len(run.outcomes),
        "concurrency": concurrency,
        "accepted": len(run.image_ids),
        "statuses": statuses,
        "http_status_counts": dict(sorted(run.statuses.items())),
        "http_5xx": run.server_errors,
        "clients_per_image": pool.watchers,
        "terminal_events_received": sum(per_client.values()),
        "duplicate_terminal_events": duplicates,
        "ws_reconnects": pool.reconnects,
        "elapsed_seconds": round(elapsed, 2) if elapsed else None,
        # How long the uploads themselves took (presign + S3 POST), against the elapsed
        # time to the last terminal event: the difference is the backlog drained.
        "upload_phase_seconds": round(run.finished - run.started, 2),
        "throughput_images_per_second": (
            round(len(ends) / elapsed, 2) if elapsed and ends else None
        ),
        "latency_ms_upload_to_terminal": {
            "p50": ms(percentile(latencies, 0.50)),
            "p95": ms(percentile(latencies, 0.95)),
            "p99": ms(percentile(latencies, 0.99)),
            "max": ms(max(latencies) if latencies else None),
        },
        "peak_rss_mib": rss.peak_mib() if rss else {},
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra or {}),
    }


def write_figures(figures: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{figures['name']}-{figures['size']}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    if "outcomes" in figures:
        print(f"\n[{figures['name']} / {figures['size']}] {figures['outcomes']}")
        return
    latency = figures.get("latency_ms_upload_to_terminal", {})
    print(
        f"\n[{figures['name']} / {figures['size']}] uploads={figures.get('uploads')} "
        f"statuses={figures.get('statuses')} 5xx={figures.get('http_5xx')} "
        f"throughput={figures.get('throughput_images_per_second')}/s "
        f"p50={latency.get('p50')}ms p95={latency.get('p95')}ms p99={latency.get('p99')}ms "
        f"dupes={figures.get('duplicate_terminal_events')} "
        f"reconnects={figures.get('ws_reconnects')} rss={figures.get('peak_rss_mib')} "
        f"-> {path.relative_to(ROOT)}"
    )
