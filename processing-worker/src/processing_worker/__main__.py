"""``python -m processing_worker``: run the worker until SIGTERM or SIGINT, then exit 0."""

from __future__ import annotations

import asyncio
import signal
import sys

from snapqueue_core.startup import freeze_startup_heap, settings_or_exit

from .app import StartupError, WorkerApp
from .settings import WorkerSettings

SERVICE = "processing-worker"


async def serve(settings: WorkerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with WorkerApp(settings) as app:
        freeze_startup_heap()
        await app.run(stop)


def main() -> None:
    settings = settings_or_exit(WorkerSettings, SERVICE)
    try:
        asyncio.run(serve(settings))
    except StartupError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
