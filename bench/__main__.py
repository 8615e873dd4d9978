"""``python -m bench [--smoke] [--only transform,e2e,notifier,upload,emulator] [--out DIR]``.

A run writes one JSON file, ``benchmarks/results.json`` (a :class:`bench.results.BenchRun`:
machine, code revision and every benchmark's typed result), a copy of it under
``benchmarks/runs/``, and ``benchmarks.md`` with its plots rendered from it. A run with
``--only`` replaces its own sections and keeps the others from the previous results.json.
``--smoke`` runs everything at a tiny size into a temporary directory (or ``--out``);
``--report-only`` re-renders benchmarks.md from results.json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from . import machine, results
from .inputs import ensure_input
from .pipelines import Box
from .profile import FULL, SMOKE, Profile
from .results import BenchRun, Stamp, Targets

if TYPE_CHECKING:
    from devstack.stack import Stack

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("transform", "e2e", "notifier", "upload", "emulator")
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


def attempt(name: str, benchmark: Callable[[], T], failures: dict[str, str]) -> T | None:
    """Run one benchmark; a failure is recorded and the others still run."""
    try:
        return benchmark()
    except Exception as exc:
        log(f"{name} FAILED:\n{traceback.format_exc()}")
        # The first line only: the traceback and any service logs are in this run's log.
        lines = str(exc).strip().splitlines()
        failures[name] = f"{type(exc).__name__}: {lines[0] if lines else ''}"
        return None


def run_stack_benchmarks(
    selected: tuple[str, ...], profile: Profile, run: BenchRun, workdir: Path
) -> None:
    from . import notifier, upload
    from .stack_session import bench_stack

    services = tuple(
        dict.fromkeys(service for name in selected for service in SERVICES.get(name, ()))
    )
    if not services:
        return
    stamp = Stamp.of(run.machine)
    log(f"starting the embedded stack: emulator, {', '.join(services)}")
    with bench_stack(services, workdir) as stack:
        # Quick ones first; the notifier's many sockets last.
        if "upload" in selected:
            run.upload = attempt(
                "upload", lambda: upload.run(stack, profile, stamp, log), run.failures
            )
        if "e2e" in selected:
            run.e2e = attempt("e2e", lambda: _e2e(stack, profile, stamp), run.failures)
        if "notifier" in selected:
            run.notifier = attempt(
                "notifier", lambda: notifier.run(stack, profile, stamp, log), run.failures
            )


def _e2e(stack: Stack, profile: Profile, stamp: Stamp) -> results.E2EResult:
    from . import e2e

    spec = next(s for s in profile.inputs if s.name == profile.e2e_input)
    return e2e.run(
        stack,
        ensure_input(spec),
        spec.label,
        profile.e2e_levels,
        profile.e2e_uploads_per_level,
        Box(profile.resized_box, profile.thumbnail_side),
        stamp,
        log,
        profile.e2e_pinned_tabs,
        profile.e2e_pinned_rounds,
    )


def previous_run(path: Path) -> BenchRun | None:
    """The last run's results, if this code can read them."""
    if not path.exists():
        return None
    try:
        return results.load(path)
    except ValidationError as exc:
        log(f"{path} is not a results file of this version, not kept ({exc.error_count()} errors)")
        return None


def write_outputs(run: BenchRun, out_dir: Path) -> Path:
    from . import report  # matplotlib and jinja2: imported only when needed

    data = out_dir / "benchmarks"
    results.save(run, data / "results.json")
    stamp = run.machine.date.replace(" UTC", "").replace(" ", "T").replace(":", "")
    results.save(run, data / "runs" / f"{stamp}-{run.machine.git_revision[:10]}.json")
    return report.write(run, out_dir)


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

        report.write(results.load(results_path), out_dir)
        return 0
    previous = previous_run(results_path) if set(args.only) != set(BENCHMARKS) else None
    run = BenchRun(
        smoke=profile.smoke,
        machine=machine.describe(),
        targets=Targets(key_input=profile.key_input),
        seconds=0.0,
        load={"start": machine.load_average()},
    )
    if previous is not None and previous.smoke == run.smoke:
        kept = [name for name in BENCHMARKS if name not in args.only]
        run = run.model_copy(update={name: getattr(previous, name) for name in kept})
    started = time.perf_counter()

    if "transform" in args.only:
        from . import transform

        run.transform = attempt(
            "transform", lambda: transform.run(profile, Stamp.of(run.machine), log), run.failures
        )
        run.load["end of transform"] = machine.load_average()
    if "emulator" in args.only:
        from . import emulator_sqs

        run.emulator = attempt(
            "emulator",
            lambda: emulator_sqs.run(profile, Stamp.of(run.machine), log),
            run.failures,
        )
    workdir = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    run_stack_benchmarks(args.only, profile, run, workdir)
    if run.failures:
        log(f"service logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    run.load["end"] = machine.load_average()
    run.seconds = time.perf_counter() - started
    path = write_outputs(run, out_dir)
    log(f"wrote {path} and {results_path} in {run.seconds:.0f} s")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
