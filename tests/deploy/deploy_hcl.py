"""Read the Terraform with python-hcl2 and resolve the few expressions the checks need.

python-hcl2 keeps string quotes and wraps expressions as ``${...}``; this module unquotes
literals and resolves ``var.x`` through the module call in the root configuration, then the
root variable's default overridden by a tfvars file. Anything else stays an expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM = Path(__file__).resolve().parents[2] / "infrastructure" / "terraform"
_VAR = re.compile(r"^\$\{var\.([A-Za-z0-9_]+)\}$")


def unquote(value: Any) -> Any:
    """``'"abc"'`` -> ``'abc'``; lists and dicts recursively; expressions unchanged."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {
            unquote(k): unquote(v)
            for k, v in value.items()
            if k not in ("__is_block__", "__comments__")
        }
    return value


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle)  # type: ignore[no-any-return]


def tf_files(root: Path = TERRAFORM) -> list[Path]:
    return sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def blocks(directory: Path, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(type, name): body}`` of every ``resource`` or ``data`` block in one module."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in load(path).get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    found[(unquote(rtype), unquote(name))] = body
    return found


def raw_comments(body: dict[str, Any]) -> list[str]:
    return [c["value"] for c in body.get("__comments__", [])]


def variables(directory: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in load(path).get("variable", []):
            for name, body in entry.items():
                found[unquote(name)] = unquote(body)
    return found


def module_calls(directory: Path = TERRAFORM) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in load(path).get("module", []):
            for name, body in entry.items():
                found[unquote(name)] = unquote(body)
    return found


@dataclass
class Environment:
    """Root variables as one environment's tfvars sets them (defaults otherwise)."""

    name: str
    values: dict[str, Any]

    @classmethod
    def from_tfvars(cls, env: str) -> Environment:
        values = {
            name: body["default"]
            for name, body in variables(TERRAFORM).items()
            if "default" in body
        }
        values.update(unquote(load(TERRAFORM / "vars" / f"{env}.tfvars")))
        return cls(env, values)

    def in_module(self, module: str, expression: Any) -> Any:
        """Resolve ``${var.x}`` inside ``module`` through its call in the root, then the root."""
        match = _VAR.match(expression) if isinstance(expression, str) else None
        if not match:
            return unquote(expression)
        argument = module_calls()[module][match.group(1)]
        return self.in_root(argument)

    def in_root(self, expression: Any) -> Any:
        match = _VAR.match(expression) if isinstance(expression, str) else None
        if not match:
            return unquote(expression)
        return self.values[match.group(1)]
