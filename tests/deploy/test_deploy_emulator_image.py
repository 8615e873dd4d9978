"""docker-compose.moto.yml's emulator is the project's own image, and that image keeps the
guarantee the stack relies on: of concurrent conditional claims on one image, exactly one wins.

No Docker here: the image's virtualenv is built from exactly what devstack/Dockerfile copies
(the same `uv sync`, offline, against the lockfile), and the image's CMD is run with it, from
the image's own files, over real HTTP.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from image_replay import ROOT, Stage, image_root, runtime_env, stages, under

from devstack import ready_url
from snapqueue_core.aws import AwsClients
from snapqueue_core.resources import bootstrap, declare
from snapqueue_core.schemas import ImageRecord, ImageStatus
from snapqueue_core.settings import CoreSettings
from snapqueue_core.store import ClaimRejectedError, ImageStore

DOCKERFILE = ROOT / "devstack" / "Dockerfile"
ROUNDS = 40
CLAIMANTS = 16


def test_compose_runs_the_project_emulator_not_stock_moto() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.moto.yml").read_text())
    emulator = compose["services"]["moto"]
    assert emulator["build"] == {"context": ".", "dockerfile": "devstack/Dockerfile"}
    assert "motoserver" not in emulator.get("image", "")
    assert "localstack" in emulator["networks"]["default"]["aliases"]
    # compose's bootstrap service creates the resources, as with LocalStack.
    assert "--no-bootstrap" in stages(DOCKERFILE)[-1].cmd()
    assert compose["services"]["bootstrap"]["depends_on"]["moto"]["condition"] == "service_healthy"


def test_build_context_carries_the_emulator_module() -> None:
    patterns = (ROOT / ".dockerignore").read_text().split()
    for source, _ in stages(DOCKERFILE)[-1].copies():
        for path in source:
            assert path in ("devstack/__init__.py", "devstack/emulator.py"), path
            assert f"!{path}" in patterns, f"{path} is excluded from the build context"


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Stage]:
    """The image's filesystem, built from what devstack/Dockerfile copies."""
    return image_root(DOCKERFILE, tmp_path_factory.mktemp("emulator-image"))


def test_image_holds_the_emulator_and_no_development_tools(
    image_files: tuple[Path, Stage],
) -> None:
    root, _ = image_files
    installed = {
        path.name.split("-")[0].lower()
        for path in under(root, "/opt/venv/lib").glob("python3*/site-packages/*.dist-info")
    }
    assert {"moto", "cheroot", "snapqueue_core"} <= installed, installed
    dev_tools = {"pytest", "ruff", "mypy", "playwright", "honcho", "snapqueue_upload_service"}
    assert not installed & dev_tools, installed & dev_tools


@pytest.fixture(scope="module")
def image_emulator(image_files: tuple[Path, Stage]) -> Iterator[str]:
    """The image's CMD, run from the image's files, on a free loopback port."""
    root, runtime = image_files
    argv = runtime.cmd()
    # The image listens on 0.0.0.0:4566; here, loopback and any free port.
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = "0"
    env = runtime_env(root, runtime)
    python = under(root, "/opt/venv/bin/python")
    assert argv[0] == "python"
    process = subprocess.Popen(
        [str(python), *argv[1:]],
        cwd=under(root, runtime.workdir()),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = ready_url(line)
        assert url, f"the image's emulator did not start: {line}{process.stdout.read()}"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=15) == 0
        finally:
            process.kill()


@pytest.fixture
async def image_store(
    image_emulator: str,
    monkeypatch: pytest.MonkeyPatch,
    settings_factory: Callable[..., CoreSettings],
    aws: Callable[[CoreSettings], Any],
) -> ImageStore:
    monkeypatch.setenv("AWS_ENDPOINT_URL", image_emulator)
    settings = settings_factory()
    clients: AwsClients = await aws(settings)
    # What compose's bootstrap service does once the emulator is healthy.
    await bootstrap(clients, declare(settings), settings.aws_region)
    return ImageStore(clients.dynamodb, settings)


async def test_only_one_of_concurrent_claims_wins_on_the_image_emulator(
    image_store: ImageStore,
) -> None:
    # Stock moto lets two of these claims through now and then; forty rounds make a
    # non-atomic emulator show itself.
    for round_ in range(ROUNDS):
        record = ImageRecord.pending(uuid.uuid4().hex, filename="race.jpg")
        await image_store.create(record)
        results = await asyncio.gather(
            *(
                image_store.claim(record.image_id, f"worker-{i}", lease_seconds=60)
                for i in range(CLAIMANTS)
            ),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, ImageRecord)]
        assert len(winners) == 1, f"round {round_}: {len(winners)} claims won"
        losers = [r for r in results if r not in winners]
        assert all(isinstance(r, ClaimRejectedError) for r in losers), losers
        stored = await image_store.get(record.image_id)
        assert stored is not None
        assert stored.status is ImageStatus.PROCESSING
        # A second claim applied behind the first would have counted a second attempt.
        assert stored.attempts == 1
