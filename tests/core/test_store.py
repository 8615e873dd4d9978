"""The metadata store round-trips records and makes every state change conditional."""

import asyncio
import uuid
from typing import Any

import pytest

from snapqueue_core.dynamo import to_item
from snapqueue_core.schemas import (
    ImageError,
    ImageRecord,
    ImageStatus,
    NotificationEvent,
    StoredVariant,
)
from snapqueue_core.store import (
    ClaimRejectedError,
    ConnectionRow,
    ConnectionStore,
    ImageExistsError,
    ImageStore,
    InvalidCursorError,
    StaleClaimError,
    encode_cursor,
)

VARIANTS = {
    name: StoredVariant(
        key=f"processed/x/{name}.jpg", width=8, height=6, content_type="image/jpeg", bytes=99
    )
    for name in ("thumbnail", "resized", "grayscale")
}


def new_record() -> ImageRecord:
    return ImageRecord.pending(
        uuid.uuid4().hex, filename="holiday.jpg", content_type="image/jpeg", declared_size=1234
    )


@pytest.fixture
async def store(resources_factory: Any) -> ImageStore:
    settings, clients = await resources_factory()
    return ImageStore(clients.dynamodb, settings)


async def test_record_round_trips(store: ImageStore) -> None:
    record = new_record()
    await store.create(record)
    assert await store.get(record.image_id) == record
    assert await store.get(uuid.uuid4().hex) is None
    with pytest.raises(ImageExistsError):
        await store.create(record)


async def test_claim_complete_lifecycle(store: ImageStore) -> None:
    record = new_record()
    await store.create(record)
    claimed = await store.claim(record.image_id, "token-a", lease_seconds=60)
    assert claimed.status is ImageStatus.PROCESSING
    await store.extend_lease(record.image_id, "token-a", lease_seconds=60)
    await store.complete(record.image_id, "token-a", VARIANTS, {"width": 8, "ratio": 1.5})
    done = await store.get(record.image_id)
    assert done is not None
    assert done.status is ImageStatus.COMPLETED
    assert done.variants == VARIANTS
    assert done.metadata == {"width": 8, "ratio": 1.5}
    assert done.completed_at is not None
    # The worker sends the terminal event from what it wrote, not from a read-back.
    sent = NotificationEvent.completed(record.image_id, VARIANTS)
    stored = NotificationEvent.terminal(done)
    assert sent.model_dump(exclude={"emitted_at"}) == stored.model_dump(exclude={"emitted_at"})
    # Terminal: a second claim is rejected and reports the terminal record.
    with pytest.raises(ClaimRejectedError) as rejected:
        await store.claim(record.image_id, "token-b", lease_seconds=60)
    assert rejected.value.record is not None
    assert rejected.value.record.status is ImageStatus.COMPLETED
    assert await store.fail(record.image_id, ImageError(code="x", message="y")) is None


async def test_only_one_of_concurrent_claims_wins(store: ImageStore) -> None:
    # Several rounds: a non-atomic conditional write loses this race only now and then.
    for _ in range(5):
        record = new_record()
        await store.create(record)
        results = await asyncio.gather(
            *(store.claim(record.image_id, f"token-{i}", lease_seconds=60) for i in range(8)),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, ImageRecord)]
        assert len(winners) == 1
        assert all(isinstance(r, ClaimRejectedError) for r in results if r not in winners)


async def test_expired_lease_can_be_taken_over_and_old_holder_loses(store: ImageStore) -> None:
    record = new_record()
    await store.create(record)
    await store.claim(record.image_id, "dead-worker", lease_seconds=-1)
    await store.claim(record.image_id, "new-worker", lease_seconds=60)
    with pytest.raises(StaleClaimError):
        await store.complete(record.image_id, "dead-worker", VARIANTS, {})
    with pytest.raises(StaleClaimError):
        await store.extend_lease(record.image_id, "dead-worker", 60)
    assert (
        await store.fail(record.image_id, ImageError(code="x", message="y"), token="dead-worker")
        is None
    )
    failed = await store.fail(
        record.image_id, ImageError(code="too_many_pixels", message="big"), token="new-worker"
    )
    assert failed is not None
    assert failed.status is ImageStatus.FAILED
    assert failed.error == ImageError(code="too_many_pixels", message="big")


async def test_claim_of_unknown_image_is_rejected_without_a_record(store: ImageStore) -> None:
    with pytest.raises(ClaimRejectedError) as rejected:
        await store.claim(uuid.uuid4().hex, "t", lease_seconds=60)
    assert rejected.value.record is None


async def test_gallery_pages_newest_first_without_gaps(store: ImageStore) -> None:
    completed = []
    for index in range(7):
        record = new_record().model_copy(update={"owner_id": "u1", "visibility": "public"})
        await store.create(record)
        if index == 3:
            continue  # stays pending: never listed
        await store.claim(record.image_id, "t", lease_seconds=60)
        await store.complete(record.image_id, "t", VARIANTS, {"index": index}, visibility="public")
        completed.append(record.image_id)
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await store.list_completed(limit=2, cursor=cursor)
        assert len(page) <= 2
        seen.extend(r.image_id for r in page)
        assert all(r.status is ImageStatus.COMPLETED for r in page)
        if cursor is None:
            break
    assert seen == list(reversed(completed))


FOREIGN_PARTITION = encode_cursor(
    to_item({"imageId": "0" * 32, "galleryPartition": "OTHER", "completedAt": "x"})
)
NOT_AN_IMAGE = encode_cursor(
    to_item({"imageId": "../x", "galleryPartition": "COMPLETED", "completedAt": "x"})
)


@pytest.mark.parametrize("cursor", ["!!!", "e30", "eyJhIjoxfQ", FOREIGN_PARTITION, NOT_AN_IMAGE])
async def test_foreign_cursors_are_refused(store: ImageStore, cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        await store.list_completed(limit=2, cursor=cursor)


async def test_connection_rows(resources_factory: Any) -> None:
    settings, clients = await resources_factory()
    connections = ConnectionStore(clients.dynamodb, settings)
    image_id = uuid.uuid4().hex
    rows = [
        ConnectionRow(image_id, f"conn-{i}", f"replica-{i % 2}", f"http://q/{i % 2}")
        for i in range(3)
    ]
    for row in rows:
        await connections.put(row, ttl_seconds=60)
    await connections.put(ConnectionRow(image_id, "expired", "r", "http://q/x"), ttl_seconds=-5)
    assert sorted(await connections.for_image(image_id), key=lambda r: r.connection_id) == rows
    await connections.delete(image_id, "conn-0")
    assert {r.connection_id for r in await connections.for_image(image_id)} == {"conn-1", "conn-2"}


async def test_release_lets_the_next_delivery_claim_at_once(store: ImageStore) -> None:
    record = new_record()
    await store.create(record)
    first = await store.claim(record.image_id, "first", lease_seconds=600)
    assert first.attempts == 1
    assert first.lease_until is not None
    await store.release(record.image_id, "first")
    second = await store.claim(record.image_id, "second", lease_seconds=600)
    assert second.attempts == 2
    with pytest.raises(StaleClaimError):
        await store.release(record.image_id, "first")
