"""One transform measurement in a fresh, pinned process: ``python -m bench.transform_child JSON``.

``time`` interleaves the pipelines run by run (so a burst of load on the shared machine
hits all of them alike) and saves each one's resized pixels for the PSNR check. ``rss``
runs one pipeline once after warming it on a tiny image of the same format and reports
how far the run raised the process's peak RSS.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .pipelines import FACTORIES, Box


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def measure_time(args: dict[str, Any]) -> dict[str, Any]:
    box = Box(**args["box"])
    path = args["input"]
    names: list[str] = args["pipelines"]
    pipelines = {name: FACTORIES[name](box) for name in names}
    pixels_dir = Path(args["pixels_dir"])
    for name, run in pipelines.items():
        output = run(path, True)  # warm-up, and the pixels for PSNR
        if output.resized is not None:
            np.save(pixels_dir / f"{name}.npy", output.resized)
        run(path, False)
    times: dict[str, list[float]] = {name: [] for name in names}
    stages: list[dict[str, float]] = []
    for index in range(args["runs"]):
        # Rotate the order so no pipeline always runs right after the same neighbour.
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            start = time.perf_counter()
            output = pipelines[name](path, False)
            times[name].append(time.perf_counter() - start)
            if output.stages:
                stages.append(output.stages)
    return {"times": times, "stages": stages}


def measure_rss(args: dict[str, Any]) -> dict[str, Any]:
    factory = FACTORIES[args["pipeline"]]
    # Imports, plugin registration, lazy caches and compiled kernels, at a box smaller than
    # the warm-up image so that it is resized too; then the measured pipeline itself.
    factory(Box(**args["warmup_box"]))(args["warmup_input"], False)
    run = factory(Box(**args["box"]))
    run(args["warmup_input"], False)
    gc.collect()
    # Not getrusage's ru_maxrss: Linux carries it over from the parent across fork and
    # exec, so a child of a big parent would report the parent's peak.
    before = _status_bytes("VmRSS") if _reset_peak() else _status_bytes("VmHWM")
    run(args["input"], False)
    after = _status_bytes("VmHWM")
    return {"baseline": before, "peak": after, "increase": max(0, after - before)}


def main() -> None:
    args = json.loads(sys.argv[1])
    os.sched_setaffinity(0, {args["cpu"]})
    result = measure_time(args) if args["mode"] == "time" else measure_rss(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
