"""What the numbers were measured on: code revision, CPU, memory, load and library versions."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import psutil
from PIL import features

from .results import Machine

ROOT = Path(__file__).resolve().parent.parent
# Libraries whose versions can move a figure, beyond Pillow and libjpeg.
LIBRARIES = ("pyvips", "numpy", "numba", "moto", "websockets", "uvicorn", "fastapi", "httpx")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return platform.processor() or "unknown"
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _libvips() -> str:
    try:
        import pyvips

        return f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    except (ImportError, OSError):
        return "not available"


def _git(*args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip()


def revision() -> tuple[str, bool | None]:
    """``git rev-parse HEAD`` and whether tracked files differ from it."""
    head = _git("rev-parse", "HEAD")
    if head is None:
        return "unknown", None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return head, None if status is None else bool(status)


def describe() -> Machine:
    head, dirty = revision()
    libjpeg = (
        f"libjpeg-turbo {features.version('libjpeg_turbo')}"
        if features.check_feature("libjpeg_turbo")
        else str(features.version("jpg"))
    )
    return Machine(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        git_revision=head,
        git_dirty=dirty,
        cpu=_cpu_model(),
        cores=os.cpu_count() or 1,
        ram_gib=round(psutil.virtual_memory().total / 2**30, 1),
        os=f"{platform.system()} {platform.release()}",
        python=sys.version.split()[0],
        pillow=_version("pillow"),
        libjpeg=libjpeg,
        libraries={**{name: _version(name) for name in LIBRARIES}, "libvips": _libvips()},
    )


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
