"""NotifierSettings: defaults, environment, and the per-process replica id."""

from __future__ import annotations

import pytest

from notifier_service.settings import NotifierSettings
from snapqueue_core.settings import SettingsError


def test_defaults() -> None:
    settings = NotifierSettings.from_env()
    assert settings.http_host == "127.0.0.1"
    assert settings.http_port == 8001
    assert settings.origins == settings.cors_origins
    assert settings.allow_missing_origin
    assert settings.notify_queue_name == f"snapqueue-notify-{settings.replica_id}"
    assert settings.queue_heartbeat_seconds == 60
    assert settings.queue_sweep_interval_seconds == 300
    assert settings.queue_stale_after_seconds == 900
    assert settings.queue_untagged_stale_after_seconds == 86_400


def test_each_process_gets_its_own_replica_id() -> None:
    first, second = NotifierSettings.from_env(), NotifierSettings.from_env()
    assert first.replica_id != second.replica_id
    assert len(first.replica_id) == 12


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPQUEUE_HTTP_PORT", "0")
    monkeypatch.setenv("SNAPQUEUE_REPLICA_ID", "notifier-a")
    monkeypatch.setenv("SNAPQUEUE_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("SNAPQUEUE_MAX_MESSAGE_BYTES", "2048")
    monkeypatch.setenv("SNAPQUEUE_PING_INTERVAL", "5")
    settings = NotifierSettings.from_env()
    assert settings.http_port == 0
    assert settings.replica_id == "notifier-a"
    assert settings.origins == ["https://a.example", "https://b.example"]
    assert settings.max_message_bytes == 2048
    assert settings.ping_interval == 5.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("replica_id", "has space"),
        ("replica_id", "x" * 41),
        ("max_message_bytes", "10"),
        ("notify_wait_seconds", "21"),
        ("send_timeout_seconds", "0"),
    ],
)
def test_invalid_values_name_the_field(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        NotifierSettings.from_env(**{name: value})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"queue_heartbeat_seconds": 400}, "queue_stale_after_seconds.*3 × queue_heartbeat"),
        (
            {"queue_heartbeat_seconds": 10, "queue_stale_after_seconds": 29},
            "queue_stale_after_seconds",
        ),
        ({"queue_untagged_stale_after_seconds": 600}, "queue_untagged_stale_after_seconds"),
        ({"notify_queue_prefix": "snapqueue-"}, "notify_queue_prefix.*upload_queue"),
        ({"notify_queue_prefix": "dlq-", "upload_dlq": "dlq-uploads"}, "upload_dlq"),
        ({"notify_queue_prefix": ""}, "notify_queue_prefix.*empty"),
    ],
)
def test_sweeper_settings_that_could_sweep_the_wrong_queue_are_refused(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        NotifierSettings.from_env(**overrides)


def test_sweeper_thresholds_at_their_minimum() -> None:
    settings = NotifierSettings.from_env(
        queue_heartbeat_seconds=10,
        queue_stale_after_seconds=30,
        queue_untagged_stale_after_seconds=30,
    )
    assert settings.queue_stale_after_seconds == 3 * settings.queue_heartbeat_seconds


def test_token_settings_come_from_the_auth_environment(aws_env: dict[str, str]) -> None:
    settings = NotifierSettings.from_env()
    assert settings.auth_issuer == aws_env["SNAPQUEUE_AUTH_ISSUER"]
    assert settings.auth_client_ids == [aws_env["SNAPQUEUE_AUTH_CLIENT_IDS"]]
    assert settings.jwks_url == aws_env["SNAPQUEUE_AUTH_JWKS_URL"]
    assert settings.auth_admin_group == "admins"


def test_the_issuer_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNAPQUEUE_AUTH_ISSUER")
    with pytest.raises(SettingsError, match="auth_issuer"):
        NotifierSettings.from_env()
