"""What the numbers were measured on: CPU, memory, load and library versions."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import psutil
from PIL import features


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
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


def describe() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "pillow": _version("pillow"),
        "libjpeg": f"libjpeg-turbo {features.version('libjpeg_turbo')}"
        if features.check_feature("libjpeg_turbo")
        else str(features.version("jpg")),
        "pyvips": _version("pyvips"),
        "libvips": _libvips(),
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "moto": _version("moto"),
        "websockets": _version("websockets"),
        "uvicorn": _version("uvicorn"),
        "fastapi": _version("fastapi"),
        "httpx": _version("httpx"),
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
