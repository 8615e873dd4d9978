"""The transform benchmark: ours against naive Pillow and pyvips, one pinned core.

For each input: one ``time`` child runs every pipeline interleaved (median of the runs),
one ``rss`` child per pipeline gives its peak RSS increase in a fresh process, and the
resized variants' pixels are compared with a full-resolution LANCZOS reference.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from PIL import Image, ImageOps

from .inputs import CACHE, ensure_input
from .pipelines import COMPARED, JPEG_QUALITY, TIMED, Box, fit_size
from .profile import InputSpec, Profile
from .results import PipelineTimes, Stamp, TransformInput, TransformResult
from .stats import median

ROOT = Path(__file__).resolve().parent.parent


def pick_cpu() -> int:
    """The least busy core we may run on right now."""
    allowed = sorted(os.sched_getaffinity(0))
    load = psutil.cpu_percent(interval=0.5, percpu=True)
    return min(allowed, key=lambda cpu: (load[cpu] if cpu < len(load) else 0.0, -cpu))


def _child(args: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    env = {**os.environ, "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1")}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.transform_child", json.dumps(args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"transform child failed ({args['mode']}):\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def reference(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Full decode, upright, LANCZOS straight to ``size``: the quality reference."""
    with Image.open(path) as source:
        source.load()
        upright = ImageOps.exif_transpose(source)
    assert upright is not None
    return np.asarray(upright.convert("RGB").resize(size, Image.Resampling.LANCZOS))


def psnr(candidate: np.ndarray, ref: np.ndarray) -> float:
    """PSNR in dB over all channels; ``inf`` for identical pixels."""
    if candidate.ndim == 3 and candidate.shape[2] == 1:
        candidate = candidate[:, :, 0]
    if candidate.shape != ref.shape:
        raise ValueError(f"shape {candidate.shape} != reference {ref.shape}")
    mse = float(np.mean((candidate.astype(np.float64) - ref.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


# The RSS children warm each pipeline on a tiny image, made for a box smaller still: the
# image is then resized too, so every step (the resize kernels included) has run once,
# and the warm-up leaves next to no memory behind to flatter the measured run.
WARMUP_SIZE = (64, 48)
WARMUP_BOX = Box(resized=16, thumbnail=8)


def _warmup_input(spec: InputSpec) -> Path:
    """A plain image of the same format, to warm a pipeline before its RSS is measured."""
    extension = spec.filename.rsplit(".", 1)[1]
    width, height = WARMUP_SIZE
    path = CACHE / f"warmup-{spec.format.lower()}-{width}x{height}.{extension}"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", WARMUP_SIZE, (120, 130, 140)).save(path, spec.format)
    return path


def bench_input(spec: InputSpec, profile: Profile, cpu: int) -> TransformInput:
    path = ensure_input(spec)
    box = {"resized": profile.resized_box, "thumbnail": profile.thumbnail_side}
    with tempfile.TemporaryDirectory(prefix="bench-pixels-") as pixels_dir:
        timing = _child(
            {
                "mode": "time",
                "cpu": cpu,
                "box": box,
                "input": str(path),
                "pipelines": list(TIMED),
                "runs": profile.transform_runs,
                "pixels_dir": pixels_dir,
            }
        )
        quality: dict[str, float | None] = {}
        refs: dict[tuple[int, int], np.ndarray] = {}
        for name in COMPARED:
            pixels = np.load(Path(pixels_dir) / f"{name}.npy")
            size = (pixels.shape[1], pixels.shape[0])
            if size not in refs:
                refs[size] = reference(path, size)
            value = psnr(pixels, refs[size])
            quality[name] = None if math.isinf(value) else round(value, 2)
    rss = {}
    for name in COMPARED:
        result = _child(
            {
                "mode": "rss",
                "cpu": cpu,
                "box": box,
                "input": str(path),
                "pipeline": name,
                "warmup_input": str(_warmup_input(spec)),
                "warmup_box": {"resized": WARMUP_BOX.resized, "thumbnail": WARMUP_BOX.thumbnail},
            }
        )
        rss[name] = int(result["increase"])
    stages = {
        stage: median([run[stage] for run in timing["stages"]]) for stage in timing["stages"][0]
    }
    with Image.open(path) as image:
        width, height = image.size
    return TransformInput(
        input=spec.name,
        label=spec.label,
        width=width,
        height=height,
        bytes=path.stat().st_size,
        output_size=fit_size((width, height), profile.resized_box),
        runs=profile.transform_runs,
        times={name: PipelineTimes(runs_s=runs) for name, runs in timing["times"].items()},
        psnr_db=quality,
        rss_increase_bytes=rss,
        stages_s=stages,
    )


def run(profile: Profile, measured: Stamp, log: Any = print) -> TransformResult:
    cpu = pick_cpu()
    log(f"transform: pinned to CPU {cpu}, {profile.transform_runs} runs per pipeline")
    inputs = []
    for spec in profile.inputs:
        log(f"transform: {spec.label}")
        inputs.append(bench_input(spec, profile, cpu))
    return TransformResult(
        measured=measured,
        cpu=cpu,
        resized_box=profile.resized_box,
        thumbnail_side=profile.thumbnail_side,
        jpeg_quality=JPEG_QUALITY,
        rss_warmup_size=WARMUP_SIZE,
        rss_warmup_box=WARMUP_BOX.resized,
        inputs=inputs,
    )
