"""`python -m bench --smoke` runs every benchmark at a tiny size and reports sane numbers.

Benchmarks don't run in CI, so this keeps them working. No timing thresholds: the
machine is shared; only the shape and sanity of the results are checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.pipelines import STAGES, TIMED
from bench.profile import SMOKE
from bench.results import BenchRun, load
from devstack.stack import ROOT

PLOTS = ("transform.png", "transform_stages.png", "e2e.png", "notifier.png", "upload.png")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BenchRun]:
    out = tmp_path_factory.mktemp("bench-smoke")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SNAPQUEUE_"))}
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    return out, load(out / "benchmarks" / "results.json")


@pytest.mark.timeout(300)
def test_one_json_per_run_that_reads_back_into_the_types(
    smoke_run: tuple[Path, BenchRun],
) -> None:
    out, run = smoke_run
    assert run.smoke is True
    assert run.failures == {}
    assert BenchRun.model_validate_json(run.model_dump_json()) == run
    # The run's copy under runs/ is the same results.
    copies = list((out / "benchmarks" / "runs").glob("*.json"))
    assert [load(copy) for copy in copies] == [run]
    machine = run.machine
    assert machine.cores >= 1
    assert machine.libraries["libvips"] != "not available"
    assert len(machine.git_revision) == 40
    assert machine.git_dirty is not None


def test_report_and_plots_are_written_from_the_json(smoke_run: tuple[Path, BenchRun]) -> None:
    out, run = smoke_run
    page = (out / "benchmarks.md").read_text()
    assert page == report.render(run)
    assert "Smoke run" in page
    for heading in ("## Targets", "## Transform", "## End to end", "## Notifier", "## upload-"):
        assert heading in page
    for plot in PLOTS:
        data = (out / "benchmarks" / plot).read_bytes()
        assert data.startswith(b"\x89PNG"), plot
        assert f"benchmarks/{plot}" in page
    # Re-rendering from the file alone gives the same page.
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--report-only", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (out / "benchmarks.md").read_text() == page


def test_transform_numbers_are_sane(smoke_run: tuple[Path, BenchRun]) -> None:
    transform = smoke_run[1].transform
    assert transform is not None
    assert [row.input for row in transform.inputs] == [s.name for s in SMOKE.inputs]
    for row in transform.inputs:
        assert set(row.times) == set(TIMED)
        for name in TIMED:
            assert len(row.times[name].runs_s) == SMOKE.transform_runs
            assert row.times[name].median_s > 0, (row.input, name)
            assert row.mp_per_s(name) > 0
        # The naive pipeline is the reference itself; the others are close to it.
        assert row.psnr_db["naive"] is None
        for name in ("ours", "pyvips"):
            psnr = row.psnr_db[name]
            assert psnr is None or 25 < psnr < 100, (row.input, name, psnr)
        for name in ("ours", "naive", "pyvips"):
            assert 0 <= row.rss_increase_bytes[name] < 2**30
        assert set(row.stages_s) == set(STAGES)
        assert all(value >= 0 for value in row.stages_s.values())


def test_e2e_numbers_are_sane(smoke_run: tuple[Path, BenchRun]) -> None:
    e2e = smoke_run[1].e2e
    assert e2e is not None
    assert e2e.client.startswith("`snapqueue_client.AsyncSnapQueue`")
    assert e2e.transform_only.images_per_s > 0
    assert [level.concurrency for level in e2e.levels] == list(SMOKE.e2e_levels)
    for level in e2e.levels:
        assert level.uploads == SMOKE.e2e_uploads_per_level
        assert level.failed == 0
        assert level.images_per_s > 0
        assert 0 < level.latency_ms.p50 <= level.latency_ms.p99
        # Every upload went through the worker: each stage was observed.
        assert level.stages_s["transform"] > 0
        assert level.stages_s["download"] > 0
        # The processes that do real work per image used measurable CPU for it. The
        # upload-service only presigns (well under a millisecond per upload), so over a
        # smoke run it can stay below one clock tick and read as zero.
        cpu = level.cpu_ms_per_image
        assert set(cpu) >= {"worker", "emulator", "load generator"}
        assert all(cpu[name] > 0 for name in ("worker", "emulator", "load generator")), level
        assert all(ms >= 0 for ms in cpu.values()), level
    assert e2e.overhead_pct < 100
    pinned = e2e.pinned
    if len(os.sched_getaffinity(0)) >= 2:
        assert pinned is not None
        level = pinned.level
        assert level.failed == 0
        assert level.uploads == 2 * SMOKE.e2e_uploads_per_level
        assert pinned.transform_only.threads == 1
        assert pinned.transform_only.images_per_s > 0
        assert pinned.worker_cpus
        assert pinned.other_cpus
        assert not set(pinned.worker_cpus) & set(pinned.other_cpus)
        # Every round is reported, and the one in full is the median round.
        assert len(pinned.rounds) == SMOKE.e2e_pinned_rounds
        overheads = sorted(pinned.overheads)
        assert pinned.overhead_pct == pytest.approx(overheads[(len(overheads) - 1) // 2])
        # Read from the worker's own gauges: one pinned CPU, one Pillow thread.
        assert level.worker_threads == 1
        assert level.worker_job_slots >= 1
        assert 0 < level.transform_cpu_ms_per_image < level.cpu_ms_per_image["worker"]
        assert all(r.io_share_pct is not None and 0 < r.io_share_pct < 100 for r in pinned.rounds)
    else:
        assert pinned is None


def test_notifier_numbers_are_sane(smoke_run: tuple[Path, BenchRun]) -> None:
    notifier = smoke_run[1].notifier
    assert notifier is not None
    assert [row.connections for row in notifier.idle] == list(SMOKE.notifier_connections)
    for row in notifier.idle:
        assert row.rss_bytes > 0
        assert row.baseline_bytes > 0
    for latency in (notifier.direct, notifier.via_sqs):
        assert latency.sent > 0
        assert latency.delivered == latency.sent
        assert latency.latency_ms.p99 >= latency.latency_ms.p50 >= 0
    # Collector pauses: the no-freezing baseline and the default, in that order.
    assert [row.freeze_interval for row in notifier.churn] == ["0", None]
    for churn in notifier.churn:
        assert churn.idle == SMOKE.notifier_churn_idle
        assert churn.churned >= SMOKE.notifier_churn_rate
        assert churn.pings > 0
        assert churn.rtt_ms.p999 is not None
        assert churn.rtt_ms.max >= churn.rtt_ms.p999 >= churn.rtt_ms.p50 > 0
        assert churn.rss_after_bytes > 0


def test_upload_numbers_are_sane(smoke_run: tuple[Path, BenchRun]) -> None:
    upload = smoke_run[1].upload
    assert upload is not None
    assert set(upload.targets) == {"upload-service", "fastapi-hello", "asgi-hello"}
    for name, target in upload.targets.items():
        assert target.requests > 0, name
        assert target.errors == 0, name
        assert target.rps > 0
