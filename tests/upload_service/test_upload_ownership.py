"""Owners and visibility over HTTP: uploads are owned, /me/images, the admin listing, PATCH
and the public gallery, DELETE (objects, record, event) including during processing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from snapqueue_core.schemas import StoredVariant
from snapqueue_core.store import ConnectionRow, ConnectionStore, RecordGoneError
from snapqueue_core.usage import UsageCounters
from tests.conftest import SignedInUser
from tests.upload_service.upload_helpers import RunningService, completed_record

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200


async def request_upload(
    service: RunningService, user: SignedInUser | None = None, **extra: Any
) -> str:
    headers = user.headers if user else {}
    response = await service.http.post(
        "/upload-request",
        json={"filename": "a.jpg", "contentType": "image/jpeg", "size": 10, **extra},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    image_id: str = response.json()["imageId"]
    return image_id


async def stream_upload(service: RunningService, url: str = "/uploads", **data: str) -> str:
    response = await service.http.post(
        url, files={"file": ("a.jpg", JPEG, "image/jpeg")}, data=data or None
    )
    assert response.status_code == 202, response.text
    image_id: str = response.json()["imageId"]
    return image_id


async def record_of(service: RunningService, image_id: str) -> Any:
    return await service.store.get(image_id)


async def test_uploads_are_owned_and_private_by_default(service: RunningService) -> None:
    for image_id in (await request_upload(service), await stream_upload(service)):
        record = await record_of(service, image_id)
        assert record.owner_id == service.user.user_id
        assert record.visibility == "private"
        image = (await service.http.get(f"/image/{image_id}")).json()
        assert image["visibility"] == "private"
        assert image["ownerId"] == service.user.user_id


async def test_visibility_can_be_chosen_at_upload(service: RunningService) -> None:
    requested = await request_upload(service, visibility="public")
    assert (await record_of(service, requested)).visibility == "public"
    by_query = await stream_upload(service, "/uploads?visibility=public")
    assert (await record_of(service, by_query)).visibility == "public"
    by_field = await stream_upload(service, visibility="public")
    assert (await record_of(service, by_field)).visibility == "public"


@pytest.mark.parametrize("visibility", ["shared", "", "PUBLIC", None, 1])
async def test_unknown_visibility_is_refused(service: RunningService, visibility: Any) -> None:
    response = await service.http.post(
        "/upload-request",
        json={
            "filename": "a.jpg",
            "contentType": "image/jpeg",
            "size": 10,
            "visibility": visibility,
        },
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


async def test_unknown_visibility_field_of_a_streamed_upload(service: RunningService) -> None:
    response = await service.http.post(
        "/uploads", files={"file": ("a.jpg", JPEG, "image/jpeg")}, data={"visibility": "nope"}
    )
    assert response.status_code == 422
    query = await service.http.post(
        "/uploads?visibility=nope", files={"file": ("a.jpg", JPEG, "image/jpeg")}
    )
    assert query.status_code == 422


async def test_my_images_newest_first_only_mine(
    service: RunningService, user_factory: Callable[..., Any]
) -> None:
    me = await user_factory()
    stranger = await user_factory()
    mine = [await request_upload(service, me) for _ in range(3)]
    await request_upload(service, stranger)
    completed_id = uuid.uuid4().hex
    await completed_record(service.store, completed_id, owner_id=me.user_id, visibility="private")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await service.http.get("/me/images", params=params, headers=me.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "nextCursor"}
        seen.extend(item["imageId"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [completed_id, *reversed(mine)]

    only_completed = await service.http.get(
        "/me/images", params={"status": "COMPLETED"}, headers=me.headers
    )
    assert [i["imageId"] for i in only_completed.json()["items"]] == [completed_id]
    bad = await service.http.get("/me/images", params={"status": "DONE"}, headers=me.headers)
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_status"


async def test_my_images_cursor_of_someone_else_is_refused(
    service: RunningService, user_factory: Callable[..., Any]
) -> None:
    me = await user_factory()
    stranger = await user_factory()
    for _ in range(2):
        await request_upload(service, stranger)
    page = (
        await service.http.get("/me/images", params={"limit": 1}, headers=stranger.headers)
    ).json()
    assert page["nextCursor"]
    theirs = await service.http.get(
        "/me/images", params={"cursor": page["nextCursor"]}, headers=me.headers
    )
    assert theirs.status_code == 422
    assert theirs.json()["error"] == "invalid_cursor"
    garbage = await service.http.get("/me/images", params={"cursor": "xyz"}, headers=me.headers)
    assert garbage.status_code == 422
    assert garbage.json()["error"] == "invalid_cursor"


async def test_admin_lists_anyones_images(
    service: RunningService, user_factory: Callable[..., Any]
) -> None:
    admin = await user_factory(admin=True)
    user = await user_factory()
    ids = [await request_upload(service, user) for _ in range(2)]
    response = await service.http.get(
        "/admin/images", params={"ownerId": user.user_id}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert [i["imageId"] for i in response.json()["items"]] == list(reversed(ids))
    assert {i["ownerId"] for i in response.json()["items"]} == {user.user_id}
    missing = await service.http.get("/admin/images", headers=admin.headers)
    assert missing.status_code == 422


async def gallery_ids(service: RunningService) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await service.anonymous.get("/get-all-images", params=params)).json()
        for item in page["items"]:
            assert item["ownerId"] is None, "the gallery never names owners"
            assert item["visibility"] == "public"
            assert item["status"] == "COMPLETED"
        ids.extend(item["imageId"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return ids


async def test_patch_moves_images_into_and_out_of_the_gallery(service: RunningService) -> None:
    image_id = uuid.uuid4().hex
    await completed_record(
        service.store, image_id, owner_id=service.user.user_id, visibility="private"
    )
    pending_id = await request_upload(service, visibility="public")
    assert image_id not in await gallery_ids(service)
    assert pending_id not in await gallery_ids(service), "public but not COMPLETED"

    response = await service.http.patch(f"/image/{image_id}", json={"visibility": "public"})
    assert response.status_code == 200, response.text
    assert response.json()["visibility"] == "public"
    assert response.json()["imageId"] == image_id
    assert image_id in await gallery_ids(service)
    assert (await service.anonymous.get(f"/image/{image_id}")).status_code == 200

    response = await service.http.patch(f"/image/{image_id}", json={"visibility": "private"})
    assert response.status_code == 200
    assert image_id not in await gallery_ids(service)
    assert (await service.anonymous.get(f"/image/{image_id}")).status_code == 404


@pytest.mark.parametrize(
    "body", [{}, {"visibility": "everyone"}, {"visibility": "public", "x": 1}, []]
)
async def test_patch_bodies_are_checked(service: RunningService, body: Any) -> None:
    image_id = await request_upload(service)
    response = await service.http.patch(f"/image/{image_id}", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


async def test_patch_of_an_unknown_image_is_not_found(service: RunningService) -> None:
    response = await service.http.patch(f"/image/{uuid.uuid4().hex}", json={"visibility": "public"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_patch_racing_the_worker_over_http(service: RunningService) -> None:
    """Made public while PROCESSING; the worker completes with what it read at its claim."""
    image_id = await request_upload(service)
    claimed = await service.store.claim(image_id, "w", 60)
    response = await service.http.patch(f"/image/{image_id}", json={"visibility": "public"})
    assert response.status_code == 200
    assert response.json()["status"] == "PROCESSING"
    await service.store.complete(image_id, "w", {}, {}, visibility=claimed.visibility)
    assert image_id in await gallery_ids(service)


# ---------------------------------------------------------------------- delete


async def keys_under(service: RunningService, bucket: str, prefix: str) -> list[str]:
    listed = await service.clients.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for obj in listed.get("Contents", [])]


async def write_variants(service: RunningService, image_id: str) -> dict[str, StoredVariant]:
    variants = {}
    for name in ("thumbnail", "resized", "grayscale"):
        key = f"processed/{image_id}/{name}.jpg"
        await service.clients.s3.put_object(
            Bucket=service.settings.processed_bucket, Key=key, Body=JPEG
        )
        variants[name] = StoredVariant(
            key=key, width=8, height=6, content_type="image/jpeg", bytes=len(JPEG)
        )
    return variants


async def listen_for(service: RunningService, image_id: str) -> str:
    """A notifier replica's queue and its row for ``image_id``, as the notifier makes them."""
    name = f"{service.settings.notify_queue_prefix}{uuid.uuid4().hex[:8]}"
    queue_url: str = (await service.clients.sqs.create_queue(QueueName=name))["QueueUrl"]
    connections = ConnectionStore(service.clients.dynamodb, service.settings)
    await connections.put(ConnectionRow(image_id, "c1", "r1", queue_url), ttl_seconds=60)
    return queue_url


