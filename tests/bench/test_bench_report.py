"""The report's derived figures, from hand-made results (no benchmark run)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.e2e import requests_per_image
from bench.report import _pinned_rounds, pinned_floor_pct, requests_table, straddle_note


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


def test_requests_per_image_from_two_scrapes() -> None:
    name = 'snapqueue_worker_aws_requests_total{{operation="{}",service="{}"}}'
    before = {
        name.format("PutObject", "s3"): 30.0,
        name.format("GetQueueUrl", "sqs"): 1.0,  # at startup: unchanged over the level
    }
    after = {
        name.format("PutObject", "s3"): 60.0,
        name.format("GetQueueUrl", "sqs"): 1.0,
        name.format("Query", "dynamodb"): 20.0,  # first seen during the level
        "snapqueue_worker_jobs_total": 10.0,
    }
    assert requests_per_image(before, after, 10) == {"s3 PutObject": 3.0, "dynamodb Query": 2.0}


def test_requests_table_totals_and_orders() -> None:
    lines = requests_table({"dynamodb Query": 2.0, "s3 PutObject": 3.0})
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[1:] == [
        "| s3 PutObject | 3.00 |",
        "| dynamodb Query | 2.00 |",
        "| **total** | **5.0** |",
    ]
    assert requests_table({}) == []


def test_a_verdict_whose_rounds_straddle_the_target_says_so() -> None:
    def rounds(*overheads: float) -> dict[str, Any]:
        return {"rounds": [{"overhead_pct": o} for o in overheads]}

    assert "from 19% to 35%" in straddle_note(rounds(19.1, 27.3, 35.2), 30.0)
    assert straddle_note(rounds(19.1, 27.3, 29.9), 30.0) == ""  # all met
    assert straddle_note(rounds(31.0, 36.0), 30.0) == ""  # all missed
    assert straddle_note(rounds(40.0), 30.0) == ""


def test_rounds_that_differ_in_the_transform_say_so_and_only_then() -> None:
    def round_(transform_ms: float, io_share: float) -> dict[str, Any]:
        return {
            "images_per_s": 9.0,
            "transform_only_images_per_s": 12.5,  # 80 ms alone
            "overhead_pct": 28.0,
            "transform_cpu_ms": transform_ms,
            "io_share_pct": io_share,
        }

    varied = _pinned_rounds({"rounds": [round_(76, 23), round_(88, 24)]})
    assert "differ mostly in the transform" in varied
    assert "took -5% to +10% CPU" in varied
    steady = _pinned_rounds({"rounds": [round_(80, 23), round_(81, 24)]})
    assert "differ mostly" not in steady
    io_bound = _pinned_rounds({"rounds": [round_(76, 18), round_(88, 30)]})
    assert "differ mostly" not in io_bound
