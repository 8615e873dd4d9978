"""``python -m notifier_service``: one notifier replica, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from snapqueue_core.startup import freeze_startup_heap, settings_or_exit
from snapqueue_core.waiting import StartupTimeout

from .app import Notifier
from .heap import ConnectionFreezer
from .settings import NotifierSettings

SERVICE = "notifier-service"
log = logging.getLogger("notifier_service")


async def serve_until_signalled(settings: NotifierSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    notifier = Notifier(settings)
    freeze = asyncio.create_task(freeze_when_ready(notifier, settings))
    try:
        await notifier.run(stop)
    finally:
        freeze.cancel()


async def freeze_when_ready(notifier: Notifier, settings: NotifierSettings) -> None:
    await notifier.ready.wait()
    freeze_startup_heap()
    if settings.heap_freeze_interval_seconds:
        freezer = ConnectionFreezer(
            notifier.registry,
            settings.heap_freeze_interval_seconds,
            settings.heap_full_collection_seconds,
            on_freeze=lambda kind: notifier.metrics.heap_freezes.labels(kind).inc(),
        )
        await freezer.run()


def main() -> None:
    settings = settings_or_exit(NotifierSettings, SERVICE)
    try:
        asyncio.run(serve_until_signalled(settings))
    # Before OSError, which it is (a TimeoutError).
    except StartupTimeout as exc:
        log.error("startup failed", extra={"error": str(exc)})
        sys.exit(1)
    except OSError as exc:
        # Typically the port is taken.
        log.error("could not listen", extra={"error": str(exc), "port": settings.http_port})
        sys.exit(1)
    log.info("stopped")


if __name__ == "__main__":
    main()
