"""The notifier's one base error: what went wrong, as the error code a client sees."""

from __future__ import annotations


class NotifierError(Exception):
    """Turned into one ``{"type": "error", "code", "message"}`` frame by the connection handler.

    ``code`` plays the part an HTTP status plays in the other services: it is what the client
    branches on. The socket stays open after an error frame.
    """

    def __init__(self, code: str, message: str, *, image_id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.image_id = image_id


class ServiceUnavailableError(NotifierError):
    """AWS did not answer while handling a client's request; the client may retry."""

    def __init__(self, message: str, *, image_id: str | None = None) -> None:
        super().__init__("service_unavailable", message, image_id=image_id)
