"""Queues of dead replicas: each replica's heartbeat tag, and the sweep that deletes stale ones.

SQS queues never expire, so a replica killed without a clean shutdown (SIGKILL, OOM, a lost
host) would leave its queue behind for good, and the worker would keep sending into it
until the routing rows' TTL. Each replica therefore writes the time it was last alive into a
tag of its own queue (:class:`Heartbeat`), and every replica now and then deletes the queues
under the notify prefix whose heartbeat is too old (:class:`QueueSweeper`).

The decision is pure (:func:`heartbeat_of`, :func:`is_stale`); the classes only make the
calls. A live replica is never swept: it refreshes its tag every ``queue_heartbeat_seconds``
and a queue is stale only after ``queue_stale_after_seconds``, at least three heartbeats.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Mapping

from botocore.exceptions import ClientError

from snapqueue_core.aws import SQSClient
from snapqueue_core.transient import (
    AWS_CALL_ERRORS,
    GONE_QUEUE_CODES,
    STALE_TOKEN_CODES,
    error_code,
)

from .metrics import Metrics
from .settings import NotifierSettings

log = logging.getLogger(__name__)

HEARTBEAT_TAG = "snapqueue:heartbeat"
# Sweeps are spread by ±20% so replicas started together do not list and tag-read in step.
SWEEP_JITTER = 0.2
LIST_PAGE_SIZE = 1000
LIST_ATTEMPTS = 3


def heartbeat_tags(now: float) -> dict[str, str]:
    """The tags saying "alive at ``now``" (unix seconds)."""
    return {HEARTBEAT_TAG: str(int(now))}


def heartbeat_of(tags: Mapping[str, str], now: float, stale_after: float) -> int | None:
    """The heartbeat (unix seconds) in ``tags``; ``None`` when absent or not believable.

    A value that is not a positive integer, or that lies further in the future than a whole
    stale period (no clock is that wrong), is treated as no heartbeat at all: the queue is
    then judged by its age instead, which is the cautious side.
    """
    raw = tags.get(HEARTBEAT_TAG)
    if raw is None:
        return None
    try:
        beat = int(raw)
    except ValueError:
        return None
    if beat <= 0 or beat > now + stale_after:
        return None
    return beat


def is_stale(
    tags: Mapping[str, str],
    created_timestamp: str | None,
    now: float,
    *,
    stale_after: float,
    untagged_stale_after: float,
) -> bool:
    """Whether a replica queue belongs to a dead replica and may be deleted.

    With a heartbeat: older than ``stale_after``. Without one (a queue made by a version
    before the sweeper, which may well be alive during a rolling deploy): created more than
    ``untagged_stale_after`` ago. A queue whose age cannot be read is kept.
    """
    beat = heartbeat_of(tags, now, stale_after)
    if beat is not None:
        return now - beat > stale_after
    created = created_at(created_timestamp)
    if created is None:
        return False
    return now - created > untagged_stale_after


def created_at(created_timestamp: str | None) -> float | None:
    """SQS's ``CreatedTimestamp`` (whole unix seconds on AWS, fractional on moto)."""
    if created_timestamp is None:
        return None
    try:
        created = float(created_timestamp)
    except ValueError:
        return None
    return created if math.isfinite(created) else None


def queue_name(queue_url: str) -> str:
    """The queue name, last segment of its URL (``…/123456789012/<name>``)."""
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def jittered(interval: float, unit: float) -> float:
    """``interval`` moved by up to ±``SWEEP_JITTER``; ``unit`` is uniform in [0, 1)."""
    return interval * (1 - SWEEP_JITTER + 2 * SWEEP_JITTER * unit)


class Heartbeat:
    """Refreshes this replica's heartbeat tag every ``queue_heartbeat_seconds``.

    The queue is tagged at creation, so the loop starts with a sleep. A failed refresh is
    logged and tried again next period: missing a few is what the stale threshold allows.
    """

    def __init__(self, sqs: SQSClient, queue_url: str, settings: NotifierSettings) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._interval = settings.queue_heartbeat_seconds

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.beat()

    async def beat(self) -> bool:
        """Refresh the tag once; ``False`` (logged) when AWS refused or was unreachable."""
        try:
            await self._sqs.tag_queue(QueueUrl=self._queue_url, Tags=heartbeat_tags(time.time()))
        except AWS_CALL_ERRORS as exc:
            code = error_code(exc)
            if code in GONE_QUEUE_CODES:
                # Another replica judged this one dead (it went a whole stale period without
                # a heartbeat): events cannot reach it any more, and /readyz says so.
                log.error(
                    "the replica queue is gone; this replica receives no events",
                    extra={"queueUrl": self._queue_url},
                )
            else:
                log.warning(
                    "heartbeat refresh failed; retrying next period",
                    extra={"queueUrl": self._queue_url, "code": code, "error": repr(exc)},
                )
            return False
        return True


