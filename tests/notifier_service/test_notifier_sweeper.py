"""Dead replicas' queues: the staleness rule, the sweep against the emulator, and replicas that
heartbeat and sweep each other while running."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from notifier_service.aws_resources import create_replica_queue
from notifier_service.metrics import Metrics
from notifier_service.settings import NotifierSettings
from notifier_service.sweeper import (
    HEARTBEAT_TAG,
    Heartbeat,
    QueueSweeper,
    heartbeat_of,
    heartbeat_tags,
    is_stale,
    jittered,
    queue_name,
)
from snapqueue_core.schemas import ImageStatus, NotificationEvent
from snapqueue_core.store import ConnectionRow
from snapqueue_core.transient import GONE_QUEUE_CODES, error_code
from tests.notifier_service.helpers import Replica, Stack, eventually

NOW = 1_700_000_000.0
STALE_AFTER = 900.0
UNTAGGED_STALE_AFTER = 86_400.0
LONG_AGO = str(int(NOW) - 10 * 86_400)

StartReplica = Callable[..., Awaitable[Replica]]


def stale(tags: dict[str, str], created: str | None = None) -> bool:
    return is_stale(
        tags,
        created,
        NOW,
        stale_after=STALE_AFTER,
        untagged_stale_after=UNTAGGED_STALE_AFTER,
    )


def beat(seconds_ago: float) -> dict[str, str]:
    return heartbeat_tags(NOW - seconds_ago)


# The staleness rule, without AWS.


def test_a_fresh_heartbeat_is_alive() -> None:
    assert not stale(beat(0))
    assert not stale(beat(STALE_AFTER - 1))
    # The creation time does not matter once there is a heartbeat.
    assert not stale(beat(60), created=LONG_AGO)


def test_an_old_heartbeat_is_stale() -> None:
    assert stale(beat(STALE_AFTER + 1))
    assert stale(beat(STALE_AFTER * 10), created=str(int(NOW)))
    assert not stale(beat(STALE_AFTER))  # exactly the threshold: not yet


def test_without_a_heartbeat_the_creation_time_decides_with_the_longer_threshold() -> None:
    assert stale({}, created=LONG_AGO)
    assert not stale({}, created=str(int(NOW - 60)))
    # Past the heartbeat threshold but not the untagged one: an older version's replica
    # that may still be alive during a rolling deploy.
    assert not stale({}, created=str(int(NOW - STALE_AFTER * 2)))
    assert stale({}, created=str(int(NOW - UNTAGGED_STALE_AFTER - 1)))
    assert not stale({"team": "media"}, created=str(int(NOW - 60)))


@pytest.mark.parametrize(
    "value",
    ["", "yesterday", "nan", "1.7e9", "-5", "0", str(int(NOW + STALE_AFTER + 60))],
)
def test_an_unbelievable_heartbeat_counts_as_none(value: str) -> None:
    tags = {HEARTBEAT_TAG: value}
    assert heartbeat_of(tags, NOW, STALE_AFTER) is None
    assert stale(tags, created=LONG_AGO)
    assert not stale(tags, created=str(int(NOW - 60)))


def test_a_slightly_future_heartbeat_is_believed() -> None:
    # Another replica's clock a little ahead of ours.
    tags = beat(-30)
    assert heartbeat_of(tags, NOW, STALE_AFTER) == int(NOW + 30)
    assert not stale(tags, created=LONG_AGO)


@pytest.mark.parametrize("created", [None, "", "soon", "nan", "inf"])
def test_a_queue_of_unknown_age_is_kept(created: str | None) -> None:
    assert not stale({}, created=created)


def test_fractional_creation_times_are_read() -> None:
    # AWS sends whole seconds; moto sends fractions.
    assert stale({}, created=f"{int(NOW - UNTAGGED_STALE_AFTER - 1)}.25")
    assert not stale({}, created=f"{int(NOW - 60)}.75")


def test_heartbeat_tags_are_whole_unix_seconds() -> None:
    assert heartbeat_tags(NOW + 0.9) == {"snapqueue:heartbeat": str(int(NOW))}


def test_jitter_stays_within_twenty_percent() -> None:
    assert jittered(300, 0.0) == pytest.approx(240)
    assert jittered(300, 0.5) == pytest.approx(300)
    assert jittered(300, 0.999999) == pytest.approx(360, abs=0.01)


def test_queue_name_is_the_last_url_segment() -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/snapqueue-notify-abc"
    assert queue_name(url) == "snapqueue-notify-abc"
    assert queue_name(url + "/") == "snapqueue-notify-abc"


# The sweep against the emulator.


def replica_settings(stack: Stack, **overrides: Any) -> NotifierSettings:
    values = {"replica_id": uuid.uuid4().hex[:12], **overrides}
    return NotifierSettings.from_env(**{**stack.settings.model_dump(), **values})


async def replica_queue(stack: Stack, *, heartbeat_age: float | None = 0) -> str:
    """A queue made the way a replica makes it; ``heartbeat_age`` rewinds its tag."""
    url = await create_replica_queue(stack.clients.sqs, replica_settings(stack))
    if heartbeat_age:
        await stack.clients.sqs.tag_queue(
            QueueUrl=url, Tags=heartbeat_tags(time.time() - heartbeat_age)
        )
    return url


async def exists(stack: Stack, url: str) -> bool:
    try:
        await stack.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    except stack.clients.sqs.exceptions.ClientError as exc:
        if error_code(exc) in GONE_QUEUE_CODES:
            return False
        raise
    return True


def sweeper(stack: Stack, metrics: Metrics | None = None, **overrides: Any) -> QueueSweeper:
    settings = replica_settings(stack, **overrides)
    return QueueSweeper(stack.clients.sqs, settings, metrics or Metrics())


def swept_total(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("notifier_queues_swept_total")
    assert value is not None
    return value


async def test_a_live_queue_survives_and_a_stale_one_is_swept(stack: Stack) -> None:
    live = await replica_queue(stack)
    recent = await replica_queue(stack, heartbeat_age=STALE_AFTER - 60)
    dead = await replica_queue(stack, heartbeat_age=STALE_AFTER + 60)
    metrics = Metrics()
    sweeping = sweeper(stack, metrics)

    assert await sweeping.sweep() == [dead]

    assert not await exists(stack, dead)
    assert await exists(stack, live)
    assert await exists(stack, recent)
    assert swept_total(metrics) == 1
    assert await sweeping.sweep() == []


async def test_another_prefix_is_never_touched(stack: Stack) -> None:
    sqs = stack.clients.sqs
    other = f"other-{uuid.uuid4().hex[:8]}-"
    assert not other.startswith(stack.settings.notify_queue_prefix)
    foreign = (
        await sqs.create_queue(
            QueueName=f"{other}x", tags=heartbeat_tags(time.time() - 10 * STALE_AFTER)
        )
    )["QueueUrl"]
    try:
        assert await sweeper(stack).sweep() == []
        assert await exists(stack, foreign)
    finally:
        await sqs.delete_queue(QueueUrl=foreign)


async def test_the_sweepers_own_queue_is_never_deleted(stack: Stack) -> None:
    settings = replica_settings(stack)
    own = await create_replica_queue(stack.clients.sqs, settings)
    await stack.clients.sqs.tag_queue(
        QueueUrl=own, Tags=heartbeat_tags(time.time() - 10 * STALE_AFTER)
    )
    sweeping = QueueSweeper(stack.clients.sqs, settings, Metrics())

    assert await sweeping.sweep() == []
    assert not await sweeping.sweep_queue(own)
    assert await exists(stack, own)


async def test_an_untagged_queue_is_swept_once_older_than_the_untagged_threshold(
    stack: Stack,
) -> None:
    # A queue made by a notifier older than the sweeper: no heartbeat tag at all.
    name = f"{stack.settings.notify_queue_prefix}{uuid.uuid4().hex[:12]}"
    untagged = (await stack.clients.sqs.create_queue(QueueName=name))["QueueUrl"]
    sweeping = sweeper(
        stack,
        queue_heartbeat_seconds=0.1,
        queue_stale_after_seconds=0.5,
        queue_untagged_stale_after_seconds=1,
    )
    assert await sweeping.sweep() == []
    # CreatedTimestamp is in whole seconds: more than 1 s old within 2 s.
    await eventually(lambda: sweeping.sweep_queue(untagged), within=5, interval=0.25)
    assert not await exists(stack, untagged)


async def test_a_queue_deleted_before_it_is_judged_is_skipped(stack: Stack) -> None:
    gone = await replica_queue(stack, heartbeat_age=STALE_AFTER + 60)
    await stack.clients.sqs.delete_queue(QueueUrl=gone)
    metrics = Metrics()
    assert not await sweeper(stack, metrics).sweep_queue(gone)
    assert swept_total(metrics) == 0


async def test_concurrent_sweeps_delete_each_dead_queue_once_and_never_fail(
    stack: Stack,
) -> None:
    dead = set(
        await asyncio.gather(
            *(replica_queue(stack, heartbeat_age=STALE_AFTER + 60) for _ in range(8))
        )
    )
    live = await replica_queue(stack)
    metrics = [Metrics() for _ in range(3)]
    sweepers = [
        QueueSweeper(stack.clients.sqs, replica_settings(stack), m, page_size=3) for m in metrics
    ]
    results = await asyncio.gather(*(s.sweep() for s in sweepers))
    swept = [url for result in results for url in result]
    assert sorted(swept) == sorted(dead)
    assert sum(swept_total(m) for m in metrics) == len(dead)
    assert await exists(stack, live)


async def test_the_sweep_pages_through_the_listing(stack: Stack) -> None:
    dead = {await replica_queue(stack, heartbeat_age=STALE_AFTER + 60) for _ in range(5)}
    sweeping = QueueSweeper(stack.clients.sqs, replica_settings(stack), Metrics(), page_size=2)
    assert set(await sweeping.sweep()) == dead


async def test_heartbeat_on_a_deleted_queue_is_logged_not_raised(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    gone = await replica_queue(stack)
    await stack.clients.sqs.delete_queue(QueueUrl=gone)
    heartbeat = Heartbeat(stack.clients.sqs, gone, replica_settings(stack))
    with caplog.at_level(logging.WARNING, logger="notifier_service.sweeper"):
        assert not await heartbeat.beat()
    assert "the replica queue is gone" in caplog.text


# Running replicas.


async def heartbeat_value(stack: Stack, url: str) -> int:
    tags = (await stack.clients.sqs.list_queue_tags(QueueUrl=url)).get("Tags", {})
    return int(tags[HEARTBEAT_TAG])


async def test_a_replica_does_not_sweep_at_startup(
    stack: Stack, start_replica: StartReplica
) -> None:
    dead = await replica_queue(stack, heartbeat_age=STALE_AFTER + 60)
    replica = await start_replica(queue_sweep_interval_seconds=60)
    await asyncio.sleep(0.3)
    assert await exists(stack, dead)
    assert await swept_count(replica) == 0


async def test_a_replica_refreshes_its_heartbeat(stack: Stack, start_replica: StartReplica) -> None:
    replica = await start_replica(queue_heartbeat_seconds=0.5, queue_stale_after_seconds=3)
    assert abs(await heartbeat_value(stack, replica.queue_url) - time.time()) < 5
    await stack.clients.sqs.tag_queue(QueueUrl=replica.queue_url, Tags={HEARTBEAT_TAG: "1000"})

    async def refreshed() -> bool:
        return await heartbeat_value(stack, replica.queue_url) > time.time() - 5

    await eventually(refreshed, within=5)


async def test_a_replica_whose_queue_vanished_keeps_running(
    stack: Stack, start_replica: StartReplica, caplog: pytest.LogCaptureFixture
) -> None:
    replica = await start_replica(queue_heartbeat_seconds=0.2, queue_stale_after_seconds=1)
    with caplog.at_level(logging.WARNING, logger="notifier_service.sweeper"):
        await stack.clients.sqs.delete_queue(QueueUrl=replica.queue_url)
        await eventually(lambda: _logged(caplog, "the replica queue is gone"), within=5)
    assert not replica.task.done()
    async with httpx.AsyncClient(base_url=replica.http_url) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["reason"] == "the replica queue is gone"


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text


async def swept_count(replica: Replica) -> float:
    async with httpx.AsyncClient(base_url=replica.http_url) as http:
        text = (await http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("notifier_queues_swept_total "):
            return float(line.split()[1])
    raise AssertionError("notifier_queues_swept_total is not exported")


async def test_a_killed_replicas_queue_is_swept_by_the_live_replicas(
    stack: Stack, start_replica: StartReplica
) -> None:
    fast = {
        "queue_heartbeat_seconds": 0.5,
        "queue_stale_after_seconds": 3,
        "queue_sweep_interval_seconds": 0.5,
    }
    # A replica SIGKILLed right after start: its queue is tagged once, then never again,
    # and a browser's routing row still points at it.
    dead_queue = await replica_queue(stack)
    image_id = await stack.new_image()
    await stack.connections.put(
        ConnectionRow(
            image_id=image_id,
            connection_id=uuid.uuid4().hex,
            replica="killed",
            queue_url=dead_queue,
        ),
        ttl_seconds=3600,
    )
    replicas = [await start_replica(**fast), await start_replica(**fast)]

    await eventually(lambda: _gone(stack, dead_queue), within=15, interval=0.25)

    assert sum([await swept_count(replica) for replica in replicas]) == 1
    # Several more sweeps: the live replicas' queues stay.
    await asyncio.sleep(1.5)
    for replica in replicas:
        assert await exists(stack, replica.queue_url)
        assert not replica.task.done()
    # The row outlives the queue until the next event for the image: publishing to it is
    # not an error, and the publisher then deletes the row.
    assert [row.queue_url for row in await stack.connections.for_image(image_id)] == [dead_queue]
    event = NotificationEvent.progress(image_id, ImageStatus.PROCESSING)
    assert await stack.publish(event) == 0
    assert await stack.connections.for_image(image_id) == []


async def _gone(stack: Stack, url: str) -> bool:
    return not await exists(stack, url)
