"""The report's plots, one PNG per benchmark, from the typed results."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen first
from matplotlib.figure import Figure

from .results import MIB, BenchRun, E2EResult, NotifierResult, TransformResult, UploadResult

PIPELINE_LABELS = {"ours": "SnapQueue", "naive": "naive Pillow", "pyvips": "pyvips"}
TRANSFORM_STAGES = ("read+hash", "decode", "resize", "encode", "metadata")
E2E_STAGES = ("queue wait", "download", "thread wait", "transform", "upload", "record", "notify")
DPI = 110


def ordered(keys: Iterable[str], order: tuple[str, ...]) -> list[str]:
    """``keys`` in the report's order, unknown ones last (a new stage still shows up)."""
    present = list(keys)
    return [k for k in order if k in present] + [k for k in present if k not in order]


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def transform(results: TransformResult, path: Path) -> None:
    inputs = results.inputs
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.25
    for index, name in enumerate(PIPELINE_LABELS):
        xs = [i + (index - 1) * width for i in range(len(inputs))]
        ax.bar(xs, [row.ms(name) for row in inputs], width, label=PIPELINE_LABELS[name])
    decodes = [row.ms("full_decode") for row in inputs]
    ax.scatter(
        range(len(inputs)), decodes, marker="_", s=600, color="black", label="full-size decode"
    )
    ax.set_xticks(range(len(inputs)), [row.label for row in inputs], fontsize=8)
    ax.set_ylabel("ms per image (median, one core)")
    ax.set_title("Transform: three variants per image")
    ax.legend()
    _save(fig, path)


def stages(results: TransformResult, path: Path) -> None:
    inputs = results.inputs
    fig, ax = plt.subplots(figsize=(8, 3.5))
    lefts = [0.0] * len(inputs)
    for stage in ordered(inputs[0].stages_s, TRANSFORM_STAGES):
        values = [row.stages_s[stage] * 1000 for row in inputs]
        ax.barh(range(len(inputs)), values, left=lefts, label=stage)
        lefts = [b + v for b, v in zip(lefts, values, strict=True)]
    ax.set_yticks(range(len(inputs)), [row.label for row in inputs], fontsize=8)
    ax.set_xlabel("ms per image (median of each stage)")
    ax.set_title("Where SnapQueue's transform time goes")
    ax.legend(fontsize=8)
    _save(fig, path)


def e2e(results: E2EResult, path: Path) -> None:
    levels = results.levels
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    xs = [row.concurrency for row in levels]
    for pct in ("p50", "p95", "p99"):
        left.plot(xs, [getattr(row.latency_ms, pct) for row in levels], marker="o", label=pct)
    left.set_xlabel("concurrent uploads")
    left.set_ylabel("ms, end of upload → WebSocket event")
    left.set_title("End-to-end latency")
    left.legend()
    bottoms = [0.0] * len(levels)
    labels = [str(x) for x in xs]
    for stage in ordered(levels[0].stages_s, E2E_STAGES):
        values = [row.stages_s[stage] * 1000 for row in levels]
        right.bar(labels, values, bottom=bottoms, label=stage)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    right.set_xlabel("concurrent uploads")
    right.set_ylabel("ms per image (mean)")
    right.set_title("Worker stages")
    right.legend(fontsize=8)
    _save(fig, path)


def notifier(results: NotifierResult, path: Path) -> None:
    idle = results.idle
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([row.connections for row in idle], [row.rss_bytes / MIB for row in idle], marker="o")
    ax.axhline(idle[0].baseline_bytes / MIB, linestyle="--", color="grey", label="baseline")
    ax.set_xlabel("idle WebSocket connections")
    ax.set_ylabel("notifier RSS (MiB)")
    ax.set_title("One notifier replica")
    ax.legend()
    _save(fig, path)


def upload(results: UploadResult, path: Path) -> None:
    names = list(results.targets)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(names, [results.targets[name].rps for name in names])
    ax.set_ylabel(f"requests/s at {results.clients} clients")
    ax.set_title("POST /upload-request")
    _save(fig, path)


def write_all(run: BenchRun, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if run.transform is not None:
        transform(run.transform, directory / "transform.png")
        stages(run.transform, directory / "transform_stages.png")
    if run.e2e is not None:
        e2e(run.e2e, directory / "e2e.png")
    if run.notifier is not None:
        notifier(run.notifier, directory / "notifier.png")
    if run.upload is not None:
        upload(run.upload, directory / "upload.png")
