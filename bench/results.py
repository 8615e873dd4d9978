"""The typed results of one ``python -m bench`` run, as written to results.json.

Each benchmark returns one of the ``*Result`` models below; :class:`BenchRun` holds them
with the machine they ran on. The JSON file is ``BenchRun.model_dump_json`` and reads back
with :func:`load`. Figures that follow from stored ones (medians of runs, ratios,
overheads, bounds) are properties computed here, never stored, so a JSON edited by hand
cannot contradict itself; the report only formats what these models hold or compute.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

# Bumped when a field changes meaning or goes away; a file of another version is not read.
SCHEMA_VERSION = 2
MB = 1e6
MIB = 2**20


class Model(BaseModel):
    # NaN stands for "no sample" (an empty percentile); JSON has no literal for it, so
    # Python's own NaN/Infinity constants are written and read back.
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


class Summary(Model):
    """Percentiles of a set of durations, in milliseconds (nearest rank)."""

    p50: float
    p95: float
    p99: float
    max: float
    p999: float | None = None


# ---------------------------------------------------------------------------
# machine


class Machine(Model):
    date: str
    git_revision: str
    # None when the revision is not known to be clean or dirty (not a git checkout).
    git_dirty: bool | None
    cpu: str
    cores: int
    ram_gib: float
    os: str
    python: str
    pillow: str
    libjpeg: str
    # Every other library whose version can move a figure: name → version.
    libraries: dict[str, str]


class Stamp(Model):
    """When and at which revision one benchmark was measured: with ``--only``, a results
    file holds sections of different runs."""

    # Hashable, so that the report can tell whether all sections share one.
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: str
    git_revision: str
    git_dirty: bool | None

    @classmethod
    def of(cls, machine: Machine) -> Stamp:
        return cls(
            date=machine.date, git_revision=machine.git_revision, git_dirty=machine.git_dirty
        )


# ---------------------------------------------------------------------------
# transform


class PipelineTimes(Model):
    """One pipeline's timed runs on one input, in seconds, in run order."""

    runs_s: list[float]

    @property
    def median_s(self) -> float:
        return _median(self.runs_s)


class TransformInput(Model):
    input: str
    label: str
    width: int
    height: int
    bytes: int
    output_size: tuple[int, int]
    runs: int
    # ours, naive, pyvips and the diagnostics (split: the worker's steps one by one;
    # full_decode: the full-size decode alone).
    times: dict[str, PipelineTimes]
    # The resized variant against a full-resolution LANCZOS; None: identical pixels for a
    # candidate, and always for the naive pipeline, which is that reference.
    psnr_db: dict[str, float | None]
    rss_increase_bytes: dict[str, int]
    # Median of each of the worker's steps (from ``split``), in seconds.
    stages_s: dict[str, float]

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def ms(self, pipeline: str) -> float:
        return 1000 * self.times[pipeline].median_s

    def mp_per_s(self, pipeline: str) -> float:
        return self.megapixels / self.times[pipeline].median_s

    def paired_ratio(self, numerator: str, denominator: str) -> float:
        """Median over runs of ``numerator_i / denominator_i``.

        The pipelines run interleaved, so run i of each saw the same moment of the shared
        machine's load; pairing them cancels most of its drift.
        """
        pairs = zip(self.times[numerator].runs_s, self.times[denominator].runs_s, strict=True)
        return _median([a / b for a, b in pairs])

    @property
    def stages_total_s(self) -> float:
        return sum(self.stages_s.values())

    @property
    def largest_stage(self) -> str:
        return max(self.stages_s, key=lambda stage: self.stages_s[stage])


class TransformResult(Model):
    measured: Stamp
    cpu: int
    resized_box: int
    thumbnail_side: int
    jpeg_quality: int
    # The image each pipeline ran on, in its fresh process, before its RSS was taken, and
    # the box it was also resized to fit first (None: only the measured box).
    rss_warmup_size: tuple[int, int]
    rss_warmup_box: int | None
    inputs: list[TransformInput]

    def row(self, name: str) -> TransformInput:
        return next(row for row in self.inputs if row.input == name)


# ---------------------------------------------------------------------------
# end to end


class TransformOnly(Model):
    """``process_file`` alone on the worker's thread count, before and after the levels."""

    threads: int
    images: int
    runs_images_per_s: list[float]

    @property
    def images_per_s(self) -> float:
        return sum(self.runs_images_per_s) / len(self.runs_images_per_s)


class E2ELevel(Model):
    concurrency: int
    uploads: int
    failed: int
    seconds: float
    # Completions per second between the first and the last ``trim`` of completions.
    images_per_s: float
    latency_ms: Summary
    upload_ms: Summary
    request_ms: Summary
    # Mean seconds per image in each worker stage, from its Prometheus histograms.
    stages_s: dict[str, float]
    aws_requests_per_image: dict[str, float]
    transform_cpu_ms_per_image: float
    worker_threads: int
    worker_job_slots: int
    # CPU (user + system) per image of every stack process and of the load generator.
    cpu_ms_per_image: dict[str, float]

    @property
    def overall_images_per_s(self) -> float:
        return self.uploads / self.seconds

    @property
    def cpu_total_ms(self) -> float:
        return sum(self.cpu_ms_per_image.values())

    @property
    def cpu_outside_worker_ms(self) -> float:
        return self.cpu_total_ms - self.cpu_ms_per_image.get("worker", 0.0)

    @property
    def worker_cpu_ms(self) -> float | None:
        return self.cpu_ms_per_image.get("worker") or None

    @property
    def aws_requests_total(self) -> float:
        return sum(self.aws_requests_per_image.values())


