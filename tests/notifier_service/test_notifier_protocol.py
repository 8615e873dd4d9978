"""The contract's pure half: client frames parsed, server frames built."""

from __future__ import annotations

import json

import pytest

from notifier_service.errors import NotifierError
from notifier_service.protocol import (
    Authenticate,
    ClientFrameError,
    RegisterImage,
    UnregisterImage,
    authenticated_frame,
    encode,
    error_frame,
    event_frame,
    parse_client_frame,
    registered_frame,
    status_frame,
    unregistered_frame,
)
from snapqueue_core.schemas import ImageError, ImageStatus, NotificationEvent

IMAGE_ID = "0123456789abcdef" * 2


def register_frame(image_id: object) -> str:
    return json.dumps({"action": "registerImage", "imageId": image_id})


def test_register_and_unregister_parse() -> None:
    assert parse_client_frame(
        json.dumps({"action": "registerImage", "imageId": IMAGE_ID})
    ) == RegisterImage(IMAGE_ID)
    assert parse_client_frame(
        json.dumps({"action": "unregisterImage", "imageId": IMAGE_ID, "extra": 1})
    ) == UnregisterImage(IMAGE_ID)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"{}", "invalid_frame"),
        ("", "invalid_json"),
        ("{'single': 'quotes'}", "invalid_json"),
        ("null", "invalid_frame"),
        ('"registerImage"', "invalid_frame"),
        ("{}", "unknown_action"),
        ('{"action": ["registerImage"]}', "unknown_action"),
        (json.dumps({"action": "RegisterImage", "imageId": IMAGE_ID}), "unknown_action"),
        (register_frame(None), "invalid_image_id"),
        (register_frame(IMAGE_ID[:-1]), "invalid_image_id"),
        (register_frame(IMAGE_ID + "0"), "invalid_image_id"),
        (register_frame(IMAGE_ID[:-1] + "g"), "invalid_image_id"),
        (register_frame(IMAGE_ID + "\n"), "invalid_image_id"),
        (register_frame(IMAGE_ID.upper()), "invalid_image_id"),
    ],
)
def test_bad_frames_name_their_problem(frame: str | bytes, code: str) -> None:
    with pytest.raises(ClientFrameError) as raised:
        parse_client_frame(frame)
    assert raised.value.code == code
    assert raised.value.message


def test_error_messages_do_not_echo_long_input() -> None:
    with pytest.raises(ClientFrameError) as raised:
        parse_client_frame(json.dumps({"action": "x" * 5000}))
    assert len(raised.value.message) < 200


def test_server_frames() -> None:
    assert json.loads(encode(registered_frame(IMAGE_ID))) == {
        "type": "registered",
        "imageId": IMAGE_ID,
    }
    assert unregistered_frame(IMAGE_ID) == {"type": "unregistered", "imageId": IMAGE_ID}
    assert status_frame(IMAGE_ID, ImageStatus.PROCESSING) == {
        "type": "status",
        "imageId": IMAGE_ID,
        "status": "PROCESSING",
    }
    assert error_frame(NotifierError("invalid_json", "bad")) == {
        "type": "error",
        "code": "invalid_json",
        "message": "bad",
    }
    assert error_frame(NotifierError("unknown_image", "no", image_id=IMAGE_ID))["imageId"] == (
        IMAGE_ID
    )


def test_event_frames_have_the_contract_fields_only() -> None:
    progress = NotificationEvent.progress(IMAGE_ID, ImageStatus.PROCESSING)
    assert event_frame(progress, None) == {
        "type": "status",
        "imageId": IMAGE_ID,
        "status": "PROCESSING",
    }
    rendered = {"thumbnail": {"url": "u", "width": 1, "height": 1, "contentType": "t", "bytes": 1}}
    done = NotificationEvent(
        type="imageProcessed", image_id=IMAGE_ID, status=ImageStatus.COMPLETED, variants={}
    )
    assert event_frame(done, rendered) == {
        "type": "imageProcessed",
        "imageId": IMAGE_ID,
        "status": "COMPLETED",
        "variants": rendered,
    }
    failed = NotificationEvent(
        type="imageFailed",
        image_id=IMAGE_ID,
        status=ImageStatus.FAILED,
        error=ImageError(code="too_big", message="Too many pixels."),
    )
    assert event_frame(failed, None) == {
        "type": "imageFailed",
        "imageId": IMAGE_ID,
        "status": "FAILED",
        "error": {"code": "too_big", "message": "Too many pixels."},
    }


def test_authenticate_parses_and_keeps_the_token_out_of_reprs() -> None:
    action = parse_client_frame(json.dumps({"action": "authenticate", "token": "a.b.c"}))
    assert action == Authenticate("a.b.c")
    assert "a.b.c" not in repr(action)


@pytest.mark.parametrize("token", [None, "", 42, ["a.b.c"], {"token": "x"}])
def test_authenticate_without_a_token_string_is_unauthenticated(token: object) -> None:
    payload: dict[str, object] = {"action": "authenticate"}
    if token is not None:
        payload["token"] = token
    with pytest.raises(ClientFrameError) as raised:
        parse_client_frame(json.dumps(payload))
    assert raised.value.code == "unauthenticated"
    assert "token" in raised.value.message


def test_authentication_and_deletion_frames() -> None:
    assert authenticated_frame("sub-1") == {"type": "authenticated", "userId": "sub-1"}
    assert event_frame(NotificationEvent.deleted(IMAGE_ID), None) == {
        "type": "imageDeleted",
        "imageId": IMAGE_ID,
    }


def test_an_event_without_status_is_not_rendered() -> None:
    with pytest.raises(ValueError, match="status"):
        event_frame(NotificationEvent(type="status", image_id=IMAGE_ID), None)
