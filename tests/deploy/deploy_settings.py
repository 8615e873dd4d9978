"""The environment variable names a settings class reads (introspected, never listed by hand)."""

from __future__ import annotations

import re

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

# botocore reads these itself; they are not settings of any class.
BOTOCORE = re.compile(
    r"^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|DEFAULT_REGION|CONFIG_FILE"
    r"|SHARED_CREDENTIALS_FILE|ENDPOINT_URL(_[A-Z0-9_]+)?|RETRY_MODE|MAX_ATTEMPTS)$"
)


def env_names(cls: type[BaseSettings]) -> set[str]:
    """Every variable ``cls`` reads, plus botocore's: prefix + field name, or its aliases."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice).upper() for choice in alias.choices}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def is_known(cls: type[BaseSettings], variable: str) -> bool:
    return variable in env_names(cls) or bool(BOTOCORE.match(variable))


def required_env(cls: type[BaseSettings]) -> set[frozenset[str]]:
    """For each required field, the set of names any of which satisfies it."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    required = set()
    for field_name, field in cls.model_fields.items():
        if not field.is_required():
            continue
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            required.add(frozenset(str(c).upper() for c in alias.choices))
        else:
            required.add(frozenset({f"{prefix}{field_name}".upper()}))
    return required
