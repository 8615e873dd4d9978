"""The typed results and the report rendered from them, on a stored run (no benchmark run).

``sample_results.json`` is a full run's results (the last one before the results were typed,
converted to this schema). The page must show every figure of it, so each figure is changed
in turn and the page must change with it; the template itself holds no figure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.e2e import requests_per_image
from bench.results import (
    BenchRun,
    E2ELevel,
    PinnedResult,
    PinnedRound,
    Stamp,
    TransformOnly,
    load,
    save,
)

SAMPLE = Path(__file__).with_name("sample_results.json")
TEMPLATE = report.TEMPLATES / report.TEMPLATE

# Raw figures that are in the JSON for later analysis and not on the page, as dotted paths
# (fnmatch patterns; list items by index).
NOT_ON_THE_PAGE = (
    "schema_version",
    # Only the first input's run count is stated; every input has the same.
    "transform.inputs.[1-9]*.runs",
    # The instrumented run's own total: its stages are on the page.
    "transform.inputs.*.times.split.runs_s",
    # Per-level detail the tables leave out (the pinned level shows it).
    "e2e.levels.*.latency_ms.max",
    "e2e.levels.*.upload_ms.p9*",
    "e2e.levels.*.upload_ms.max",
    "e2e.levels.*.request_ms.*",
    "e2e.levels.*.aws_requests_per_image.*",
    "e2e.levels.*.worker_threads",
    "e2e.levels.*.worker_job_slots",
    "e2e.pinned.level.latency_ms.p95",
    "e2e.pinned.level.latency_ms.max",
    "e2e.pinned.level.upload_ms.*",
    "e2e.pinned.level.request_ms.*",
    "e2e.pinned.rounds.*.aws_requests_per_image",
    "e2e.pinned.rounds.*.transform_only.threads",
    "e2e.pinned.rounds.*.transform_only.images",
    "e2e.pinned.transform_only.threads",
    "notifier.churn.*.rtt_ms.p95",
    "upload.targets.*.latency_ms.p95",
    "upload.targets.*.latency_ms.max",
    # The churn's settings are stated once, from the first variant; both use the same.
    "notifier.churn.[1-9]*.idle",
    "notifier.churn.[1-9]*.churn_rate",
    "notifier.churn.[1-9]*.seconds",
    "notifier.churn.[1-9]*.probes",
    "notifier.churn.[1-9]*.ping_every_s",
    "notifier.churn.[1-9]*.slow_ping_ms",
)


@pytest.fixture
def sample() -> BenchRun:
    return load(SAMPLE)


def figures(data: Any, path: str = "") -> Iterator[str]:
    """Dotted paths of every number (and of every list of numbers, as one figure)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from figures(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        if data and all(isinstance(v, int | float) and not isinstance(v, bool) for v in data):
            yield path
        else:
            for index, value in enumerate(data):
                yield from figures(value, f"{path}.{index}")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield path


def changed(value: Any) -> Any:
    if isinstance(value, list):
        return [changed(v) for v in value]
    if isinstance(value, int):
        return value * 3 + 7
    return value * 1.37 + 0.37


def with_figure_changed(data: dict[str, Any], path: str) -> dict[str, Any]:
    copy = BenchRun.model_validate(data).model_dump(mode="json")
    *parents, last = path.split(".")
    node: Any = copy
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    node[key] = changed(node[key])
    return copy


def test_results_round_trip_through_json(sample: BenchRun, tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    save(sample, path)
    again = load(path)
    assert again == sample
    assert again.model_dump_json() == sample.model_dump_json()


def test_every_figure_of_the_run_is_on_the_page(sample: BenchRun) -> None:
    data = sample.model_dump(mode="json")
    page = report.render(sample)
    paths = list(figures(data))
    assert len(paths) > 300  # the walk reached every section
    missing = []
    for path in paths:
        if any(fnmatch(path, pattern) for pattern in NOT_ON_THE_PAGE):
            continue
        if report.render(BenchRun.model_validate(with_figure_changed(data, path))) == page:
            missing.append(path)
    assert missing == []


def test_a_changed_figure_shows_up_where_it_belongs(sample: BenchRun) -> None:
    data = sample.model_dump(mode="json")
    data["transform"]["inputs"][0]["times"]["ours"]["runs_s"] = [0.0987654] * 9
    data["notifier"]["direct"]["latency_ms"]["p99"] = 4.321
    data["upload"]["targets"]["upload-service"]["requests"] = 12345
    page = report.render(BenchRun.model_validate(data))
    assert "| SnapQueue | 98.8 |" in page
    assert "**p99 4.3 ms**" in page
    seconds = data["upload"]["targets"]["upload-service"]["seconds"]
    assert f"| upload-service | {12345 / seconds:,.0f} |" in page


def test_the_template_holds_no_figure() -> None:
    text = TEMPLATE.read_text()
    literal = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", text, flags=re.DOTALL)
    # Numbers standing alone: not part of a name (S3, p99, L3) nor of a figure's format.
    numbers = re.findall(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])", literal)
    assert numbers == []


def test_a_run_without_some_benchmarks_still_renders(sample: BenchRun) -> None:
    partial = sample.model_copy(
        update={"e2e": None, "notifier": None, "failures": {"e2e": "RuntimeError('x')"}}
    )
    page = report.render(partial)
    assert "## Transform" in page
    assert "## End to end" not in page
    assert "**The e2e benchmark failed in this run:** `RuntimeError('x')`" in page


def test_sections_of_other_runs_say_when_and_at_which_revision(sample: BenchRun) -> None:
    assert sample.transform is not None
    assert "re-run separately" not in report.render(sample)
    stamp = Stamp(date="2030-01-02 03:04 UTC", git_revision="0123456789abcdef" * 2, git_dirty=True)
    transform = sample.transform.model_copy(update={"measured": stamp})
    page = report.render(sample.model_copy(update={"transform": transform}))
    assert "transform on 2030-01-02 03:04 UTC at `0123456789ab` (uncommitted changes)" in page


def test_a_smoke_run_says_so(sample: BenchRun) -> None:
    page = report.render(sample.model_copy(update={"smoke": True}))
    assert "Smoke run" in page


# ---------------------------------------------------------------------------
# derived figures


def sample_level(cpu_ms_per_image: dict[str, float] | None = None) -> E2ELevel:
    run = load(SAMPLE)
    assert run.e2e is not None
    assert run.e2e.pinned is not None
    level = run.e2e.pinned.level
    if cpu_ms_per_image is None:
        return level
    return level.model_copy(update={"cpu_ms_per_image": cpu_ms_per_image})


def pinned(*rounds: PinnedRound, level: E2ELevel | None = None) -> PinnedResult:
    return PinnedResult(
        worker_cpus=[1],
        other_cpus=[0],
        rounds=list(rounds),
        level=level or sample_level(),
        transform_only=rounds[0].transform_only,
    )


def round_(
    images_per_s: float = 9.0,
    alone: float = 12.5,
    transform_ms: float | None = 80.0,
    worker_ms: float | None = 100.0,
) -> PinnedRound:
    return PinnedRound(
        images_per_s=images_per_s,
        transform_only=TransformOnly(threads=1, images=8, runs_images_per_s=[alone]),
        worker_cpu_ms=worker_ms,
        transform_cpu_ms=transform_ms,
        aws_requests_per_image=11.0,
    )


def test_pinned_floor_is_the_worker_core_ceiling_against_transform_only() -> None:
    result = pinned(round_(alone=13.32), level=sample_level({"worker": 106.1}))
    # 1000 / 106.1 = 9.43 images/s at most on the worker's core, against 13.32.
    assert result.floor_pct == pytest.approx(29.2, abs=0.1)
    assert pinned(round_(alone=13.32), level=sample_level({"worker": 50.0})).floor_pct == 0.0
    assert pinned(round_(alone=13.32), level=sample_level({})).floor_pct is None


def test_a_verdict_whose_rounds_straddle_the_target_says_so() -> None:
    def overheads(*values: float) -> PinnedResult:
        # overhead = 1 - images/alone, with alone = 10 images/s
        return pinned(*(round_(images_per_s=10 * (1 - v / 100), alone=10) for v in values))

    assert overheads(19.1, 27.3, 35.2).straddles(30.0)
    assert not overheads(19.1, 27.3, 29.9).straddles(30.0)  # all met
    assert not overheads(31.0, 36.0).straddles(30.0)  # all missed
    assert not overheads(40.0).straddles(30.0)


def test_rounds_that_differ_in_the_transform_say_so_and_only_then() -> None:
    def share(transform_ms: float, io_share: float) -> PinnedRound:
        # 80 ms alone; the worker's CPU is the transform's over (1 - I/O share).
        return round_(transform_ms=transform_ms, worker_ms=transform_ms / (1 - io_share / 100))

    varied = pinned(share(76, 23), share(88, 24))
    assert varied.rounds_differ_in_transform
    assert [round(s) for s in varied.slowdowns] == [-5, 10]
    assert not pinned(share(80, 23), share(81, 24)).rounds_differ_in_transform
    assert not pinned(share(76, 18), share(88, 30)).rounds_differ_in_transform


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


def test_the_requests_table_is_ordered_and_totalled(sample: BenchRun) -> None:
    assert sample.e2e is not None
    assert sample.e2e.pinned is not None
    level = sample.e2e.pinned.level.model_copy(
        update={"aws_requests_per_image": {"dynamodb Query": 2.0, "s3 PutObject": 3.0}}
    )
    pinned_run = sample.e2e.pinned.model_copy(update={"level": level})
    page = report.render(
        sample.model_copy(update={"e2e": sample.e2e.model_copy(update={"pinned": pinned_run})})
    )
    assert "| s3 PutObject | 3.00 |\n| dynamodb Query | 2.00 |\n| **total** | **5.0** |" in page


def test_no_sample_is_nan() -> None:
    # A NaN would render as n/a and hide a figure from the every-figure test above.
    text = SAMPLE.read_text()
    assert "NaN" not in text
    assert not math.isnan(load(SAMPLE).seconds)
