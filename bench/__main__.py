"""``python -m bench [--smoke] [--only transform,e2e,notifier,upload] [--out DIR]``.

A full run writes docs/benchmarks.md, its plots and results.json; a run with ``--only``
updates its own sections and keeps the others from the previous results.json. ``--smoke``
runs everything at a tiny size into a temporary directory (or ``--out``).
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import machine
from .inputs import ensure_input
from .pipelines import Box
from .profile import FULL, SMOKE, Profile

if TYPE_CHECKING:
    from devstack.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("transform", "e2e", "notifier", "upload")
SERVICES = {
    "e2e": ("upload", "notifier", "worker"),
    "notifier": ("notifier",),
    "upload": ("upload",),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, into a temp dir")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help="comma-separated: " + ", ".join(BENCHMARKS)
    )
    parser.add_argument("--out", type=Path, help="where benchmarks.md goes (default docs/)")
    parser.add_argument(
        "--report-only", action="store_true", help="re-render benchmarks.md from results.json"
    )
    args = parser.parse_args(argv)
    args.only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return args


def run_stack_benchmarks(
    selected: tuple[str, ...], profile: Profile, results: dict[str, Any], workdir: Path
) -> None:
    from . import e2e, notifier, upload
    from .stack_session import bench_stack

    services = tuple(
        dict.fromkeys(service for name in selected for service in SERVICES.get(name, ()))
    )
    if not services:
        return
    spec = next(s for s in profile.inputs if s.name == profile.e2e_input)
    box = Box(profile.resized_box, profile.thumbnail_side)
    benchmarks: dict[str, Callable[[Stack], dict[str, Any]]] = {
        "upload": lambda stack: upload.run(stack, profile, log),
        "e2e": lambda stack: e2e.run(
            stack,
            ensure_input(spec),
            profile.e2e_levels,
            profile.e2e_uploads_per_level,
            box,
            log,
            profile.e2e_pinned_tabs,
            profile.e2e_pinned_rounds,
        ),
        "notifier": lambda stack: notifier.run(stack, profile, log),
    }
    log(f"starting the embedded stack: emulator, {', '.join(services)}")
    with bench_stack(services, workdir) as stack:
        # Quick ones first; the notifier's 10k sockets last.
        for name, benchmark in benchmarks.items():
            if name in selected:
                attempt(name, functools.partial(benchmark, stack), results)


def attempt(name: str, benchmark: Callable[[], dict[str, Any]], results: dict[str, Any]) -> None:
    """Run one benchmark; a failure is recorded and the others still run."""
    try:
        results[name] = benchmark()
    except Exception as exc:
        log(f"{name} FAILED:\n{traceback.format_exc()}")
        results.pop(name, None)
        results.setdefault("failures", {})[name] = repr(exc)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = SMOKE if args.smoke else FULL
    out_dir: Path = args.out or (
        Path(tempfile.mkdtemp(prefix="bench-smoke-")) if args.smoke else ROOT / "docs"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "benchmarks" / "results.json"
    if args.report_only:
        from . import report

        previous = json.loads(results_path.read_text())
        report.write(previous, out_dir, profile.key_input, previous["smoke"])
        return 0
    results: dict[str, Any] = {}
    if results_path.exists() and set(args.only) != set(BENCHMARKS):
        results = json.loads(results_path.read_text())
    results.pop("failures", None)
    results["machine"] = machine.describe()
    results["smoke"] = profile.smoke
    loads: dict[str, list[float]] = {"start": machine.load_average()}
    started = time.perf_counter()

    if "transform" in args.only:
        from . import transform

        attempt("transform", lambda: transform.run(profile, log), results)
        loads["end of transform"] = machine.load_average()
    workdir = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    run_stack_benchmarks(args.only, profile, results, workdir)
    if results.get("failures"):
        log(f"service logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    for name in args.only:
        if name in results:
            results[name]["measured_at"] = results["machine"]["date"]
    loads["end"] = machine.load_average()
    results["load"] = loads
    results["seconds"] = time.perf_counter() - started

    results_path.parent.mkdir(parents=True, exist_ok=True)
    # Insertion order, so a re-render from this file reads like the run that wrote it.
    results_path.write_text(json.dumps(results, indent=1))
    from . import report  # matplotlib: imported only when needed

    path = report.write(results, out_dir, profile.key_input, profile.smoke)
    log(f"wrote {path} in {results['seconds']:.0f} s")
    return 1 if results.get("failures") else 0


if __name__ == "__main__":
    sys.exit(main())