async def test_delete_removes_objects_record_and_announces_it(service: RunningService) -> None:
    image_id = await stream_upload(service)
    settings = service.settings
    await service.store.claim(image_id, "w", 60)
    await service.store.complete(image_id, "w", await write_variants(service, image_id), {})
    assert await keys_under(service, settings.uploads_bucket, f"uploads/{image_id}")
    assert len(await keys_under(service, settings.processed_bucket, f"processed/{image_id}/")) == 3
    queue_url = await listen_for(service, image_id)

    response = await service.http.delete(f"/image/{image_id}")
    assert response.status_code == 204, response.text
    assert response.content == b""

    assert await keys_under(service, settings.uploads_bucket, f"uploads/{image_id}") == []
    assert await keys_under(service, settings.processed_bucket, f"processed/{image_id}/") == []
    assert await service.store.get(image_id) is None
    received = await service.clients.sqs.receive_message(
        QueueUrl=queue_url, WaitTimeSeconds=2, MaxNumberOfMessages=10
    )
    events = [json.loads(m["Body"]) for m in received.get("Messages", [])]
    assert [(e["type"], e["imageId"]) for e in events] == [("imageDeleted", image_id)]

    again = await service.http.delete(f"/image/{image_id}")
    assert again.status_code == 404
    assert again.json()["error"] == "not_found"
    assert (await service.http.get(f"/image/{image_id}")).status_code == 404
    assert (await service.http.get(f"/status/{image_id}")).status_code == 404


