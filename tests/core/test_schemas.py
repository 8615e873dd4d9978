import json
from datetime import UTC, datetime

import pytest

from snapqueue_core.schemas import (
    ImageError,
    ImageRecord,
    ImageStatus,
    MalformedEventError,
    NotificationEvent,
    StoredVariant,
    image_id_from_upload_key,
    is_image_id,
    parse_s3_event,
    upload_key,
    variant_key,
)

IMAGE_ID = "0123456789abcdef0123456789abcdef"


def s3_event(key: str, name: str = "ObjectCreated:Post") -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventName": name,
                    "s3": {
                        "bucket": {"name": "snapqueue-uploads"},
                        "object": {"key": key, "size": 42, "eTag": '"abc"', "sequencer": "01"},
                    },
                }
            ]
        }
    )


def test_test_event_is_skipped() -> None:
    assert parse_s3_event(json.dumps({"Event": "s3:TestEvent", "Bucket": "b"})) == []


def test_keys_are_url_decoded() -> None:
    (event,) = parse_s3_event(s3_event("imports/my+holiday%2B%C3%A9t%C3%A9.jpg"))
    assert event.key == "imports/my holiday+été.jpg"
    assert event.size == 42
    assert event.etag == "abc"
    assert event.bucket == "snapqueue-uploads"


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", json.dumps({"Records": "x"}), json.dumps({"Records": [{"s3": {}}]})],
)
def test_malformed_bodies_raise(body: str) -> None:
    with pytest.raises(MalformedEventError):
        parse_s3_event(body)


def test_upload_keys_round_trip_and_reject_anything_else() -> None:
    assert image_id_from_upload_key(upload_key(IMAGE_ID)) == IMAGE_ID
    assert image_id_from_upload_key(f"imports/{IMAGE_ID}") is None
    assert image_id_from_upload_key("uploads/../etc/passwd") is None
    assert image_id_from_upload_key(f"uploads/{IMAGE_ID}/x") is None
    assert not is_image_id(IMAGE_ID.upper())
    assert variant_key(IMAGE_ID, "thumbnail", "jpg") == f"processed/{IMAGE_ID}/thumbnail.jpg"


def record(status: ImageStatus, **extra: object) -> ImageRecord:
    return ImageRecord(
        image_id=IMAGE_ID,
        status=status,
        source_key=upload_key(IMAGE_ID),
        upload_timestamp="2026-01-01T00:00:00.000000Z",
        updated_at="2026-01-01T00:00:00.000000Z",
        **extra,  # type: ignore[arg-type]
    )


def test_terminal_events_follow_the_contract() -> None:
    variant = StoredVariant(key="k", width=1, height=2, content_type="image/jpeg", bytes=3)
    done = NotificationEvent.terminal(record(ImageStatus.COMPLETED, variants={"resized": variant}))
    wire = json.loads(done.to_json())
    assert wire["type"] == "imageProcessed"
    assert wire["imageId"] == IMAGE_ID
    assert wire["status"] == "COMPLETED"
    assert wire["variants"]["resized"]["contentType"] == "image/jpeg"

    failed = NotificationEvent.terminal(
        record(ImageStatus.FAILED, error=ImageError(code="corrupt_image", message="bad"))
    )
    wire = json.loads(failed.to_json())
    assert wire["type"] == "imageFailed"
    assert wire["error"] == {"code": "corrupt_image", "message": "bad"}

    with pytest.raises(ValueError, match="not terminal"):
        NotificationEvent.terminal(record(ImageStatus.PROCESSING))


def test_record_ignores_storage_only_attributes() -> None:
    parsed = ImageRecord.model_validate(
        {
            "imageId": IMAGE_ID,
            "status": "PROCESSING",
            "sourceKey": "uploads/x",
            "uploadTimestamp": "t",
            "updatedAt": "t",
            "processingToken": "secret",
            "leaseUntil": 5,
        }
    )
    assert parsed.status is ImageStatus.PROCESSING
    assert "processingToken" not in parsed.model_dump(by_alias=True)


def test_a_pending_record_is_the_state_before_any_file() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    upload = ImageRecord.pending(
        IMAGE_ID, filename="a.jpg", content_type="image/jpeg", declared_size=10, now=moment
    )
    assert upload.status is ImageStatus.PENDING_UPLOAD
    assert upload.source_key == upload_key(IMAGE_ID)
    assert upload.upload_timestamp == upload.updated_at == "2026-01-02T03:04:05.006000Z"
    assert (upload.original_filename, upload.content_type, upload.declared_size) == (
        "a.jpg",
        "image/jpeg",
        10,
    )
    assert upload.origin == "upload"
    assert upload.attempts == 0
    assert upload.lease_until is None
    assert not upload.variants
    assert upload.completed_at is None

    imported = ImageRecord.pending(IMAGE_ID, source_key="imports/cat.png", origin="import")
    assert imported.source_key == "imports/cat.png"
    assert imported.origin == "import"
    assert imported.content_type is None
    assert imported.upload_timestamp == imported.updated_at
