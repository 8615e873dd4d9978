"""GET /image, /status and /get-all-images: records, variant URLs, 404s and pagination."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from snapqueue_core.schemas import ImageError
from tests.upload_service.upload_helpers import RunningService, completed_record

RECORD_FIELDS = {
    "imageId",
    "visibility",
    "ownerId",
    "status",
    "originalFilename",
    "contentType",
    "uploadTimestamp",
    "updatedAt",
    "variants",
    "metadata",
    "error",
}


async def issue_upload(service: RunningService) -> str:
    response = await service.http.post(
        "/upload-request", json={"filename": "cat.gif", "contentType": "image/gif", "size": 10}
    )
    assert response.status_code == 201
    image_id: str = response.json()["imageId"]
    return image_id


async def test_pending_image_and_status(service: RunningService) -> None:
    image_id = await issue_upload(service)
    image = (await service.http.get(f"/image/{image_id}")).json()
    assert set(image) == RECORD_FIELDS
    assert image["imageId"] == image_id
    assert image["status"] == "PENDING_UPLOAD"
    assert image["originalFilename"] == "cat.gif"
    assert image["contentType"] == "image/gif"
    assert image["variants"] == {}
    assert image["metadata"] == {}
    assert image["error"] is None

    status = await service.http.get(f"/status/{image_id}")
    assert status.status_code == 200
    assert status.json() == {
        "imageId": image_id,
        "status": "PENDING_UPLOAD",
        "updatedAt": image["updatedAt"],
    }


async def test_completed_image_has_fetchable_variant_urls(service: RunningService) -> None:
    image_id = uuid.uuid4().hex
    record = await completed_record(service.store, image_id)
    thumbnail = record.variants["thumbnail"]
    await service.clients.s3.put_object(
        Bucket=service.settings.processed_bucket,
        Key=thumbnail.key,
        Body=b"thumbnail-bytes",
        ContentType="image/jpeg",
    )
    image = (await service.http.get(f"/image/{image_id}")).json()
    assert image["status"] == "COMPLETED"
    assert set(image["variants"]) == {"thumbnail", "resized", "grayscale"}
    variant = image["variants"]["thumbnail"]
    assert set(variant) == {"url", "width", "height", "contentType", "bytes"}
    assert (variant["width"], variant["height"]) == (256, 256)
    assert variant["contentType"] == "image/jpeg"
    assert image["metadata"] == {"width": 1024, "height": 768}
    # A browser fetches the presigned URL directly, with no credentials of its own.
    async with httpx.AsyncClient() as browser:
        fetched = await browser.get(variant["url"])
    assert fetched.status_code == 200
    assert fetched.content == b"thumbnail-bytes"


async def test_failed_image_reports_its_error(service: RunningService) -> None:
    image_id = await issue_upload(service)
    await service.store.fail(image_id, ImageError(code="corrupt_image", message="Truncated."))
    image = (await service.http.get(f"/image/{image_id}")).json()
    assert image["status"] == "FAILED"
    assert image["error"] == {"code": "corrupt_image", "message": "Truncated."}
    status = (await service.http.get(f"/status/{image_id}")).json()
    assert status["status"] == "FAILED"


@pytest.mark.parametrize("route", ["/image", "/status"])
async def test_unknown_id_is_404(service: RunningService, route: str) -> None:
    response = await service.http.get(f"{route}/{uuid.uuid4().hex}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("route", ["/image", "/status"])
@pytest.mark.parametrize(
    "bad_id",
    ["abc", "A" * 32, "g" * 32, "0" * 31, "0" * 33, "..%2F..%2Fetc", "%00" * 4, "1;DROP"],
)
async def test_malformed_id_is_422(service: RunningService, route: str, bad_id: str) -> None:
    response = await service.http.get(f"{route}/{bad_id}")
    assert response.status_code in (404, 422), response.text
    body = response.json()
    # A path that still reaches the route is named as a bad id; one that cannot is a 404.
    expected = "invalid_image_id" if response.status_code == 422 else "not_found"
    assert body["error"] == expected


async def test_ids_that_reach_the_route_are_invalid_image_id(service: RunningService) -> None:
    response = await service.http.get("/image/" + "A" * 32)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_image_id"


async def test_unknown_route_and_method_are_json(service: RunningService) -> None:
    missing = await service.http.get("/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong = await service.http.put(f"/image/{uuid.uuid4().hex}")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert "GET" in wrong.headers["allow"]


async def test_gallery_pages_newest_first_without_gaps(upload_service_factory: Any) -> None:
    gallery = await upload_service_factory()
    completed = []
    for _ in range(7):
        image_id = uuid.uuid4().hex
        await completed_record(gallery.store, image_id)
        completed.append(image_id)
    # Never in the gallery: pending, processing and failed images.
    await issue_upload(gallery)
    processing = await issue_upload(gallery)
    await gallery.store.claim(processing, "token", lease_seconds=60)
    failed = await issue_upload(gallery)
    await gallery.store.fail(failed, ImageError(code="x", message="y"))

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await gallery.http.get("/get-all-images", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "nextCursor"}
        assert len(page["items"]) <= 3
        for item in page["items"]:
            assert set(item) == RECORD_FIELDS
            assert item["status"] == "COMPLETED"
            assert set(item["variants"]) == {"thumbnail", "resized", "grayscale"}
        seen.extend(item["imageId"] for item in page["items"])
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages >= 3
    assert seen == list(reversed(completed))

    default = (await gallery.http.get("/get-all-images")).json()
    assert [item["imageId"] for item in default["items"]] == list(reversed(completed))
    assert default["nextCursor"] is None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("limit=-1", "invalid_limit"),
        ("limit=abc", "invalid_limit"),
        ("limit=1.5", "invalid_limit"),
        ("cursor=not-a-cursor!!", "invalid_cursor"),
        ("cursor=e30", "invalid_cursor"),  # "{}" in base64
        ("cursor=" + "A" * 3000, "invalid_cursor"),
    ],
)
async def test_bad_gallery_parameters(service: RunningService, query: str, code: str) -> None:
    response = await service.http.get(f"/get-all-images?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code


@pytest.mark.parametrize(
    "key",
    [
        {"imageId": "0" * 32, "galleryPartition": "OTHER", "completedAt": "z"},
        {"imageId": "x", "galleryPartition": "COMPLETED", "completedAt": "z"},
    ],
)
async def test_forged_cursor_with_the_right_shape_is_refused(
    service: RunningService, key: dict[str, str]
) -> None:
    forged = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
    response = await service.http.get("/get-all-images", params={"cursor": forged})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_cursor"