async def test_delete_of_a_never_uploaded_image(service: RunningService) -> None:
    image_id = await request_upload(service)
    assert (await service.http.delete(f"/image/{image_id}")).status_code == 204
    assert await service.store.get(image_id) is None


async def test_delete_while_processing_leaves_the_record_gone(service: RunningService) -> None:
    image_id = await stream_upload(service)
    await service.store.claim(image_id, "w", 60)
    assert (await service.http.delete(f"/image/{image_id}")).status_code == 204
    assert await service.store.get(image_id) is None
    # The worker finishes afterwards: its variants are written, its completion refused.
    variants = await write_variants(service, image_id)
    with pytest.raises(RecordGoneError):
        await service.store.complete(image_id, "w", variants, {})
    assert await service.store.get(image_id) is None


async def test_delete_gives_the_bytes_back(service: RunningService) -> None:
    usage = UsageCounters(service.clients.dynamodb, service.settings)
    before = await usage.stored_bytes(service.user.user_id)
    image_id = await request_upload(service)
    assert await usage.stored_bytes(service.user.user_id) == before + 10
    assert (await service.http.delete(f"/image/{image_id}")).status_code == 204
    assert await usage.stored_bytes(service.user.user_id) == before


async def test_admin_delete_gives_the_owners_bytes_back(
    service: RunningService, user_factory: Callable[..., Any]
) -> None:
    admin = await user_factory(admin=True)
    usage = UsageCounters(service.clients.dynamodb, service.settings)
    before = await usage.stored_bytes(service.user.user_id)
    image_id = await request_upload(service)
    response = await service.anonymous.delete(f"/image/{image_id}", headers=admin.headers)
    assert response.status_code == 204
    assert await usage.stored_bytes(service.user.user_id) == before
