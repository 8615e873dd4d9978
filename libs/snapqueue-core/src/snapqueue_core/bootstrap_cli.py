"""``snapqueue-bootstrap``: apply the resource declaration to whatever AWS the environment names."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from contextlib import AsyncExitStack

from aiobotocore.session import get_session

from .aws import create_client, open_clients
from .resources import bootstrap, declare
from .settings import CoreSettings
from .startup import settings_or_exit
from .user_pool import UserPoolSpec, ensure_user_pool
from .waiting import StartupTimeout, wait_until

log = logging.getLogger("snapqueue.bootstrap")

# Exit status when AWS never answered within --wait (2 is argparse's usage error).
EXIT_AWS_UNREACHABLE = 1


async def run(settings: CoreSettings, wait_seconds: float) -> dict[str, object]:
    async with AsyncExitStack() as stack:
        clients = await open_clients(stack, settings)
        resources = declare(settings)

        async def apply() -> dict[str, object]:
            summary = await bootstrap(clients, resources, settings.aws_region)
            if settings.user_pool_name:
                summary["userPool"] = await apply_user_pool(
                    stack, settings, settings.user_pool_name
                )
            return summary

        # The emulator may still be starting (docker-compose, make run): the bootstrap is
        # idempotent, so a try cut short by a dropped connection is simply run again.
        return await wait_until(apply, timeout=wait_seconds, what="AWS (to bootstrap)")


async def apply_user_pool(
    stack: AsyncExitStack, settings: CoreSettings, pool_name: str
) -> dict[str, str]:
    """The emulator's sign-in: the pool, its SPA client and the admins group."""
    cognito = await stack.enter_async_context(create_client(get_session(), "cognito-idp", settings))
    spec = UserPoolSpec(pool_name, settings.user_pool_client_name)
    ids = await ensure_user_pool(cognito, spec, settings.aws_region)
    return {"userPoolId": ids.user_pool_id, "clientId": ids.client_id, "issuer": ids.issuer}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snapqueue-bootstrap", description=__doc__)
    parser.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for AWS to answer (default 60)"
    )
    args = parser.parse_args(argv)
    settings = settings_or_exit(CoreSettings, "snapqueue-bootstrap")
    try:
        summary = asyncio.run(run(settings, args.wait))
    except StartupTimeout as exc:
        log.error("bootstrap failed", extra={"error": str(exc)})
        return EXIT_AWS_UNREACHABLE
    log.info("bootstrap complete", extra={"resources": summary})
    print(json.dumps(summary))
    return 0
