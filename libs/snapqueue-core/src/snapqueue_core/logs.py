"""Structured JSON logs; every line about an image carries its ``imageId``."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_image_id: ContextVar[str | None] = ContextVar("snapqueue_image_id", default=None)

# Attributes every LogRecord has; anything else passed through ``extra=`` is emitted.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


@contextmanager
def bind_image_id(image_id: str | None) -> Iterator[None]:
    """Tag every log line in this context (task) with ``image_id``."""
    token = _image_id.set(image_id)
    try:
        yield
    finally:
        _image_id.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        image_id = getattr(record, "imageId", None) or _image_id.get()
        if image_id:
            entry["imageId"] = image_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send JSON lines to stderr; called once by each service's entry point."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # botocore's debug chatter would drown the service's own lines.
    for noisy in ("botocore", "aiobotocore", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
