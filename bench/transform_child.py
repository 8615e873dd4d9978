"""One transform measurement in a fresh, pinned process: ``python -m bench.transform_child JSON``.

``time`` interleaves the pipelines run by run (so a burst of load on the shared machine
hits all of them alike) and saves each one's resized pixels for the PSNR check. ``rss``
runs one pipeline once after warming it on a tiny image of the same format and reports
how far the run raised the process's peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .pipelines import FACTORIES, Box


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


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
    box = Box(**args["box"])
    run = FACTORIES[args["pipeline"]](box)
    run(args["warmup_input"], False)  # imports, plugin registration, lazy caches
    before = _peak_rss_bytes()
    run(args["input"], False)
    after = _peak_rss_bytes()
    return {"baseline": before, "peak": after, "increase": after - before}


def main() -> None:
    args = json.loads(sys.argv[1])
    os.sched_setaffinity(0, {args["cpu"]})
    result = measure_time(args) if args["mode"] == "time" else measure_rss(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
