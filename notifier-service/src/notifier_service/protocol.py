"""The WebSocket contract as pure functions: client frames in, server frames out.

Nothing here does I/O. Parsing turns a received frame into a typed action or raises
:class:`ClientFrameError` carrying the error code the client will see; the builders make
the JSON objects the server sends (``docs/websocket.md`` is the human-readable version).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from snapqueue_core.schemas import ImageStatus, NotificationEvent, is_image_id

from .errors import NotifierError

ErrorCode = Literal[
    "unauthenticated",
    "token_expired",
    "invalid_json",
    "invalid_frame",
    "unknown_action",
    "invalid_image_id",
    "unknown_image",
    "too_many_registrations",
    "service_unavailable",
]

ACTIONS = ("authenticate", "registerImage", "unregisterImage")


class ClientFrameError(NotifierError):
    """A frame the server cannot act on; the client gets an error frame, the socket stays."""

    def __init__(self, code: ErrorCode, message: str, *, image_id: str | None = None) -> None:
        super().__init__(code, message, image_id=image_id)


@dataclass(frozen=True)
class Authenticate:
    # Never shown in logs or reprs: it is a credential.
    token: str = field(repr=False)


@dataclass(frozen=True)
class RegisterImage:
    image_id: str


@dataclass(frozen=True)
class UnregisterImage:
    image_id: str


ClientAction = Authenticate | RegisterImage | UnregisterImage


def parse_client_frame(frame: str | bytes) -> ClientAction:
    """The action a client frame asks for; :class:`ClientFrameError` if there is none."""
    if not isinstance(frame, str):
        raise ClientFrameError("invalid_frame", "Binary frames are not accepted; send JSON text.")
    try:
        payload = json.loads(frame)
    except json.JSONDecodeError as exc:
        raise ClientFrameError("invalid_json", f"The frame is not valid JSON: {exc.msg}.") from exc
    if not isinstance(payload, dict):
        raise ClientFrameError("invalid_frame", "A frame must be a JSON object.")
    action = payload.get("action")
    if action not in ACTIONS:
        raise ClientFrameError(
            "unknown_action",
            f"Unknown action {_describe(action)}; expected one of: {', '.join(ACTIONS)}.",
        )
    if action == "authenticate":
        token = payload.get("token")
        if not isinstance(token, str) or not token:
            # The token itself is never echoed back: only its kind.
            raise ClientFrameError(
                "unauthenticated",
                f"token must be a non-empty string (an access token), got {_kind(token)}.",
            )
        return Authenticate(token)
    image_id = payload.get("imageId")
    if not isinstance(image_id, str) or not is_image_id(image_id):
        raise ClientFrameError(
            "invalid_image_id",
            f"imageId must be 32 lowercase hexadecimal characters, got {_describe(image_id)}.",
        )
    if action == "registerImage":
        return RegisterImage(image_id)
    return UnregisterImage(image_id)


def _kind(value: object) -> str:
    """What a client's value is, without its content."""
    if isinstance(value, str):
        return "an empty string"
    return "nothing" if value is None else f"a JSON {type(value).__name__}"


def _describe(value: object) -> str:
    """A short, safe rendering of a client's value for an error message."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------------
# Server frames


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


def authenticated_frame(user_id: str) -> dict[str, Any]:
    return {"type": "authenticated", "userId": user_id}


def registered_frame(image_id: str) -> dict[str, Any]:
    return {"type": "registered", "imageId": image_id}


def unregistered_frame(image_id: str) -> dict[str, Any]:
    return {"type": "unregistered", "imageId": image_id}


def status_frame(image_id: str, status: ImageStatus) -> dict[str, Any]:
    return {"type": "status", "imageId": image_id, "status": status.value}


def error_frame(error: NotifierError) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": error.code, "message": error.message}
    if error.image_id is not None:
        frame["imageId"] = error.image_id
    return frame


def event_frame(
    event: NotificationEvent, variants: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    """An internal event as browsers see it; ``variants`` already rendered with URLs."""
    frame: dict[str, Any] = {"type": event.type, "imageId": event.image_id}
    if event.type == "imageDeleted":
        # A deleted image has no status any more: the frame is only its id.
        return frame
    if event.status is None:
        raise ValueError(f"a {event.type} event needs a status")
    frame["status"] = event.status.value
    if event.type == "imageProcessed":
        frame["variants"] = variants or {}
    elif event.type == "imageFailed":
        error = event.error
        frame["error"] = {
            "code": error.code if error else "failed",
            "message": error.message if error else "Processing failed.",
        }
    return frame
