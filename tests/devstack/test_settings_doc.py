"""The README's configuration table is generated from the settings classes and never stale."""

from devstack.settings_doc import SERVICES, load, render, updated_readme
from devstack.stack import ROOT


def test_readme_settings_table_is_current() -> None:
    assert updated_readme() == (ROOT / "README.md").read_text(), (
        "README.md is stale: run `.venv/bin/python -m devstack.settings_doc --write`"
    )


def test_every_setting_of_every_service_is_documented() -> None:
    table = render()
    for path in SERVICES.values():
        cls = load(path)
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, info in cls.model_fields.items():
            if info.validation_alias is None:
                assert f"`{prefix}{name}`".upper() in table
