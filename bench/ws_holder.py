"""Holds idle WebSocket connections for the notifier benchmark: ``python -m bench.ws_holder URL``.

A line protocol on stdin/stdout lets the parent grow the set in steps: ``hold N`` opens
connections until this process holds N and answers ``held N`` (or ``error ...``);
``quit`` closes them all. Several of these split the sockets across processes and cores.
"""

from __future__ import annotations

import asyncio
import resource
import sys

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

# Concurrent handshakes per process: the server's listen backlog is ~100 by default.
HANDSHAKE_CONCURRENCY = 40
CONNECT_ATTEMPTS = 5


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def open_one(url: str, gate: asyncio.Semaphore) -> ClientConnection:
    async with gate:
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                return await connect(
                    url, ping_interval=None, compression=None, open_timeout=30, max_queue=4
                )
            except OSError:
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def main(url: str) -> None:
    raise_fd_limit()
    held: list[ClientConnection] = []
    gate = asyncio.Semaphore(HANDSHAKE_CONCURRENCY)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        command = line.split()
        if not command or command[0] == "quit":
            break
        target = int(command[1])
        try:
            missing = target - len(held)
            held.extend(await asyncio.gather(*(open_one(url, gate) for _ in range(missing))))
            closed = sum(1 for socket in held if socket.close_code is not None)
            answer = f"held {len(held) - closed}" if not closed else f"error {closed} closed"
        except (OSError, TimeoutError, WebSocketException) as exc:  # the parent fails the run
            answer = f"error {exc!r}"
        print(answer, flush=True)
    await asyncio.gather(*(socket.close() for socket in held), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
