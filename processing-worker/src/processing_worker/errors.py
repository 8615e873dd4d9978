"""The worker's one error family: every failure a user can see has a code and a message."""

from __future__ import annotations


class WorkerError(Exception):
    """Base of the worker's own errors; ``code`` is what the image record stores."""

    code = "processing_failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class PermanentImageError(WorkerError):
    """The image itself cannot be processed; retrying would fail the same way."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)