class QueueSweeper:
    """Deletes the replica queues under the notify prefix whose owner is dead."""

    def __init__(
        self,
        sqs: SQSClient,
        settings: NotifierSettings,
        metrics: Metrics,
        *,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        self._sqs = sqs
        self._settings = settings
        self._metrics = metrics
        self._page_size = page_size

    async def run(self) -> None:
        """Sweep every interval (jittered), the first time one interval after start."""
        while True:
            # Jitter, not a secret: the standard generator is fine here.
            unit = random.random()  # noqa: S311
            await asyncio.sleep(jittered(self._settings.queue_sweep_interval_seconds, unit))
            try:
                await self.sweep()
            except AWS_CALL_ERRORS as exc:
                # Listing failed; the next sweep lists again.
                log.warning(
                    "queue sweep failed", extra={"code": error_code(exc), "error": repr(exc)}
                )

    async def sweep(self) -> list[str]:
        """One pass over the prefix; the URLs of the queues deleted.

        A listing failure propagates: nothing is known about the queues not yet listed.
        """
        return [url for url in await self._queue_urls() if await self.sweep_queue(url)]

    async def sweep_queue(self, url: str) -> bool:
        """Delete the queue at ``url`` if its replica is dead; whether it was deleted.

        This replica's own queue is never deleted. A queue that is already gone is skipped;
        any other failure is logged and the queue is left for the next sweep.
        """
        if queue_name(url) == self._settings.notify_queue_name:
            return False
        try:
            return await self._delete_if_stale(url)
        except AWS_CALL_ERRORS as exc:
            code = error_code(exc)
            if code in GONE_QUEUE_CODES:
                return False  # deleted meanwhile, by its owner or another sweeper
            log.warning(
                "could not sweep a replica queue",
                extra={"queueUrl": url, "code": code, "error": repr(exc)},
            )
        return False

    async def _queue_urls(self) -> list[str]:
        """Every queue under the prefix, listed before any is judged.

        A page token can name a queue that another replica's sweep deletes between two
        pages (moto then answers ``InvalidToken``): the listing starts over, and the queues
        already gone are simply no longer in it.
        """
        for _ in range(LIST_ATTEMPTS - 1):
            try:
                return await self._list_once()
            except ClientError as exc:
                if error_code(exc) not in STALE_TOKEN_CODES:
                    raise
                log.info("queue listing changed while paging; listing again")
        return await self._list_once()

    async def _list_once(self) -> list[str]:
        # SQS returns a NextToken only when MaxResults is given.
        params = {
            "QueueNamePrefix": self._settings.notify_queue_prefix,
            "MaxResults": self._page_size,
        }
        urls: list[str] = []
        while True:
            response = await self._sqs.list_queues(**params)
            urls += response.get("QueueUrls", [])
            token = response.get("NextToken")
            if not token:
                return urls
            params["NextToken"] = token

    async def _delete_if_stale(self, url: str) -> bool:
        settings = self._settings
        tags = (await self._sqs.list_queue_tags(QueueUrl=url)).get("Tags", {})
        now = time.time()
        beat = heartbeat_of(tags, now, settings.queue_stale_after_seconds)
        created: str | None = None
        if beat is None:
            # Only untagged queues cost the second call.
            attributes = await self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["CreatedTimestamp"]
            )
            created = attributes.get("Attributes", {}).get("CreatedTimestamp")
        if not is_stale(
            tags,
            created,
            now,
            stale_after=settings.queue_stale_after_seconds,
            untagged_stale_after=settings.queue_untagged_stale_after_seconds,
        ):
            return False
        await self._sqs.delete_queue(QueueUrl=url)
        self._metrics.queues_swept.inc()
        ages: dict[str, int | None]
        if beat is not None:
            ages = {"heartbeatAgeSeconds": round(now - beat)}
        else:
            # Judged by its creation time, which is therefore known.
            created_seconds = created_at(created) or now
            ages = {"heartbeatAgeSeconds": None, "queueAgeSeconds": round(now - created_seconds)}
        log.info("swept the queue of a dead replica", extra={"queueUrl": url, **ages})
        return True
