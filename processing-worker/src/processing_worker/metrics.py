"""Prometheus metrics of one worker, in its own registry (tests run several workers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

STAGES = ("download", "thread_wait", "transform", "upload", "record", "notify")


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "snapqueue_worker_jobs",
            "Messages handled, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "snapqueue_worker_stage_seconds",
            "Time spent per job stage.",
            ["stage"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        # CPU, not wall time: on a busy core the transform's wall time includes the event
        # loop's turns, and only this says how much the image work itself cost.
        self.transform_cpu_seconds = Counter(
            "snapqueue_worker_transform_cpu_seconds",
            "CPU time of the transform threads (decode, variants, encode, metadata).",
            registry=self.registry,
        )
        self.queue_lag_seconds = Histogram(
            "snapqueue_worker_queue_lag_seconds",
            "Time from a message's arrival on the queue to its receipt by this worker.",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "snapqueue_worker_jobs_in_flight", "Jobs running now.", registry=self.registry
        )
        # What in_flight is measured against: a worker whose jobs sit at its slots all
        # the time is saturated (or its slots are too few for its I/O).
        self.job_slots = Gauge(
            "snapqueue_worker_job_slots", "Messages worked on at most.", registry=self.registry
        )
        self.transform_threads = Gauge(
            "snapqueue_worker_transform_threads",
            "Pillow threads (images transformed at once).",
            registry=self.registry,
        )
        # Per image, these say what the pipeline costs in AWS calls (and in money).
        self.aws_requests = Counter(
            "snapqueue_worker_aws_requests",
            "Requests sent to AWS (each retry counted), by service and operation.",
            ["service", "operation"],
            registry=self.registry,
        )
        for stage in STAGES:
            self.stage_seconds.labels(stage)

    def count_aws_request(self, service: str, operation: str) -> None:
        self.aws_requests.labels(service, operation).inc()

    def set_capacity(self, transform_threads: int, job_slots: int) -> None:
        self.transform_threads.set(transform_threads)
        self.job_slots.set(job_slots)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe(name, time.perf_counter() - started)

    def observe(self, stage: str, seconds: float) -> None:
        self.stage_seconds.labels(stage).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
