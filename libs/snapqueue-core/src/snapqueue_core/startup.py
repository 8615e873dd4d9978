"""What every entry point does first: its settings, once, or a clear exit."""

from __future__ import annotations

import sys
from typing import TypeVar

from .logs import configure_logging
from .settings import CoreSettings, SettingsError

S = TypeVar("S", bound=CoreSettings)

EXIT_BAD_SETTINGS = 2


def settings_or_exit(cls: type[S], service: str) -> S:
    """Build ``cls`` from the environment and configure JSON logs; exit 2 with the reason
    on stderr when the environment does not describe a runnable service."""
    try:
        settings = cls.from_env()
    except SettingsError as exc:
        print(f"{service}: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_SETTINGS) from exc
    configure_logging(service, settings.log_level)
    return settings
