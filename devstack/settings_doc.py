"""Render the README's configuration table from the settings classes themselves.

``python -m devstack.settings_doc --write`` updates README.md; a test fails when it is stale,
so the table can never drift from the code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from snapqueue_core.settings import CoreSettings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"

SERVICES = {
    "upload-service": "upload_service.settings:UploadServiceSettings",
    "processing-worker": "processing_worker.settings:WorkerSettings",
    "notifier-service": "notifier_service.settings:NotifierSettings",
}


def load(path: str) -> type[CoreSettings]:
    module, name = path.split(":")
    cls: type[CoreSettings] = getattr(importlib.import_module(module), name)
    return cls


def env_names(cls: type[CoreSettings], name: str, info: FieldInfo) -> list[str]:
    alias = info.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return [str(choice) for choice in choices]
    if isinstance(alias, str):
        return [alias]
    prefix = str(cls.model_config.get("env_prefix", ""))
    return [f"{prefix}{name}".upper()]


def default_of(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return ""
    else:
        value = info.default
    if value is None:
        return "unset"
    if isinstance(value, list):
        return "`" + ",".join(str(v) for v in value) + "`"
    if isinstance(value, dict):
        return "`" + json.dumps(value) + "`"
    return f"`{value}`"


def rows_for(cls: type[CoreSettings], skip: set[str]) -> list[str]:
    rows = []
    for name, info in cls.model_fields.items():
        if name in skip:
            continue
        variables = " / ".join(f"`{v}`" for v in env_names(cls, name, info))
        description = (info.description or "").replace("|", "\\|")
        rows.append(f"| {variables} | {default_of(info)} | {description} |")
    return rows


def render() -> str:
    core_fields = set(CoreSettings.model_fields)
    parts = [
        "### Every service (core)",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
        *rows_for(CoreSettings, skip=set()),
    ]
    for service, path in SERVICES.items():
        cls = load(path)
        rows = rows_for(cls, skip=core_fields)
        parts += ["", f"### {service}", "", "| variable | default | meaning |", "| --- | --- |"]
        parts[-1] = "| --- | --- | --- |"
        parts += rows
    return "\n".join(parts)


def updated_readme() -> str:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{render()}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite README.md in place")
    args = parser.parse_args()
    new = updated_readme()
    if args.write:
        README.write_text(new)
        return 0
    if new != README.read_text():
        print("README.md's settings table is stale: python -m devstack.settings_doc --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
