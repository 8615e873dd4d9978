"""Replay a Dockerfile's Python build without Docker: what its stages COPY, its `uv sync`, its CMD.

This machine (and CI) has no Docker engine. The images' Python parts are still checkable: the
builder stage's COPY lines and its `uv sync` command, run in a scratch folder against the same
lockfile (offline, from uv's cache), show whether the image's virtualenv can be built from
exactly what the Dockerfile copies; the runtime stage's COPY lines and CMD, run with that
virtualenv, show whether the image starts with nothing but what it contains.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


@dataclass
class Stage:
    name: str
    steps: list[tuple[str, str]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for keyword, args in self.steps:
            if keyword == "ENV":
                for pair in shlex.split(args):
                    name, _, value = pair.partition("=")
                    values[name] = value
        return values

    def workdir(self) -> str:
        dirs = [args for keyword, args in self.steps if keyword == "WORKDIR"]
        return dirs[-1] if dirs else "/"

    def copies(self) -> list[tuple[list[str], str]]:
        """(sources, destination) of each COPY from the build context."""
        found = []
        for keyword, args in self.steps:
            if keyword == "COPY" and "--from=" not in args:
                *sources, destination = shlex.split(args)
                found.append((sources, destination))
        return found

    def runs(self) -> list[str]:
        return [args for keyword, args in self.steps if keyword == "RUN"]

    def cmd(self) -> list[str]:
        commands = [args for keyword, args in self.steps if keyword == "CMD"]
        argv = json.loads(commands[-1])  # exec form: a JSON array
        assert isinstance(argv, list), commands[-1]
        return [str(item) for item in argv]


def stages(dockerfile: Path) -> list[Stage]:
    found: list[Stage] = []
    for keyword, args in instructions(dockerfile):
        if keyword == "FROM":
            found.append(Stage(args.split()[-1]))
        elif found:
            found[-1].steps.append((keyword, args))
    return found


def under(root: Path, image_path: str) -> Path:
    return root / image_path.lstrip("/")


def copy_into(root: Path, stage: Stage) -> None:
    """Do the stage's COPY lines from the repository into ``root`` (the image's filesystem)."""
    workdir = stage.workdir()
    for sources, destination in stage.copies():
        absolute = destination if destination.startswith("/") else f"{workdir}/{destination}"
        target = under(root, absolute)
        for source in sources:
            origin = ROOT / source
            assert origin.exists(), f"COPY {source}: not in the repository"
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            elif destination.endswith("/") or len(sources) > 1 or destination in ("./", "."):
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


def uv() -> str:
    # The Makefile installs uv there when none is on PATH; `make test` always has one.
    found = shutil.which("uv") or str(ROOT / ".tools" / "uv" / "bin" / "uv")
    assert Path(found).exists(), "uv is missing: run `make install-python`"
    return found


def build_venv(dockerfile: Path, root: Path) -> Path:
    """Replay the builder stage into ``root``; returns the image's virtualenv (in ``root``)."""
    builder = stages(dockerfile)[0]
    copy_into(root, builder)
    env = builder.env()
    venv = under(root, env["UV_PROJECT_ENVIRONMENT"])
    syncs = [run for run in builder.runs() if run.startswith("uv sync")]
    assert len(syncs) == 1, builder.runs()
    process_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))},
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    # The image's python is /usr/local/bin/python3.11; here, whichever 3.11 uv finds. Offline:
    # everything must come from the lockfile through uv's cache, as in the image build.
    result = subprocess.run(
        [uv(), *shlex.split(syncs[0])[1:], "--offline", "--python", "3.11"],
        cwd=under(root, builder.workdir()),
        env=process_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return venv


def image_root(dockerfile: Path, root: Path) -> tuple[Path, Stage]:
    """The image's filesystem: the builder's virtualenv and the runtime stage's own COPYs."""
    build_venv(dockerfile, root)
    runtime = stages(dockerfile)[-1]
    copy_into(root, runtime)
    return root, runtime


def runtime_env(root: Path, runtime: Stage) -> dict[str, str]:
    """The runtime stage's ENV with image paths mapped into ``root``; nothing from this repo."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("AWS_", "SNAPQUEUE_", "LANG", "LC_", "HOME"))
    }
    for name, value in runtime.env().items():
        env[name] = value.replace("/opt/", f"{root}/opt/")
    env["PATH"] = env.get("PATH", "").replace("$PATH", "/usr/bin:/bin")
    env.pop("PYTHONPATH", None)
    return env
