"""JSON log lines; every line about an image carries its imageId."""

import json
import logging
from collections.abc import Iterator

import pytest

from snapqueue_core.logs import bind_image_id, configure_logging


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_log_lines_are_json_with_the_image_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test-service", "INFO")
    log = logging.getLogger("snapqueue.test")
    with bind_image_id("0123456789abcdef0123456789abcdef"):
        log.info("processing", extra={"stage": "decode"})
    log.info("no image here")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines()[-2:])
    assert first["imageId"] == "0123456789abcdef0123456789abcdef"
    assert first["service"] == "test-service"
    assert first["stage"] == "decode"
    assert first["msg"] == "processing"
    assert "imageId" not in second
