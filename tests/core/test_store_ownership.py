"""Owners, visibility and the gallery in the store: the gallery attribute is present exactly
when a record is COMPLETED and public, whatever order completion and PATCH arrive in."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from snapqueue_core.schemas import ImageRecord, ImageStatus, StoredVariant
from snapqueue_core.store import (
    GALLERY_PARTITION,
    ImageNotFoundError,
    ImageStore,
    InvalidCursorError,
    RecordGoneError,
    StaleClaimError,
    encode_cursor,
)
from snapqueue_core.usage import QuotaExceededError, RateLimitedError, UsageCounters

VARIANTS = {
    "thumbnail": StoredVariant(
        key="processed/x/thumbnail.jpg", width=8, height=6, content_type="image/jpeg", bytes=9
    )
}


@pytest.fixture
async def env(resources_factory: Any) -> tuple[ImageStore, Any, Any]:
    settings, clients = await resources_factory()
    return ImageStore(clients.dynamodb, settings), clients, settings


def pending(owner: str | None = "u1", visibility: Any = "private", size: int = 10) -> ImageRecord:
    return ImageRecord.pending(
        uuid.uuid4().hex,
        filename="a.jpg",
        content_type="image/jpeg",
        declared_size=size,
        owner_id=owner,
        visibility=visibility,
    )


async def gallery_attribute(env: tuple[ImageStore, Any, Any], image_id: str) -> str | None:
    _store, clients, settings = env
    item = (
        await clients.dynamodb.get_item(
            TableName=settings.images_table, Key={"imageId": {"S": image_id}}, ConsistentRead=True
        )
    )["Item"]
    value = item.get("galleryPartition", {}).get("S")
    return str(value) if value is not None else None


async def consistent(env: tuple[ImageStore, Any, Any], image_id: str) -> bool:
    store = env[0]
    record = await store.get(image_id)
    assert record is not None
    in_gallery = await gallery_attribute(env, image_id) == GALLERY_PARTITION
    should = record.status is ImageStatus.COMPLETED and record.visibility == "public"
    return in_gallery == should


async def test_pending_records_carry_owner_and_visibility(env: Any) -> None:
    store = env[0]
    record = pending(visibility="public")
    await store.create(record)
    stored = await store.get(record.image_id)
    assert stored is not None
    assert (stored.owner_id, stored.visibility) == ("u1", "public")


@pytest.mark.parametrize("visibility", ["private", "public"])
async def test_completion_enters_the_gallery_only_when_public(env: Any, visibility: str) -> None:
    store = env[0]
    record = pending(visibility=visibility)
    await store.create(record)
    claimed = await store.claim(record.image_id, "t", 60)
    await store.complete(record.image_id, "t", VARIANTS, {}, visibility=claimed.visibility)
    expected = GALLERY_PARTITION if visibility == "public" else None
    assert await gallery_attribute(env, record.image_id) == expected
    page, _ = await store.list_completed(10)
    assert (record.image_id in {r.image_id for r in page}) is (visibility == "public")


async def test_patch_during_processing_then_completion_with_the_stale_visibility(
    env: Any,
) -> None:
    """The worker read "private" at its claim; the owner made it public meanwhile."""
    store = env[0]
    record = pending()
    await store.create(record)
    claimed = await store.claim(record.image_id, "t", 60)
    await store.set_visibility(record.image_id, "public")
    await store.complete(record.image_id, "t", VARIANTS, {}, visibility=claimed.visibility)
    assert await gallery_attribute(env, record.image_id) == GALLERY_PARTITION
    # And the other way round: made private while processing, completed as "public".
    other = pending(visibility="public")
    await store.create(other)
    await store.claim(other.image_id, "t", 60)
    await store.set_visibility(other.image_id, "private")
    await store.complete(other.image_id, "t", VARIANTS, {}, visibility="public")
    assert await gallery_attribute(env, other.image_id) is None


async def test_patch_after_completion_adds_and_removes_the_gallery_attribute(env: Any) -> None:
    store = env[0]
    record = pending()
    await store.create(record)
    await store.claim(record.image_id, "t", 60)
    await store.complete(record.image_id, "t", VARIANTS, {})
    assert await gallery_attribute(env, record.image_id) is None
    made_public = await store.set_visibility(record.image_id, "public")
    assert made_public.visibility == "public"
    assert await gallery_attribute(env, record.image_id) == GALLERY_PARTITION
    await store.set_visibility(record.image_id, "private")
    assert await gallery_attribute(env, record.image_id) is None
    # Idempotent.
    await store.set_visibility(record.image_id, "private")
    assert await consistent(env, record.image_id)


async def test_patch_and_completion_racing_always_agree(env: Any) -> None:
    store = env[0]
    for round_ in range(8):
        record = pending(visibility="public" if round_ % 2 else "private")
        await store.create(record)
        claimed = await store.claim(record.image_id, "t", 60)
        flips = ["public", "private", "public"] if round_ % 3 else ["private", "public"]
        await asyncio.gather(
            store.complete(record.image_id, "t", VARIANTS, {}, visibility=claimed.visibility),
            *(store.set_visibility(record.image_id, v) for v in flips),  # type: ignore[arg-type]
        )
        assert await consistent(env, record.image_id), f"round {round_}"


async def test_set_visibility_of_a_missing_record(env: Any) -> None:
    with pytest.raises(ImageNotFoundError):
        await env[0].set_visibility(uuid.uuid4().hex, "public")


async def test_delete_returns_the_record_then_not_found(env: Any) -> None:
    store = env[0]
    record = pending()
    await store.create(record)
    deleted = await store.delete(record.image_id)
    assert deleted.image_id == record.image_id
    assert await store.get(record.image_id) is None
    with pytest.raises(ImageNotFoundError):
        await store.delete(record.image_id)


async def test_worker_finds_a_deleted_record_gone(env: Any) -> None:
    store = env[0]
    record = pending()
    await store.create(record)
    await store.claim(record.image_id, "t", 60)
    await store.delete(record.image_id)
    with pytest.raises(RecordGoneError):
        await store.extend_lease(record.image_id, "t", 60)
    with pytest.raises(RecordGoneError):
        await store.complete(record.image_id, "t", VARIANTS, {})
    assert await store.get(record.image_id) is None, "completion must not recreate it"


async def test_a_lost_lease_is_stale_not_gone(env: Any) -> None:
    store = env[0]
    record = pending()
    await store.create(record)
    await store.claim(record.image_id, "t", 60)
    with pytest.raises(StaleClaimError) as stale:
        await store.complete(record.image_id, "someone-else", VARIANTS, {})
    assert not isinstance(stale.value, RecordGoneError)
    assert issubclass(RecordGoneError, StaleClaimError)


async def test_owner_pages_newest_first_with_status_filter(env: Any) -> None:
    store = env[0]
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    ids = []
    for index in range(5):
        record = pending(owner=owner)
        await store.create(record)
        ids.append(record.image_id)
        if index % 2 == 0:
            await store.claim(record.image_id, "t", 60)
            await store.complete(record.image_id, "t", VARIANTS, {})
        await asyncio.sleep(0.002)
    await store.create(pending(owner="someone-else"))
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await store.list_owned(owner, 2, cursor)
        seen.extend(r.image_id for r in page)
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    completed: list[str] = []
    cursor = None
    while True:
        page, cursor = await store.list_owned(owner, 2, cursor, status=ImageStatus.COMPLETED)
        completed.extend(r.image_id for r in page)
        if cursor is None:
            break
    assert completed == [ids[4], ids[2], ids[0]]


async def test_owner_cursor_of_someone_else_is_refused(env: Any) -> None:
    store = env[0]
    theirs = encode_cursor(
        {
            "imageId": {"S": uuid.uuid4().hex},
            "ownerId": {"S": "someone-else"},
            "uploadTimestamp": {"S": "2026-01-01T00:00:00.000000Z"},
        }
    )
    with pytest.raises(InvalidCursorError):
        await store.list_owned("me", 2, theirs)
    gallery = encode_cursor(
        {
            "imageId": {"S": uuid.uuid4().hex},
            "galleryPartition": {"S": GALLERY_PARTITION},
            "completedAt": {"S": "2026-01-01T00:00:00.000000Z"},
        }
    )
    with pytest.raises(InvalidCursorError):
        await store.list_owned("me", 2, gallery)


async def test_legacy_completed_records_stay_out_of_the_gallery(env: Any) -> None:
    """Completed before visibility existed: in the index, but private, so not listed."""
    store, clients, settings = env
    record = pending(owner=None)
    await store.create(record)
    await clients.dynamodb.update_item(
        TableName=settings.images_table,
        Key={"imageId": {"S": record.image_id}},
        UpdateExpression="SET #s = :c, galleryPartition = :g, completedAt = :t REMOVE visibility",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":c": {"S": "COMPLETED"},
            ":g": {"S": GALLERY_PARTITION},
            ":t": {"S": "2099-01-01T00:00:00.000000Z"},
        },
    )
    page, _ = await store.list_completed(10)
    assert record.image_id not in {r.image_id for r in page}


async def test_owned_bytes_sums_live_records(env: Any) -> None:
    store = env[0]
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    for size in (10, 20, 30):
        await store.create(pending(owner=owner, size=size))
    expired = pending(owner=owner, size=1000)
    await store.create(expired, ttl_seconds=-10)
    assert await store.owned_bytes(owner) == 60


# ---------------------------------------------------------------------- usage counters


@pytest.fixture
async def counters(resources_factory: Any) -> UsageCounters:
    settings, clients = await resources_factory()
    return UsageCounters(clients.dynamodb, settings)


async def test_uploads_per_minute_across_counters(resources_factory: Any) -> None:
    settings, clients = await resources_factory()
    # Two replicas, one table; a fixed instant in the middle of a minute.
    now = 1_800_000_030.0
    first = UsageCounters(clients.dynamodb, settings, clock=lambda: now)
    second = UsageCounters(clients.dynamodb, settings, clock=lambda: now)
    results = await asyncio.gather(
        *(c.count_upload("u", 5) for c in [first, second] * 4), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, RateLimitedError)]
    assert len(refused) == 3
    assert refused[0].retry_after == 30
    later = UsageCounters(clients.dynamodb, settings, clock=lambda: now + 60)
    assert await later.count_upload("u", 5) == 1, "a new minute starts a new count"


async def test_byte_quota_reserve_release_and_correct(counters: UsageCounters) -> None:
    assert await counters.reserve_bytes("u", 60, 100) == 60
    with pytest.raises(QuotaExceededError) as full:
        await counters.reserve_bytes("u", 41, 100)
    assert full.value.used == 60
    assert await counters.reserve_bytes("u", 40, 100) == 100
    await counters.release_bytes("u", 30)
    assert await counters.stored_bytes("u") == 70
    with pytest.raises(QuotaExceededError):
        await counters.reserve_bytes("u", 101, 100)
    assert not await counters.correct_bytes("u", 999, 0), "only from the value seen"
    assert await counters.correct_bytes("u", 70, 5)
    await counters.release_bytes("u", 50)
    assert await counters.stored_bytes("u") == 0, "never below zero"
