"""``python -m notifier_service``: one notifier replica, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from snapqueue_core.logs import configure_logging
from snapqueue_core.settings import SettingsError

from .app import run
from .errors import StartupError
from .settings import NotifierSettings

SERVICE = "notifier-service"
log = logging.getLogger("notifier_service")


async def serve_until_signalled(settings: NotifierSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run(settings, stop)


def main() -> None:
    try:
        settings = NotifierSettings.from_env()
    except SettingsError as exc:
        print(f"{SERVICE}: {exc}", file=sys.stderr)
        sys.exit(2)
    configure_logging(SERVICE, settings.log_level)
    try:
        asyncio.run(serve_until_signalled(settings))
    except StartupError as exc:
        log.error("startup failed", extra={"error": str(exc)})
        sys.exit(1)
    except OSError as exc:
        # Typically the port is taken.
        log.error("could not listen", extra={"error": str(exc), "port": settings.http_port})
        sys.exit(1)
    log.info("stopped")


if __name__ == "__main__":
    main()
