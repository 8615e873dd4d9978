"""A real notifier replica fed without SQS: ``python -m bench.notifier_direct``.

Runs :class:`notifier_service.app.Notifier` (its WebSocket server, registry, registration
path and queue consumer) in this process and, on command, dispatches events through the
replica's own delivery code (``EventDispatcher``: registry lookup, rendering, per-socket
send with a timeout) at a fixed rate. Only the SQS hop is skipped: the emulator's SQS
carries far fewer messages per second than the rate being measured.

Protocol: prints ``{"port": N}``; reads one JSON line ``{"rate", "seconds", "images"}``;
dispatches ``rate × seconds`` PROCESSING events round-robin over ``images``; prints
``{"sent": {imageId: [wall-clock send times]}, "seconds": publishing time}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from contextlib import AsyncExitStack

from notifier_service.app import Notifier
from notifier_service.delivery import EventDispatcher, EventRenderer, Sender
from notifier_service.settings import NotifierSettings
from snapqueue_core.aws import open_clients
from snapqueue_core.logs import configure_logging
from snapqueue_core.schemas import ImageStatus, NotificationEvent
from snapqueue_core.urls import VariantUrls

TICK_SECONDS = 0.01


async def publish(
    dispatcher: EventDispatcher, images: list[str], rate: int, seconds: float
) -> tuple[dict[str, list[float]], float]:
    sent: dict[str, list[float]] = {image_id: [] for image_id in images}
    total = int(rate * seconds)
    done = 0
    start = time.perf_counter()
    while done < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while done < due:
            image_id = images[done % len(images)]
            event = NotificationEvent.progress(image_id, ImageStatus.PROCESSING)
            sent[image_id].append(time.time())
            await dispatcher.dispatch(event)
            done += 1
        await asyncio.sleep(TICK_SECONDS)
    return sent, time.perf_counter() - start


async def main() -> None:
    settings = NotifierSettings.from_env(http_port=0)
    configure_logging("notifier-service", "WARNING")
    notifier = Notifier(settings)
    stop = asyncio.Event()
    serving = asyncio.create_task(notifier.run(stop))
    await notifier.ready.wait()
    print(json.dumps({"port": notifier.port}), flush=True)
    loop = asyncio.get_running_loop()
    command = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    async with AsyncExitStack() as exits:
        clients = await open_clients(exits, settings)
        dispatcher = EventDispatcher(
            notifier.registry,
            EventRenderer(VariantUrls(clients.s3_presign, settings)),
            Sender(settings.send_timeout_seconds, notifier.metrics),
            notifier.metrics,
        )
        sent, seconds = await publish(
            dispatcher, command["images"], command["rate"], command["seconds"]
        )
    print(json.dumps({"sent": sent, "seconds": seconds}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # the parent's clients are done
    stop.set()
    await serving


if __name__ == "__main__":
    asyncio.run(main())
