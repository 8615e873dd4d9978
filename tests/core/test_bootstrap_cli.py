"""`snapqueue-bootstrap`, the command docker-compose's init service runs."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from devstack.stack import unique_resource_env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "snapqueue-bootstrap"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_applies_the_declaration_and_prints_a_summary(aws_env: dict[str, str]) -> None:
    names = unique_resource_env()
    env = {**os.environ, **names}
    first = run_cli(env, "--wait", "5")
    assert first.returncode == 0, first.stderr
    summary: dict[str, Any] = json.loads(first.stdout)
    assert set(summary["queues"]) == {
        names["SNAPQUEUE_UPLOAD_QUEUE"],
        names["SNAPQUEUE_UPLOAD_DLQ"],
    }
    assert set(summary["buckets"]) == {
        names["SNAPQUEUE_UPLOADS_BUCKET"],
        names["SNAPQUEUE_PROCESSED_BUCKET"],
    }
    again = run_cli(env, "--wait", "5")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == summary


def test_missing_region_is_a_clear_usage_error() -> None:
    env = {k: v for k, v in os.environ.items() if k != "AWS_REGION"}
    result = run_cli(env)
    assert result.returncode == 2
    assert "AWS_REGION" in result.stderr
