import pytest

from snapqueue_core.settings import CoreSettings, SettingsError


def test_missing_region_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(SettingsError, match="AWS_REGION: Field required"):
        CoreSettings.from_env()


def test_region_also_read_from_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    assert CoreSettings.from_env().aws_region == "eu-west-3"


def test_values_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPQUEUE_UPLOADS_BUCKET", "my-bucket")
    monkeypatch.setenv("SNAPQUEUE_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("SNAPQUEUE_MAX_UPLOAD_BYTES", "1000")
    settings = CoreSettings.from_env()
    assert settings.uploads_bucket == "my-bucket"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.max_upload_bytes == 1000


def test_json_list_of_origins_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPQUEUE_CORS_ORIGINS", '["https://a.example"]')
    assert CoreSettings.from_env().cors_origins == ["https://a.example"]


def test_invalid_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPQUEUE_MAX_UPLOAD_BYTES", "-1")
    with pytest.raises(SettingsError, match="max_upload_bytes"):
        CoreSettings.from_env()


def test_settings_are_frozen() -> None:
    settings = CoreSettings.from_env()
    with pytest.raises(ValueError, match="frozen"):
        settings.uploads_bucket = "other"  # type: ignore[misc]


def test_every_service_parses_a_single_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    from devstack.settings_doc import SERVICES, load

    monkeypatch.setenv("SNAPQUEUE_CORS_ORIGINS", "http://127.0.0.1:5173")
    for path in SERVICES.values():
        assert load(path).from_env().cors_origins == ["http://127.0.0.1:5173"], path


def test_settings_or_exit_names_the_problem_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from snapqueue_core.startup import settings_or_exit

    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(SystemExit) as exited:
        settings_or_exit(CoreSettings, "some-service")
    assert exited.value.code == 2
    assert "some-service: invalid CoreSettings: AWS_REGION" in capsys.readouterr().err
