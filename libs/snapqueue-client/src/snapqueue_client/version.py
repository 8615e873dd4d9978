"""The installed distribution's version, sent as the User-Agent."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("snapqueue-client")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
