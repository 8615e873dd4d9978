"""Per-user limits across replicas: uploads per minute (429) and bytes stored (413)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from snapqueue_core.usage import UsageCounters
from tests.upload_service.upload_helpers import RunningService

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200


def upload_body(size: int = 10) -> dict[str, Any]:
    return {"filename": "a.jpg", "contentType": "image/jpeg", "size": size}


async def start_of_a_minute() -> None:
    """Counts are per calendar minute: start a test that must stay in one well inside it."""
    into = time.time() % 60
    if into > 45:
        await asyncio.sleep(60 - into + 0.1)


async def test_rate_limit_holds_across_two_replicas(
    upload_service_factory: Callable[..., Any],
) -> None:
    first: RunningService = await upload_service_factory(user_uploads_per_minute=4)
    second: RunningService = await upload_service_factory(first)
    await start_of_a_minute()
    statuses = []
    for replica in (first, second, first, second):
        statuses.append(
            (await replica.http.post("/upload-request", json=upload_body())).status_code
        )
    assert statuses == [201, 201, 201, 201]
    for replica in (first, second):
        refused = await replica.http.post("/upload-request", json=upload_body())
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "rate_limited"
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60
    streamed = await second.http.post("/uploads", files={"file": ("a.jpg", JPEG, "image/jpeg")})
    assert streamed.status_code == 429
    assert streamed.headers["retry-after"]


async def test_rate_limit_is_per_user(
    upload_service_factory: Callable[..., Any], user_factory: Callable[..., Any]
) -> None:
    running: RunningService = await upload_service_factory(user_uploads_per_minute=1)
    await start_of_a_minute()
    assert (await running.http.post("/upload-request", json=upload_body())).status_code == 201
    assert (await running.http.post("/upload-request", json=upload_body())).status_code == 429
    someone = await user_factory()
    response = await running.anonymous.post(
        "/upload-request", json=upload_body(), headers=someone.headers
    )
    assert response.status_code == 201


async def test_invalid_requests_do_not_count(upload_service_factory: Callable[..., Any]) -> None:
    running: RunningService = await upload_service_factory(user_uploads_per_minute=1)
    await start_of_a_minute()
    for _ in range(3):
        bad = await running.http.post("/upload-request", json=upload_body(size=0))
        assert bad.status_code == 422
    assert (await running.http.post("/upload-request", json=upload_body())).status_code == 201


async def test_quota_refuses_what_would_not_fit(upload_service_factory: Callable[..., Any]) -> None:
    running: RunningService = await upload_service_factory(user_max_bytes=1000)
    first = await running.http.post("/upload-request", json=upload_body(600))
    assert first.status_code == 201
    refused = await running.http.post("/upload-request", json=upload_body(500))
    assert refused.status_code == 413
    assert refused.json()["error"] == "quota_exceeded"
    assert (await running.http.post("/upload-request", json=upload_body(400))).status_code == 201
    streamed = await running.http.post("/uploads", files={"file": ("a.jpg", JPEG, "image/jpeg")})
    assert streamed.status_code == 413
    assert streamed.json()["error"] == "quota_exceeded"
    # Deleting frees the space.
    assert (await running.http.delete(f"/image/{first.json()['imageId']}")).status_code == 204
    assert (await running.http.post("/upload-request", json=upload_body(500))).status_code == 201


async def test_quota_across_replicas(upload_service_factory: Callable[..., Any]) -> None:
    first: RunningService = await upload_service_factory(user_max_bytes=1000)
    second: RunningService = await upload_service_factory(first)
    results = await asyncio.gather(
        *(r.http.post("/upload-request", json=upload_body(300)) for r in [first, second] * 3)
    )
    assert sorted(r.status_code for r in results) == [201, 201, 201, 413, 413, 413]


async def test_reservations_of_expired_records_are_reconciled(
    upload_service_factory: Callable[..., Any],
) -> None:
    """A pending upload that never arrived expires with its record; its bytes come back
    when the quota would otherwise refuse."""
    running: RunningService = await upload_service_factory(user_max_bytes=1000)
    stale = await running.http.post("/upload-request", json=upload_body(900))
    assert stale.status_code == 201
    # What the TTL does to a record nobody uploaded into.
    await running.clients.dynamodb.delete_item(
        TableName=running.settings.images_table,
        Key={"imageId": {"S": stale.json()["imageId"]}},
    )
    fresh = await running.http.post("/upload-request", json=upload_body(500))
    assert fresh.status_code == 201, fresh.text
    usage = UsageCounters(running.clients.dynamodb, running.settings)
    assert await usage.stored_bytes(running.user.user_id) == 500
