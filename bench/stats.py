"""Small statistics helpers: medians and percentiles without surprises on tiny samples."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from .results import Summary


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation past the data."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


def summary_ms(seconds: Sequence[float], *, p999: bool = False) -> Summary:
    """p50/p95/p99/max (and p99.9 if asked) in milliseconds of durations in seconds."""
    ms = [s * 1000 for s in seconds]
    return Summary(
        p50=percentile(ms, 50),
        p95=percentile(ms, 95),
        p99=percentile(ms, 99),
        max=max(ms) if ms else math.nan,
        p999=percentile(ms, 99.9) if p999 else None,
    )
