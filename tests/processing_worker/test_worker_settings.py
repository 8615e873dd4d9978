"""The worker's own settings: thread and job defaults, and what is refused."""

from __future__ import annotations

import os

import pytest

from processing_worker.settings import WorkerSettings, usable_cpus
from snapqueue_core.settings import SettingsError

REGION = {"aws_region": "eu-west-1"}


def test_defaults_follow_the_cpus_this_process_may_use() -> None:
    settings = WorkerSettings.from_env(**REGION)
    assert settings.concurrency == usable_cpus()
    assert settings.jobs_in_flight == 4 * settings.concurrency


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_one_pinned_cpu_means_one_pillow_thread() -> None:
    """taskset, cpusets and ECS CPU pinning show in the affinity mask, not cpu_count()."""
    original = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(original)})
    try:
        settings = WorkerSettings.from_env(**REGION)
    finally:
        os.sched_setaffinity(0, original)
    assert (settings.concurrency, settings.jobs_in_flight) == (1, 4)


def test_explicit_values_are_kept() -> None:
    settings = WorkerSettings.from_env(concurrency=3, jobs_in_flight=7, **REGION)
    assert (settings.concurrency, settings.jobs_in_flight) == (3, 7)


def test_fewer_jobs_than_threads_is_refused() -> None:
    with pytest.raises(SettingsError, match="jobs_in_flight"):
        WorkerSettings.from_env(concurrency=4, jobs_in_flight=2, **REGION)
