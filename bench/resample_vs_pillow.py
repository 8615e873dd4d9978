"""The worker's numba LANCZOS kernels against Pillow's own resize, on 12 and 24 MP JPEGs.

``python -m bench.resample_vs_pillow [--runs 7] [--out docs/benchmarks/resample_vs_pillow.json]``

Every candidate runs the worker's whole :func:`processing_worker.pipeline.process_file`
(size check, digest, DCT-scaled decode, the three variants, encode, metadata); only the
function the variants are resized with is swapped (``transforms.downscale``), so the
difference measured is the resize kernel's and nothing else:

- ``numba``: ``resample.lanczos`` as the worker used it (vertical pass first, byte for
  byte Pillow's LANCZOS). Taken from the worker if it still has it, otherwise from
  ``--numba-source`` (a git revision that had ``resample.py``); needs numba installed;
- ``pillow``: one ``Image.resize(..., LANCZOS, box=..., reducing_gap=2.0)`` call: Pillow
  orders the passes itself and shrinks by whole factors first (``reduce``) where at least
  twice the scale is left;
- ``pillow_gap3``: the same with ``reducing_gap=3.0``;
- ``pillow_vfirst``: two Pillow calls, the vertical pass first (the order ``numba`` uses);
- ``worker``: whatever ``transforms.downscale`` is in this checkout, unpatched.

Measured, in child processes pinned to the least busy core:

- time: median of ``--runs`` runs per candidate and input, candidates alternated (their
  order rotates each round) so that load from other processes hits all of them alike; the
  variants step (``make_variants`` on the decoded image) is timed the same way;
- quality: PSNR of each variant (before JPEG encoding) against a float reference: the
  full-resolution decode, upright, resized per channel in Pillow's 32-bit float mode with
  LANCZOS and no reducing gap (the grayscale reference is the ITU-R 601 luma of it);
- memory: peak RSS of a fresh process that imports the worker, warms the candidate up and
  processes the input three times, and how much of it the jobs added;
- start-up: the numba path's import and first-call (JIT) cost with an empty numba cache,
  then the same with the cache it left.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image, ImageOps, features

from .inputs import ensure_input
from .profile import FULL, InputSpec

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks" / "resample_vs_pillow.json"
INPUTS = ("jpeg-12mp", "jpeg-24mp")
CANDIDATES = ("numba", "pillow", "pillow_gap3", "pillow_vfirst", "worker")
# The last revision whose worker resized with the numba kernels.
NUMBA_SOURCE = "2c0cecdc64c130b56a332bb73a3fdd8cafaf1b37"
RESAMPLE_PATH = "processing-worker/src/processing_worker/resample.py"
LANCZOS = Image.Resampling.LANCZOS
# The rule the comparison decides by: the kernel stays only if it saves this much.
KEEP_IF_FASTER_BY = 0.25

Box = tuple[int, int, int, int]
Downscale = Callable[[Image.Image, tuple[int, int], Box | None], Image.Image]


# candidates


def load_numba_resample(source: str) -> ModuleType | None:
    """The worker's resample module, or the one at git revision ``source``; ``None``
    without numba."""
    if importlib.util.find_spec("numba") is None:
        return None
    try:
        return importlib.import_module("processing_worker.resample")
    except ImportError:
        pass
    text = subprocess.run(
        ["git", "show", f"{source}:{RESAMPLE_PATH}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # numba caches compiled kernels next to their source: a stable folder keeps the cache.
    folder = Path(tempfile.gettempdir()) / f"bench-numba-resample-{source[:12]}"
    folder.mkdir(exist_ok=True)
    path = folder / "numba_resample.py"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    spec = importlib.util.spec_from_file_location("numba_resample", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def pillow_downscale(gap: float) -> Downscale:
    def downscale(image: Image.Image, size: tuple[int, int], box: Box | None = None) -> Image.Image:
        return image.resize(size, LANCZOS, box=box, reducing_gap=gap)

    return downscale


def pillow_vertical_first(
    image: Image.Image, size: tuple[int, int], box: Box | None = None
) -> Image.Image:
    source = image.crop(box) if box is not None else image
    if size[0] < source.width and size[1] < source.height:
        source = source.resize((source.width, size[1]), LANCZOS)
    return source.resize(size, LANCZOS)


def numba_downscale(resample: ModuleType) -> Downscale:
    def downscale(image: Image.Image, size: tuple[int, int], box: Box | None = None) -> Image.Image:
        source = image.crop(box) if box is not None else image
        result: Image.Image = resample.lanczos(source, size)
        return result

    return downscale


def candidates(names: list[str], numba_source: str) -> dict[str, Downscale | None]:
    """name -> downscale function (``None``: the worker's own, unpatched)."""
    built: dict[str, Downscale | None] = {}
    for name in names:
        if name == "numba":
            resample = load_numba_resample(numba_source)
            if resample is None:
                continue
            resample.warm_up()  # as the worker did at startup
            built[name] = numba_downscale(resample)
        elif name == "pillow":
            built[name] = pillow_downscale(2.0)
        elif name == "pillow_gap3":
            built[name] = pillow_downscale(3.0)
        elif name == "pillow_vfirst":
            built[name] = pillow_vertical_first
        elif name == "worker":
            built[name] = None
    return built


@contextmanager
def resizing_with(downscale: Downscale | None) -> Iterator[None]:
    from processing_worker import transforms

    original = transforms.downscale
    if downscale is not None:
        transforms.downscale = downscale  # type: ignore[assignment]
    try:
        yield
    finally:
        transforms.downscale = original  # type: ignore[assignment]


def worker_settings() -> Any:
    os.environ.setdefault("AWS_REGION", "us-east-1")
    from processing_worker import decode
    from processing_worker.settings import WorkerSettings

    settings = WorkerSettings.from_env()
    decode.configure(settings)
    return settings


# child processes


def pin_to(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def child_time(args: dict[str, Any]) -> dict[str, Any]:
    from processing_worker import decode, metadata
    from processing_worker.pipeline import decode_rgb, make_variants, process_file

    pin_to(args["cpu"])
    settings = worker_settings()
    built = candidates(args["candidates"], args["numba_source"])
    names = list(built)
    results: dict[str, Any] = {}
    for path in args["inputs"]:
        with decode.open_image(path, decode.Limits.from_settings(settings)) as image:
            stored, exif, _ = decode_rgb(image, settings)
        orientation = metadata.orientation_of(exif)
        for name in names:  # one untimed run each: file cache, allocator, first-call costs
            with resizing_with(built[name]):
                process_file(path, settings)
        totals: dict[str, list[float]] = {name: [] for name in names}
        variants: dict[str, list[float]] = {name: [] for name in names}
        for run in range(args["runs"]):
            shift = run % len(names)
            for name in names[shift:] + names[:shift]:
                with resizing_with(built[name]):
                    started = time.perf_counter()
                    process_file(path, settings)
                    totals[name].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    make_variants(stored, orientation, settings)
                    variants[name].append(time.perf_counter() - started)
        results[path] = {"process_file_s": totals, "make_variants_s": variants}
    return {"candidates": names, "results": results}


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child_rss(args: dict[str, Any]) -> dict[str, Any]:
    from processing_worker.pipeline import process_file

    pin_to(args["cpu"])
    settings = worker_settings()
    built = candidates([args["candidate"]], args["numba_source"])
    if args["candidate"] not in built:
        return {"skipped": True}
    warmup = Path(tempfile.gettempdir()) / "bench-resample-warmup.jpg"
    Image.new("RGB", (640, 480), (120, 130, 140)).save(warmup, "JPEG")
    with resizing_with(built[args["candidate"]]):
        process_file(str(warmup), settings)
        idle = _rss_kib("VmRSS")
        try:  # reset the high-water mark, so the peak below is the jobs' own
            Path("/proc/self/clear_refs").write_text("5")
            reset = True
        except OSError:
            reset = False  # then the peak may include the imports' and warm-up's
        for _ in range(3):
            process_file(args["input"], settings)
        peak = _rss_kib("VmHWM")
    return {
        "idle_kib": idle,
        "peak_kib": peak,
        "increase_kib": max(0, peak - idle),
        "peak_reset": reset,
    }


def child_startup(args: dict[str, Any]) -> dict[str, Any]:
    """Import and first call of the numba kernels (the cache folder is the parent's)."""
    pin_to(args["cpu"])
    started = time.perf_counter()
    resample = load_numba_resample(args["numba_source"])
    if resample is None:
        return {"skipped": True}
    loaded = time.perf_counter()
    import numba  # noqa: F401  (resample imports it on first use; timed apart here)

    imported = time.perf_counter()
    warm_up_s = resample.warm_up()
    return {
        "load_module_s": round(loaded - started, 4),
        "import_numba_s": round(imported - loaded, 4),
        "compile_or_load_kernels_s": round(warm_up_s, 4),
        "total_s": round(time.perf_counter() - started, 4),
        "rss_after_mib": round(_rss_kib("VmRSS") / 1024, 1),
    }


def child_baseline(args: dict[str, Any]) -> dict[str, Any]:
    """RSS of a process with the worker's pipeline imported and no numba."""
    pin_to(args["cpu"])
    from processing_worker import pipeline  # noqa: F401

    worker_settings()
    return {"rss_after_mib": round(_rss_kib("VmRSS") / 1024, 1)}


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "time": child_time,
    "rss": child_rss,
    "startup": child_startup,
    "baseline": child_baseline,
}


def run_child(args: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.resample_vs_pillow", "--child", json.dumps(args)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"child {args['mode']} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# quality


def float_resize(image: Image.Image, size: tuple[int, int], box: Any = None) -> np.ndarray:
    """(h, w, channels) float64 LANCZOS of ``image`` without 8-bit rounding between passes."""
    channels = [
        np.asarray(band.convert("F").resize(size, LANCZOS, box=box, reducing_gap=None))
        for band in image.split()
    ]
    return np.stack(channels, axis=2).astype(np.float64)


def psnr(candidate: Image.Image, reference: np.ndarray) -> float:
    pixels = np.asarray(candidate, dtype=np.float64)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    ideal = np.clip(reference, 0, 255)
    if pixels.shape != ideal.shape:
        raise ValueError(f"shape {pixels.shape} != reference {ideal.shape}")
    mse = float(np.mean((pixels - ideal) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def thumbnail_box(resized: tuple[int, int], full: tuple[int, int]) -> tuple[float, ...]:
    """The worker's thumbnail crop of the resized variant, in full-resolution pixels."""
    width, height = resized
    side = min(width, height)  # the default thumbnail preset is square
    left, top = (width - side) // 2, (height - side) // 2
    sx, sy = full[0] / width, full[1] / height
    return (left * sx, top * sy, (left + side) * sx, (top + side) * sy)


def quality(path: str, names: list[str], numba_source: str) -> dict[str, dict[str, float]]:
    from processing_worker import decode, metadata
    from processing_worker.pipeline import decode_rgb, make_variants

    settings = worker_settings()
    built = candidates(names, numba_source)
    with Image.open(path) as source:
        source.load()
        upright = ImageOps.exif_transpose(source).convert("RGB")
    made: dict[str, tuple[Image.Image, Image.Image, Image.Image]] = {}
    for name, downscale in built.items():
        with decode.open_image(path, decode.Limits.from_settings(settings)) as image:
            stored, exif, _ = decode_rgb(image, settings)
        with resizing_with(downscale):
            made[name] = make_variants(stored, metadata.orientation_of(exif), settings)
    resized, thumb, _ = next(iter(made.values()))
    ref_resized = float_resize(upright, resized.size)
    ref_thumb = float_resize(upright, thumb.size, thumbnail_box(resized.size, upright.size))
    luma = np.array([0.299, 0.587, 0.114])
    ref_gray = (ref_resized @ luma)[:, :, None]
    return {
        name: {
            "resized": round(psnr(r, ref_resized), 2),
            "thumbnail": round(psnr(t, ref_thumb), 2),
            "grayscale": round(psnr(g, ref_gray), 2),
        }
        for name, (r, t, g) in made.items()
    }


# the parent


def pick_cpu() -> int | None:
    """The least busy core this process may run on."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    import psutil

    allowed = sorted(os.sched_getaffinity(0))
    load = psutil.cpu_percent(interval=0.5, percpu=True)
    return min(allowed, key=lambda cpu: load[cpu] if cpu < len(load) else 0.0)


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """What the figures were measured on (kept here, apart from the main benchmark's)."""
    cpu = platform.processor() or "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "libjpeg": f"libjpeg-turbo {features.version('libjpeg_turbo')}"
        if features.check_feature("libjpeg_turbo")
        else str(features.version("jpg")),
        **{name: _version(name) for name in ("pillow", "numpy", "numba", "llvmlite")},
    }


def git_revision() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def spec_named(name: str) -> InputSpec:
    return next(spec for spec in FULL.inputs if spec.name == name)


def log(message: str) -> None:
    print(f"[resample {time.strftime('%H:%M:%S')}] {message}", flush=True)


def startup(cpu: int | None, numba_source: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-numba-cache-") as cache:
        # NUMBA_CACHE_DIR, as in the worker's image: an empty one is a cold start.
        env = {"NUMBA_CACHE_DIR": cache}
        cold = run_child({"mode": "startup", "cpu": cpu, "numba_source": numba_source}, env)
        warm = run_child({"mode": "startup", "cpu": cpu, "numba_source": numba_source}, env)
    baseline = run_child({"mode": "baseline", "cpu": cpu})
    return {"cache_cold": cold, "cache_warm": warm, "without_numba": baseline}


def summarise(
    names: list[str], timing: dict[str, Any], inputs: dict[str, str]
) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for spec_name, path in inputs.items():
        result = timing["results"][path]
        summary[spec_name] = {
            "process_file_median_ms": {
                n: round(median(result["process_file_s"][n]) * 1000, 2) for n in names
            },
            "make_variants_median_ms": {
                n: round(median(result["make_variants_s"][n]) * 1000, 2) for n in names
            },
            "process_file_runs_ms": {
                n: [round(s * 1000, 2) for s in result["process_file_s"][n]] for n in names
            },
        }
    return summary


def decide(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Whether the numba path is at least ``KEEP_IF_FASTER_BY`` faster end to end than the
    best Pillow candidate, on every input: in images per second (Pillow's time over
    numba's, minus one); the share of Pillow's time it saves is given beside it."""
    saving: dict[str, float] = {}
    speedup: dict[str, float] = {}
    best: dict[str, str] = {}
    for spec_name, entry in summary.items():
        medians = entry["process_file_median_ms"]
        if "numba" not in medians:
            return {"decided": False, "reason": "numba is not installed"}
        pillow = {n: v for n, v in medians.items() if n.startswith("pillow")}
        best[spec_name] = min(pillow, key=pillow.__getitem__)
        saving[spec_name] = round(1 - medians["numba"] / pillow[best[spec_name]], 3)
        speedup[spec_name] = round(pillow[best[spec_name]] / medians["numba"] - 1, 3)
    keep = all(value >= KEEP_IF_FASTER_BY for value in speedup.values())
    return {
        "decided": True,
        "rule": f"keep numba only if >= {KEEP_IF_FASTER_BY:.0%} faster per image end to end",
        "numba_faster_than_best_pillow": speedup,
        "numba_time_saved_vs_best_pillow": saving,
        "best_pillow_candidate": best,
        "keep_numba": keep,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--numba-source", default=NUMBA_SOURCE)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        request = json.loads(args.child)
        print(json.dumps(CHILDREN[request["mode"]](request)))
        return

    names = [name for name in args.candidates.split(",") if name]
    cpu = pick_cpu()
    inputs = {name: str(ensure_input(spec_named(name))) for name in INPUTS}
    load_start = load_average()
    log(f"pinned to CPU {cpu}; inputs ready; load {load_start}")
    timing = run_child(
        {
            "mode": "time",
            "cpu": cpu,
            "inputs": list(inputs.values()),
            "candidates": names,
            "runs": args.runs,
            "numba_source": args.numba_source,
        }
    )
    measured = timing["candidates"]
    log(f"timed {measured}; load {load_average()}")
    summary = summarise(measured, timing, inputs)
    for spec_name, path in inputs.items():
        summary[spec_name]["psnr_db"] = quality(path, measured, args.numba_source)
        with Image.open(path) as image:
            summary[spec_name]["size"] = list(image.size)
        summary[spec_name]["bytes"] = Path(path).stat().st_size
        summary[spec_name]["peak_rss"] = {}
        for name in measured:
            rss = run_child(
                {
                    "mode": "rss",
                    "cpu": cpu,
                    "input": path,
                    "candidate": name,
                    "numba_source": args.numba_source,
                }
            )
            summary[spec_name]["peak_rss"][name] = {
                key.replace("_kib", "_mib"): round(value / 1024, 1)
                if key.endswith("_kib")
                else value
                for key, value in rss.items()
            }
        log(f"{spec_name}: quality and memory measured")
    report = {
        "benchmark": "bench/resample_vs_pillow.py",
        "machine": {
            **machine(),
            "load_average_start": load_start,
            "load_average_end": load_average(),
            "pinned_cpu": cpu,
        },
        "platform": platform.platform(),
        "git": git_revision(),
        "numba_source": args.numba_source,
        "runs": args.runs,
        "units": {"time": "ms", "psnr": "dB", "rss": "MiB"},
        "inputs": summary,
        "numba_startup": startup(cpu, args.numba_source) if "numba" in measured else None,
        "decision": decide(summary),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    for spec_name, entry in summary.items():
        log(f"{spec_name}: process_file {entry['process_file_median_ms']}")
        log(f"{spec_name}: make_variants {entry['make_variants_median_ms']}")
        log(f"{spec_name}: psnr {entry['psnr_db']}")
        log(f"{spec_name}: rss {entry['peak_rss']}")
    log(f"decision: {report['decision']}")


if __name__ == "__main__":
    main()
