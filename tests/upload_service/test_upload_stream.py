"""POST /uploads: a multipart ``file`` streamed to ``uploads/{imageId}``, with the same limits."""

from __future__ import annotations

from typing import Any

import pytest

from snapqueue_core.schemas import ImageStatus, is_image_id
from tests.upload_service.upload_helpers import (
    BOUNDARY,
    RunningService,
    closing,
    multipart_content_type,
    part_head,
    streamed_file,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x10" * 5000 + b"\xff\xd9"


async def object_keys(service: RunningService) -> list[str]:
    listed = await service.clients.s3.list_objects_v2(Bucket=service.settings.uploads_bucket)
    return [obj["Key"] for obj in listed.get("Contents", [])]


async def record_count(service: RunningService) -> int:
    scan = await service.clients.dynamodb.scan(
        TableName=service.settings.images_table, Select="COUNT"
    )
    return int(scan["Count"])


async def test_upload_is_stored_at_its_key_with_a_pending_record(service: RunningService) -> None:
    response = await service.http.post(
        "/uploads", files={"file": ("../me/beach day.jpg", JPEG, "image/jpeg")}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"imageId", "status"}
    assert body["status"] == "PENDING_UPLOAD"
    image_id = body["imageId"]
    assert is_image_id(image_id)

    obj = await service.clients.s3.get_object(
        Bucket=service.settings.uploads_bucket, Key=f"uploads/{image_id}"
    )
    assert obj["ContentType"] == "image/jpeg"
    async with obj["Body"] as stream:
        assert await stream.read() == JPEG

    record = await service.store.get(image_id)
    assert record is not None
    assert record.status is ImageStatus.PENDING_UPLOAD
    assert record.original_filename == "beach day.jpg"
    assert record.declared_size == len(JPEG)
    assert record.content_type == "image/jpeg"


async def test_octet_stream_part_is_typed_from_its_extension(service: RunningService) -> None:
    # curl -F file=@photo.heic sends application/octet-stream for unknown extensions.
    response = await service.http.post(
        "/uploads", files={"file": ("photo.HEIC", b"....heic....", "application/octet-stream")}
    )
    assert response.status_code == 202, response.text
    image_id = response.json()["imageId"]
    head = await service.clients.s3.head_object(
        Bucket=service.settings.uploads_bucket, Key=f"uploads/{image_id}"
    )
    assert head["ContentType"] == "image/heic"


async def test_other_form_fields_are_ignored(service: RunningService) -> None:
    response = await service.http.post(
        "/uploads",
        data={"note": "hello", "key": "uploads/chosen-by-me"},
        files={"file": ("a.png", b"\x89PNG....", "image/png")},
    )
    assert response.status_code == 202
    assert f"uploads/{response.json()['imageId']}" in await object_keys(service)
    assert "uploads/chosen-by-me" not in await object_keys(service)


def raw_body(*parts: bytes) -> bytes:
    return b"".join(parts)


BAD_UPLOADS: list[tuple[str, dict[str, Any], int, str]] = [
    (
        "wrong type",
        {"files": {"file": ("a.txt", b"hello", "text/plain")}},
        415,
        "unsupported_content_type",
    ),
    (
        "svg",
        {"files": {"file": ("a.svg", b"<svg/>", "image/svg+xml")}},
        415,
        "unsupported_content_type",
    ),
    (
        "octet-stream without a known extension",
        {"files": {"file": ("a.bin", b"\x00\x01", "application/octet-stream")}},
        415,
        "unsupported_content_type",
    ),
    ("empty file", {"files": {"file": ("a.jpg", b"", "image/jpeg")}}, 422, "empty_file"),
    ("no file field", {"files": {"other": ("a.jpg", JPEG, "image/jpeg")}}, 422, "missing_file"),
    (
        "overlong filename",
        {"files": {"file": ("x" * 300 + ".jpg", JPEG, "image/jpeg")}},
        422,
        "invalid_filename",
    ),
    ("json body", {"json": {"file": "abc"}}, 422, "invalid_multipart"),
    ("no body", {}, 422, "invalid_multipart"),
    (
        "two files",
        {
            "content": raw_body(
                part_head("file", "a.jpg", "image/jpeg"),
                JPEG,
                b"\r\n",
                part_head("file", "b.jpg", "image/jpeg"),
                JPEG,
                closing(),
            ),
            "headers": {"Content-Type": multipart_content_type()},
        },
        422,
        "invalid_multipart",
    ),
    (
        "truncated body",
        {
            "content": raw_body(part_head("file", "a.jpg", "image/jpeg"), JPEG),
            "headers": {"Content-Type": multipart_content_type()},
        },
        422,
        "invalid_multipart",
    ),
    (
        "boundary missing",
        {"content": JPEG, "headers": {"Content-Type": "multipart/form-data"}},
        422,
        "invalid_multipart",
    ),
]


@pytest.mark.parametrize(
    ("case", "request_args", "status", "code"), BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS]
)
async def test_bad_uploads_are_rejected_and_leave_nothing(
    service: RunningService, case: str, request_args: dict[str, Any], status: int, code: str
) -> None:
    keys, records = await object_keys(service), await record_count(service)
    response = await service.http.post("/uploads", **request_args)
    assert response.status_code == status, (case, response.text)
    assert response.json()["error"] == code
    assert await object_keys(service) == keys
    assert await record_count(service) == records


