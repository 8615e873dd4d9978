"""docs/benchmarks.md and its plots, rendered from one run's :class:`bench.results.BenchRun`.

The prose lives in ``templates/benchmarks.md.j2``; this module only hands it the typed
results and a few formatting filters, so every figure on the page comes from results.json.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path

import jinja2

from . import plots
from .plots import E2E_STAGES, PIPELINE_LABELS, TRANSFORM_STAGES, ordered
from .results import MB, MIB, BenchRun

TEMPLATE = "benchmarks.md.j2"
TEMPLATES = Path(__file__).resolve().parent / "templates"
CPU_PROCESSES = ("worker", "emulator", "notifier", "upload", "load generator")


def number(value: float | None, digits: int = 1) -> str:
    """``1,234.5``; ``n/a`` for a figure that was not measured (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def signed(value: float, digits: int = 0) -> str:
    return f"{value:+.{digits}f}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def by_count(per_image: Mapping[str, float]) -> list[tuple[str, float]]:
    return sorted(per_image.items(), key=lambda item: -item[1])


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - Markdown, not HTML
    )
    env.filters.update(
        f=number,
        signed=signed,
        plural=plural,
        g=lambda value: f"{value:g}",
        mb=lambda b, digits=1: number(b / MB, digits),
        mib=lambda b, digits=1: number(b / MIB, digits),
        kib=lambda b, digits=1: number(b / 1024, digits),
        ms=lambda s, digits=1: number(None if s is None else 1000 * s, digits),
        count=lambda n: f"{n:,}",
        join_f=lambda values, sep, digits=2: sep.join(number(v, digits) for v in values),
    )
    env.globals.update(
        pipelines=PIPELINE_LABELS,
        transform_stages=lambda stages: ordered(stages, TRANSFORM_STAGES),
        e2e_stages=lambda stages: ordered(stages, E2E_STAGES),
        cpu_processes=lambda cpu: ordered(cpu, CPU_PROCESSES),
        by_count=by_count,
        verdict=verdict,
        median=lambda values: sorted(values)[(len(values) - 1) // 2],
    )
    return env


def render(run: BenchRun) -> str:
    return environment().get_template(TEMPLATE).render(run=run, machine=run.machine)


def write(run: BenchRun, out_dir: Path) -> Path:
    """Plot every section present, then render benchmarks.md next to the plots."""
    plots.write_all(run, out_dir / "benchmarks")
    path = out_dir / "benchmarks.md"
    path.write_text(render(run))
    return path
