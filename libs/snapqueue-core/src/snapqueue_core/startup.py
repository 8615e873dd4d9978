"""What every entry point does first: its settings, once, or a clear exit."""

from __future__ import annotations

import gc
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


def freeze_startup_heap() -> None:
    """Take what startup built out of every later garbage collection.

    A service's modules, botocore's service models and its open clients are a couple of
    hundred thousand objects that live as long as the process, and every full collection
    walked them all, holding the GIL long enough to show in request latencies: meanwhile
    the event loop read no socket and sent nothing (a notifier's deliveries, an
    upload-service's responses) and, on the worker's one core, CPU was taken from its jobs.
    Frozen, they are never walked again; what requests leave behind still is. Call it
    once, from a service's entry point when it is ready: never from a library or a test,
    whose objects it would pin.
    """
    gc.collect()
    gc.freeze()