@pytest.fixture(scope="module")
def small_limit() -> int:
    return 1024 * 1024


async def test_streamed_body_over_the_limit_is_stopped(
    upload_service_factory: Any, small_limit: int
) -> None:
    small = await upload_service_factory(max_upload_bytes=small_limit)
    # A generator body: chunked, no Content-Length; the limit is enforced while streaming.
    response = await small.http.post(
        "/uploads",
        content=streamed_file(small_limit + 1),
        headers={"Content-Type": multipart_content_type()},
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "file_too_large"
    assert await object_keys(small) == []
    assert await record_count(small) == 0

    exact = await small.http.post(
        "/uploads",
        content=streamed_file(small_limit),
        headers={"Content-Type": multipart_content_type()},
    )
    assert exact.status_code == 202, exact.text
    head = await small.clients.s3.head_object(
        Bucket=small.settings.uploads_bucket, Key=f"uploads/{exact.json()['imageId']}"
    )
    assert head["ContentLength"] == small_limit


async def test_declared_length_over_the_limit_is_refused_before_reading(
    upload_service_factory: Any, small_limit: int
) -> None:
    small = await upload_service_factory(max_upload_bytes=small_limit)
    body = part_head("file", "a.jpg", "image/jpeg") + b"x" * (2 * small_limit) + closing()
    response = await small.http.post(
        "/uploads",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"
    assert await record_count(small) == 0


async def test_upload_request_uses_the_same_limit(
    upload_service_factory: Any, small_limit: int
) -> None:
    small = await upload_service_factory(max_upload_bytes=small_limit)
    too_big = await small.http.post(
        "/upload-request",
        json={"filename": "a.jpg", "contentType": "image/jpeg", "size": small_limit + 1},
    )
    assert too_big.status_code == 413
    ok = await small.http.post(
        "/upload-request",
        json={"filename": "a.jpg", "contentType": "image/jpeg", "size": small_limit},
    )
    assert ok.status_code == 201
    assert ok.json()["maxBytes"] == small_limit


@pytest.mark.parametrize(
    "body",
    [
        b"--x\r\n\r\n\r\n--x--",
        b"--x\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--x--\r\n",
        b"garbage without any boundary",
        b"--x--\r\n",
    ],
)
async def test_malformed_multipart_is_a_client_error(service: RunningService, body: bytes) -> None:
    response = await service.http.post(
        "/uploads", content=body, headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] in ("invalid_multipart", "missing_file")
