"""The typed records: camelCase on the wire, unknown fields ignored, statuses ordered."""

from __future__ import annotations

from snapqueue_client import ImageEvent, ImagePage, ImageRecord, Status


def test_a_record_from_a_newer_server_still_parses() -> None:
    record = ImageRecord.model_validate(
        {
            "imageId": "3f1c0c1e9b6a4d35a0c8f5b3e2d1a9c7",
            "status": "COMPLETED",
            "originalFilename": "holiday.jpg",
            "contentType": "image/jpeg",
            "uploadTimestamp": "2025-01-01T12:00:00.123456Z",
            "updatedAt": "2025-01-01T12:00:02.654321Z",
            "variants": {
                "thumbnail": {
                    "url": "https://cdn/x.jpg",
                    "width": 256,
                    "height": 256,
                    "contentType": "image/jpeg",
                    "bytes": 14012,
                    "etag": "a later field",
                }
            },
            "metadata": {"width": 4032},
            "error": None,
            "visibility": "private",
            "ownerId": "u1",
            "moderation": {"state": "approved"},
        }
    )
    assert record.status is Status.COMPLETED
    assert record.variants["thumbnail"].content_type == "image/jpeg"
    assert record.model_dump(by_alias=True)["imageId"] == record.image_id
    assert record.visibility == "private"
    assert "moderation" not in record.model_dump()


def test_page_and_event_shapes() -> None:
    page = ImagePage.model_validate({"items": [], "nextCursor": None})
    assert page.items == []
    assert page.next_cursor is None
    failed = ImageEvent.model_validate(
        {
            "type": "imageFailed",
            "imageId": "0" * 32,
            "status": "FAILED",
            "error": {"code": "unsupported_format", "message": "no"},
        }
    )
    assert failed.is_terminal
    assert failed.error is not None
    assert not ImageEvent(type="status", image_id="0" * 32, status=Status.PROCESSING).is_terminal


def test_statuses_only_move_forward() -> None:
    assert Status.PENDING_UPLOAD.rank < Status.PROCESSING.rank < Status.COMPLETED.rank
    assert Status.COMPLETED.rank == Status.FAILED.rank
    assert Status.FAILED.is_terminal
    assert not Status.PROCESSING.is_terminal
