"""The report's derived figures, from hand-made results (no benchmark run)."""

from __future__ import annotations

import pytest

from bench.report import pinned_floor_pct


def test_pinned_floor_is_the_worker_core_ceiling_against_transform_only() -> None:
    pinned = {
        "cpu_ms_per_image": {"worker": 106.1, "emulator": 84.3},
        "transform_only": {"images_per_s": 13.32},
    }
    # 1000 / 106.1 = 9.43 images/s at most on the worker's core, against 13.32.
    assert pinned_floor_pct(pinned) == pytest.approx(29.2, abs=0.1)


def test_pinned_floor_is_never_negative_and_needs_the_worker_cpu() -> None:
    fast_worker = {"cpu_ms_per_image": {"worker": 50.0}, "transform_only": {"images_per_s": 10}}
    assert pinned_floor_pct(fast_worker) == 0.0
    no_worker = {"cpu_ms_per_image": {}, "transform_only": {"images_per_s": 10}}
    assert pinned_floor_pct(no_worker) is None
