"""``snapqueue-bootstrap``: apply the resource declaration to whatever AWS the environment names."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from contextlib import AsyncExitStack

from botocore.exceptions import BotoCoreError, ClientError

from .aws import open_clients
from .resources import bootstrap, declare
from .settings import CoreSettings
from .startup import settings_or_exit

log = logging.getLogger("snapqueue.bootstrap")


async def run(settings: CoreSettings, wait_seconds: float) -> dict[str, object]:
    deadline = time.monotonic() + wait_seconds
    async with AsyncExitStack() as stack:
        clients = await open_clients(stack, settings)
        while True:
            try:
                return await bootstrap(clients, declare(settings), settings.aws_region)
            except (BotoCoreError, ClientError, OSError) as exc:
                # The emulator may still be starting (docker-compose, make run): retry.
                if time.monotonic() >= deadline:
                    raise
                log.info("AWS not reachable yet, retrying", extra={"error": repr(exc)})
                await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snapqueue-bootstrap", description=__doc__)
    parser.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for AWS to answer (default 60)"
    )
    args = parser.parse_args(argv)
    settings = settings_or_exit(CoreSettings, "snapqueue-bootstrap")
    summary = asyncio.run(run(settings, args.wait))
    log.info("bootstrap complete", extra={"resources": summary})
    print(json.dumps(summary))
    return 0
