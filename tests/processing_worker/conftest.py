"""Fixtures of the worker's tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def quiet_emulator_access_log() -> Iterator[None]:
    """The emulator logs every request; thousands per test only slow the capture down."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)