class PinnedRound(Model):
    """One pinned level in brief, with the transform-only runs just before and after it."""

    images_per_s: float
    transform_only: TransformOnly
    worker_cpu_ms: float | None
    transform_cpu_ms: float | None
    aws_requests_per_image: float

    @property
    def overhead_pct(self) -> float:
        return 100 * (1 - self.images_per_s / self.transform_only.images_per_s)

    @property
    def transform_alone_ms(self) -> float:
        return 1000 / self.transform_only.images_per_s

    @property
    def io_share_pct(self) -> float | None:
        """The share of the worker's CPU that is not its transform, both over the level."""
        if not self.worker_cpu_ms or not self.transform_cpu_ms:
            return None
        return 100 * (1 - self.transform_cpu_ms / self.worker_cpu_ms)

    @property
    def transform_slowdown_pct(self) -> float | None:
        """How much more CPU the transform took inside the pipeline than alone."""
        if not self.transform_cpu_ms:
            return None
        return 100 * (self.transform_cpu_ms / self.transform_alone_ms - 1)


class PinnedResult(Model):
    """The worker alone on one core, everything else on the others: every round in brief,
    and the round with the median overhead in full (``level``, ``transform_only``)."""

    worker_cpus: list[int]
    other_cpus: list[int]
    rounds: list[PinnedRound]
    level: E2ELevel
    transform_only: TransformOnly

    @property
    def overhead_pct(self) -> float:
        return 100 * (1 - self.level.images_per_s / self.transform_only.images_per_s)

    def straddles(self, target: float) -> bool:
        """Whether the rounds fall on both sides of the target: one run's verdict is then
        not the code's, and the next run may give the other one."""
        overheads = self.overheads
        return len(overheads) >= 2 and min(overheads) <= target < max(overheads)

    @property
    def overheads(self) -> list[float]:
        return [r.overhead_pct for r in self.rounds]

    @property
    def io_shares(self) -> list[float]:
        return [s for r in self.rounds if (s := r.io_share_pct)]

    @property
    def slowdowns(self) -> list[float]:
        return [s for r in self.rounds if (s := r.transform_slowdown_pct) is not None]

    @property
    def rounds_differ_in_transform(self) -> bool:
        """Said only when the data show it: the transform varies, the I/O share does not."""
        slowdowns, shares = self.slowdowns, self.io_shares
        if len(slowdowns) < 2:
            return False
        spread = max(slowdowns) - min(slowdowns)
        return spread >= 5 and not (shares and max(shares) - min(shares) > spread / 2)

    @property
    def transform_alone_ms(self) -> float:
        return 1000 / self.transform_only.images_per_s

    @property
    def floor_pct(self) -> float | None:
        """The overhead if only the worker's core limited it: the worker at 100% of its core,
        at the CPU per image it spent, against transform-only."""
        ceiling = self.worker_ceiling
        if ceiling is None:
            return None
        return max(0.0, 100 * (1 - ceiling / self.transform_only.images_per_s))

    @property
    def worker_busy_pct(self) -> float | None:
        worker_ms = self.level.worker_cpu_ms
        return self.level.images_per_s * worker_ms / 10 if worker_ms else None

    @property
    def worker_ceiling(self) -> float | None:
        worker_ms = self.level.worker_cpu_ms
        return 1000 / worker_ms if worker_ms else None

    @property
    def others_ceiling(self) -> float | None:
        others_ms = self.level.cpu_outside_worker_ms
        return 1000 * len(self.other_cpus) / others_ms if others_ms else None

    @property
    def emulator_bound(self) -> bool:
        """Whether the other cores, not the worker's, were the tighter bound."""
        worker, others = self.worker_ceiling, self.others_ceiling
        return worker is not None and others is not None and others < worker


class E2EResult(Model):
    measured: Stamp
    # What each simulated tab was, as the report names it.
    client: str
    input: str
    input_bytes: int
    # The share of completions left out at each end of a level for the steady rate.
    steady_trim: float
    transform_only: TransformOnly
    levels: list[E2ELevel]
    pinned: PinnedResult | None

    @property
    def best(self) -> E2ELevel:
        return max(self.levels, key=lambda r: r.images_per_s)

    @property
    def busiest(self) -> E2ELevel:
        return max(self.levels, key=lambda r: r.concurrency)

    @property
    def overhead_pct(self) -> float:
        return 100 * (1 - self.best.images_per_s / self.transform_only.images_per_s)

    @property
    def shared_floor_pct(self) -> float | None:
        """The overhead if the worker's own I/O were free: the transforms plus everything
        the other processes spend per image, on the same cores."""
        busiest = self.busiest
        transform_ms = busiest.transform_cpu_ms_per_image
        if not busiest.cpu_ms_per_image or not transform_ms:
            return None
        ceiling = (
            1000 * self.transform_only.threads / (transform_ms + busiest.cpu_outside_worker_ms)
        )
        return max(0.0, 100 * (1 - ceiling / self.transform_only.images_per_s))


