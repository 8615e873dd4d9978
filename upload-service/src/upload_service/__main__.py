"""``python -m upload_service``: settings from the environment, then uvicorn until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator

import uvicorn

from snapqueue_core.startup import freeze_startup_heap, settings_or_exit

from .app import SERVICE_NAME, create_app
from .settings import UploadServiceSettings

log = logging.getLogger(__name__)

# uvicorn returns from serve() without raising when the lifespan startup fails.
EXIT_STARTUP_FAILED = 3
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def bound_port(server: uvicorn.Server) -> int | None:
    """The port the OS picked (for port 0), read from the listening sockets."""
    for listener in server.servers:
        for sock in listener.sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                return int(sock.getsockname()[1])
    return None


class AnnouncingServer(uvicorn.Server):
    """Logs the real bound port once listening; SIGTERM/SIGINT end it with exit status 0.

    uvicorn's own handlers re-raise the signal after shutdown, which would make the
    process die *by* the signal instead of exiting 0 as the conventions require.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in HANDLED_SIGNALS:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in HANDLED_SIGNALS:
                loop.remove_signal_handler(sig)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            log.info("listening", extra={"host": self.config.host, "port": bound_port(self)})
            freeze_startup_heap()


def build_server(settings: UploadServiceSettings) -> AnnouncingServer:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )
    return AnnouncingServer(config)


async def serve(settings: UploadServiceSettings) -> int:
    server = build_server(settings)
    await server.serve()
    return 0 if server.started else EXIT_STARTUP_FAILED


def main() -> None:
    settings = settings_or_exit(UploadServiceSettings, SERVICE_NAME)
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
