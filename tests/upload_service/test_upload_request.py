"""POST /upload-request: a presigned POST pinned to one key, size range, type and expiry."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from snapqueue_core.schemas import ImageStatus, is_image_id
from tests.upload_service.upload_helpers import RunningService

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


def policy_of(fields: dict[str, str]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


async def request_upload(service: RunningService, **body: Any) -> httpx.Response:
    payload = {"filename": "holiday.png", "contentType": "image/png", "size": len(PNG_BYTES)}
    payload.update(body)
    return await service.http.post("/upload-request", json=payload)


async def test_presigned_post_lands_at_the_exact_key(service: RunningService) -> None:
    response = await request_upload(service)
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert set(ticket) == {"imageId", "upload", "expiresAt", "maxBytes"}
    image_id = ticket["imageId"]
    assert is_image_id(image_id)
    assert ticket["maxBytes"] == service.settings.max_upload_bytes
    fields = ticket["upload"]["fields"]
    assert fields["key"] == f"uploads/{image_id}"
    assert fields["Content-Type"] == "image/png"

    # The browser's request: every field, then the file, straight to S3.
    async with httpx.AsyncClient() as s3_client:
        posted = await s3_client.post(
            ticket["upload"]["url"],
            data=fields,
            files={"file": ("whatever name.png", PNG_BYTES, "image/png")},
        )
    assert posted.status_code in (200, 201, 204), posted.text

    head = await service.clients.s3.head_object(
        Bucket=service.settings.uploads_bucket, Key=f"uploads/{image_id}"
    )
    assert head["ContentLength"] == len(PNG_BYTES)
    assert head["ContentType"] == "image/png"
    listed = await service.clients.s3.list_objects_v2(Bucket=service.settings.uploads_bucket)
    assert [obj["Key"] for obj in listed["Contents"]] == [f"uploads/{image_id}"]

    record = await service.store.get(image_id)
    assert record is not None
    assert record.status is ImageStatus.PENDING_UPLOAD
    assert record.original_filename == "holiday.png"
    assert record.content_type == "image/png"
    assert record.declared_size == len(PNG_BYTES)
    assert record.source_key == f"uploads/{image_id}"


async def test_policy_pins_key_size_type_and_expiry(service: RunningService) -> None:
    before = datetime.now(UTC)
    response = await request_upload(service, contentType="image/jpeg", filename="a.jpg")
    assert response.status_code == 201
    ticket = response.json()
    policy = policy_of(ticket["upload"]["fields"])
    conditions = policy["conditions"]
    key = f"uploads/{ticket['imageId']}"

    assert {"key": key} in conditions
    assert {"bucket": service.settings.uploads_bucket} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1, service.settings.max_upload_bytes] in conditions
    # Nothing lets the client choose another key.
    assert not any(
        isinstance(c, list) and c[0] == "starts-with" and c[1] in ("$key", "key")
        for c in conditions
    )

    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before < expiration <= before + timedelta(minutes=5, seconds=1)
    expires_at = datetime.strptime(ticket["expiresAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((expires_at - expiration).total_seconds()) <= 2


async def test_record_has_a_24h_ttl(service: RunningService) -> None:
    response = await request_upload(service)
    image_id = response.json()["imageId"]
    item = await service.clients.dynamodb.get_item(
        TableName=service.settings.images_table, Key={"imageId": {"S": image_id}}
    )
    expires = int(item["Item"]["expiresAt"]["N"])
    now = datetime.now(UTC).timestamp()
    assert now + 24 * 3600 - 60 < expires <= now + 24 * 3600 + 5


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("bad\x00name\x1f.jpg", "badname.jpg"),
        ("e\u0301te\u0301.jpg", "\u00e9t\u00e9.jpg"),  # NFD in, NFC stored
        ("evil\u202egpj.png", "evilgpj.png"),  # bidi override dropped
        ("  spaced \t out .png ", "spaced out .png"),
    ],
)
async def test_filename_is_sanitised_for_display(
    service: RunningService, raw: str, shown: str
) -> None:
    response = await request_upload(service, filename=raw)
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["upload"]["fields"]["key"] == f"uploads/{ticket['imageId']}"
    record = await service.store.get(ticket["imageId"])
    assert record is not None
    assert record.original_filename == shown


async def test_content_type_aliases_are_canonical(service: RunningService) -> None:
    response = await request_upload(service, contentType="IMAGE/JPG")
    assert response.status_code == 201
    assert response.json()["upload"]["fields"]["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(
    "content_type",
    [
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/heic",
        "image/heif",
        "image/tiff",
        "image/bmp",
    ],
)
async def test_every_listed_image_type_is_accepted(
    service: RunningService, content_type: str
) -> None:
    response = await request_upload(service, contentType=content_type)
    assert response.status_code == 201, response.text
    assert (
        policy_of(response.json()["upload"]["fields"])["conditions"].count(
            {"Content-Type": content_type}
        )
        == 1
    )


REJECTIONS = [
    ({"contentType": "image/svg+xml"}, 415, "unsupported_content_type"),
    ({"contentType": "application/pdf"}, 415, "unsupported_content_type"),
    ({"contentType": "text/html"}, 415, "unsupported_content_type"),
    ({"contentType": ""}, 415, "unsupported_content_type"),
    ({"size": 0}, 422, "invalid_size"),
    ({"size": -5}, 422, "invalid_size"),
    ({"size": 25 * 1024 * 1024 + 1}, 413, "file_too_large"),
    ({"size": 10**30}, 413, "file_too_large"),
    ({"filename": ""}, 422, "invalid_filename"),
    ({"filename": "   "}, 422, "invalid_filename"),
    ({"filename": "a/b/"}, 422, "invalid_filename"),
    ({"filename": "\x00\x01\x02"}, 422, "invalid_filename"),
    ({"filename": "x" * 256}, 422, "invalid_filename"),
    ({"filename": "x" * 100_000}, 422, "invalid_filename"),
    ({"size": "12"}, 422, "invalid_request"),
    ({"size": 1.5}, 422, "invalid_request"),
    ({"size": True}, 422, "invalid_request"),
    ({"filename": 7}, 422, "invalid_request"),
    ({"filename": None}, 422, "invalid_request"),
    ({"extra": "field"}, 422, "invalid_request"),
    ({"content_type": "image/png"}, 422, "invalid_request"),
]


@pytest.mark.parametrize(("change", "status", "code"), REJECTIONS)
async def test_bad_requests_are_rejected_with_their_code(
    service: RunningService, change: dict[str, Any], status: int, code: str
) -> None:
    response = await request_upload(service, **change)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == code
    assert body["message"]


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"[]", b'"text"', b"null", b'{"filename": "a.png"}', b"\xff\xfe{}"],
)
async def test_malformed_bodies_are_invalid_requests(service: RunningService, raw: bytes) -> None:
    response = await service.http.post(
        "/upload-request", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"


async def count_records(service: RunningService) -> int:
    scan = await service.clients.dynamodb.scan(
        TableName=service.settings.images_table, Select="COUNT"
    )
    return int(scan["Count"])


async def test_rejections_write_nothing(service: RunningService) -> None:
    before = await count_records(service)
    for change, status, _ in REJECTIONS:
        assert (await request_upload(service, **change)).status_code == status
    assert await count_records(service) == before
    assert (await request_upload(service)).status_code == 201
    assert await count_records(service) == before + 1