# ---------------------------------------------------------------------------
# notifier


class IdleLevel(Model):
    connections: int
    rss_bytes: int
    baseline_bytes: int
    open_seconds: float

    @property
    def per_connection_bytes(self) -> float:
        return (self.rss_bytes - self.baseline_bytes) / self.connections


class DeliveryLatency(Model):
    rate: int
    clients: int
    sent: int
    delivered: int
    seconds: float
    latency_ms: Summary
    # Seconds published at the same rate first, not measured (0: none).
    warmup_seconds: float

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds


class ChurnRow(Model):
    variant: str
    # The replica's SNAPQUEUE_HEAP_FREEZE_INTERVAL_SECONDS; None: the service's default.
    freeze_interval: str | None
    idle: int
    churn_rate: int
    seconds: float
    churned: int
    probes: int
    ping_every_s: float
    pings: int
    rtt_ms: Summary
    slow_ping_ms: float
    slow_pings: int
    rss_before_bytes: int
    rss_after_bytes: int


class NotifierResult(Model):
    measured: Stamp
    idle: list[IdleLevel]
    direct: DeliveryLatency
    via_sqs: DeliveryLatency
    churn: list[ChurnRow]


# ---------------------------------------------------------------------------
# upload-service


class UploadTarget(Model):
    requests: int
    errors: int
    seconds: float
    latency_ms: Summary

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


class UploadBaseline(Model):
    """The upload-service's throughput in an earlier run, for a before-and-after."""

    measured: Stamp
    rps: float
    clients: int


class UploadResult(Model):
    measured: Stamp
    # What sent the requests, as the report names it.
    client: str
    clients: int
    seconds: float
    targets: dict[str, UploadTarget]
    # TokenVerifier.verify on a real access token, keys cached (None before sign-in existed).
    token_verify_ms: Summary | None = None
    token_verifications: int | None = None
    before: UploadBaseline | None = None

    def vs_service(self, name: str) -> float:
        return self.targets[name].rps / self.targets["upload-service"].rps

    @property
    def asgi_not_faster(self) -> bool:
        """The bare ASGI app within 20% of FastAPI: the load generator was the ceiling."""
        return self.targets["asgi-hello"].rps < 1.2 * self.targets["fastapi-hello"].rps


# ---------------------------------------------------------------------------
# the emulator's one remaining moto patch (devstack.emulator.read_queue_flags_directly)


class EmulatorRow(Model):
    backlog: int
    # By variant: "shortcut" (the emulator as shipped) and "moto" (--no-sqs-shortcut).
    send_ms: dict[str, Summary]
    receive_ms: dict[str, Summary]

    def send_ratio(self) -> float:
        """How many times longer moto's own SendMessage takes at this backlog."""
        return self.send_ms["moto"].p50 / self.send_ms["shortcut"].p50

    def receive_ratio(self) -> float:
        return self.receive_ms["moto"].p50 / self.receive_ms["shortcut"].p50


class EmulatorResult(Model):
    measured: Stamp
    moto: str
    calls: int
    rows: list[EmulatorRow]


# ---------------------------------------------------------------------------
# the run


class Targets(Model):
    """What the issue asks of the transform (on the key input) and of the pipeline."""

    key_input: str
    speedup_vs_naive: float = 4.0
    ratio_vs_pyvips: float = 1.0
    psnr_db: float = 45.0
    rss_increase_mb: float = 30.0
    e2e_overhead_pct: float = 30.0


class BenchRun(Model):
    schema_version: int = SCHEMA_VERSION
    smoke: bool
    machine: Machine
    targets: Targets
    seconds: float
    # Load averages (1, 5, 15 min) at named moments of the run.
    load: dict[str, list[float]]
    # Benchmarks that raised in this run: name → the exception.
    failures: dict[str, str] = {}
    transform: TransformResult | None = None
    e2e: E2EResult | None = None
    notifier: NotifierResult | None = None
    upload: UploadResult | None = None
    emulator: EmulatorResult | None = None

    @property
    def measured(self) -> dict[str, Stamp]:
        """Each section's stamp, by benchmark name."""
        sections = (self.transform, self.e2e, self.notifier, self.upload, self.emulator)
        names = ("transform", "e2e", "notifier", "upload", "emulator")
        return {n: s.measured for n, s in zip(names, sections, strict=True) if s is not None}


def load(path: Path) -> BenchRun:
    return BenchRun.model_validate_json(path.read_text())


def save(run: BenchRun, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.model_dump_json(indent=1) + "\n")
