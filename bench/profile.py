"""How big a run is: the full benchmark or the smoke run that only proves it still works."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputSpec:
    """One generated input photo."""

    name: str
    label: str
    width: int
    height: int
    format: str  # "JPEG" or "PNG"
    orientation: int = 1
    source: str = "Landscape_1.jpg"
    texture_source: str = "Landscape_5.jpg"

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    @property
    def filename(self) -> str:
        ext = "jpg" if self.format == "JPEG" else "png"
        return f"{self.name}-{self.width}x{self.height}-o{self.orientation}.{ext}"


@dataclass(frozen=True)
class Profile:
    smoke: bool
    inputs: tuple[InputSpec, ...]
    # The worker's presets: the resized box and the square thumbnail.
    resized_box: int
    thumbnail_side: int
    transform_runs: int
    # End to end: uploads per concurrency level.
    e2e_levels: tuple[int, ...]
    e2e_uploads_per_level: int
    e2e_input: str
    # The worker alone on one core at this many tabs (None: skip; needs ≥ 2 CPUs).
    e2e_pinned_tabs: int | None
    # Pinned rounds, each between two transform-only runs; the median round is reported.
    e2e_pinned_rounds: int
    # Notifier: idle connection counts, event rate and duration, clients that receive events.
    notifier_connections: tuple[int, ...]
    notifier_event_rate: int
    notifier_event_seconds: float
    notifier_event_clients: int
    # Collector pauses: idle connections held, connections opened (and closed) per second.
    notifier_churn_idle: int
    notifier_churn_rate: int
    notifier_churn_seconds: float
    # upload-service: concurrent clients and duration per target.
    upload_clients: int
    upload_seconds: float
    # The emulator's SQS shortcut: messages already queued, and timed calls per backlog.
    emulator_backlogs: tuple[int, ...]
    emulator_calls: int
    # Timed TokenVerifier.verify calls.
    token_verifications: int

    @property
    def key_input(self) -> str:
        """The input the issue's targets are stated for (the 12 MP JPEG)."""
        return self.inputs[0].name


FULL = Profile(
    smoke=False,
    inputs=(
        InputSpec("jpeg-12mp", "12 MP JPEG", 4032, 3024, "JPEG"),
        InputSpec("jpeg-24mp", "24 MP JPEG (Orientation 6)", 5664, 4248, "JPEG", orientation=6),
        InputSpec("png-12mp", "12 MP PNG", 4032, 3024, "PNG"),
        InputSpec("jpeg-2mp", "2 MP JPEG", 1632, 1224, "JPEG"),
    ),
    resized_box=1024,
    thumbnail_side=256,
    transform_runs=9,
    e2e_levels=(1, 4, 8),
    e2e_uploads_per_level=80,
    e2e_input="jpeg-12mp",
    e2e_pinned_tabs=8,
    e2e_pinned_rounds=5,
    notifier_connections=(1000, 5000, 10000),
    notifier_event_rate=500,
    notifier_event_seconds=10.0,
    notifier_event_clients=500,
    notifier_churn_idle=10000,
    notifier_churn_rate=50,
    notifier_churn_seconds=60.0,
    upload_clients=32,
    upload_seconds=10.0,
    emulator_backlogs=(0, 1000, 3000),
    emulator_calls=100,
    token_verifications=2000,
)

SMOKE = Profile(
    smoke=True,
    inputs=(
        InputSpec("jpeg-12mp", "12 MP JPEG (smoke size)", 640, 480, "JPEG"),
        InputSpec("png-12mp", "12 MP PNG (smoke size)", 640, 480, "PNG"),
    ),
    resized_box=160,
    thumbnail_side=64,
    transform_runs=2,
    e2e_levels=(1, 2),
    e2e_uploads_per_level=3,
    e2e_input="jpeg-12mp",
    e2e_pinned_tabs=2,
    e2e_pinned_rounds=2,
    notifier_connections=(10, 20),
    notifier_event_rate=20,
    notifier_event_seconds=1.0,
    notifier_event_clients=5,
    notifier_churn_idle=20,
    notifier_churn_rate=5,
    notifier_churn_seconds=1.5,
    upload_clients=4,
    upload_seconds=1.0,
    emulator_backlogs=(0, 50),
    emulator_calls=5,
    token_verifications=20,
)
