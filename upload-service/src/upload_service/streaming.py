"""Receive the ``file`` field of a multipart body incrementally, into a bounded spool.

The body is parsed as it arrives; at most ``spool_memory_bytes`` of the file stay in
memory, the rest goes to a temporary file, so memory does not grow with the upload.
Limits (size, type, name) are checked while streaming, before the file is complete.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from typing import IO, Literal, cast

from streaming_form_data import StreamingFormDataParser
from streaming_form_data.parser import ParseFailedException
from streaming_form_data.targets import BaseTarget, ValueTarget

from .errors import (
    EmptyFileError,
    FileTooLargeError,
    InvalidMultipartError,
    InvalidRequestError,
    MissingFileError,
)
from .rules import (
    GENERIC_CONTENT_TYPES,
    canonical_content_type,
    content_type_from_filename,
    sanitize_filename,
)

FILE_FIELD = "file"
VISIBILITY_FIELD = "visibility"
VISIBILITIES = ("private", "public")
# Longer than any accepted value; a field beyond it is refused without keeping it.
VISIBILITY_MAX_BYTES = 16
DEFAULT_FILENAME = "upload"


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int
    allowed_content_types: Collection[str]
    filename_max_length: int
    spool_memory_bytes: int


@dataclass
class ReceivedFile:
    """A complete, checked file; the caller owns (and must close) ``spool``."""

    spool: IO[bytes]
    size: int
    content_type: str
    filename: str
    visibility: Literal["private", "public"] | None = None


class _SpoolTarget(BaseTarget):  # type: ignore[misc]  # the library ships no types
    """Writes the one ``file`` part to a spool, checking limits as the bytes arrive."""

    def __init__(self, limits: FileLimits) -> None:
        super().__init__()
        self._limits = limits
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by owner
            max_size=limits.spool_memory_bytes
        )
        self.size = 0
        self.parts = 0
        self.finished = False
        self.content_type: str | None = None
        self.filename: str | None = None

    def _check_headers(self) -> None:
        """Name and type are known once the part headers are parsed (at its first bytes)."""
        if self.content_type is not None:
            return
        raw_name = self.multipart_filename
        self.filename = (
            sanitize_filename(raw_name, self._limits.filename_max_length)
            if raw_name
            else DEFAULT_FILENAME
        )
        declared = (self.multipart_content_type or "").strip()
        if declared.lower() in GENERIC_CONTENT_TYPES:
            # Nothing meaningful was declared (curl does this for unknown extensions).
            declared = content_type_from_filename(self.filename) or declared
        self.content_type = canonical_content_type(declared, self._limits.allowed_content_types)

    async def on_start_async(self) -> None:
        self.parts += 1
        if self.parts > 1:
            raise InvalidMultipartError(f"Send exactly one '{FILE_FIELD}' field.")

    async def on_data_received_async(self, chunk: bytes) -> None:
        self._check_headers()
        self.size += len(chunk)
        if self.size > self._limits.max_bytes:
            raise FileTooLargeError(
                f"The file exceeds the maximum of {self._limits.max_bytes} bytes."
            )
        # Disk writes can block; keep them off the event loop.
        await asyncio.to_thread(self.spool.write, chunk)

    async def on_finish_async(self) -> None:
        self._check_headers()
        self.finished = True


async def receive_file(
    headers: Mapping[str, str], body: AsyncIterator[bytes], limits: FileLimits
) -> ReceivedFile:
    """Parse ``body`` until it ends; return the checked file or raise an ``ApiError``.

    On error the spool is closed; the caller may still drain ``body``.
    """
    try:
        parser = StreamingFormDataParser(headers)
    except ParseFailedException as exc:
        raise InvalidMultipartError(
            f"Send multipart/form-data with a '{FILE_FIELD}' field ({exc})."
        ) from exc
    target = _SpoolTarget(limits)
    visibility_target = ValueTarget()
    received = False  # until then, any way out closes the spool
    try:
        parser.register(FILE_FIELD, target)
        parser.register(VISIBILITY_FIELD, visibility_target)
        async for chunk in body:
            if chunk:
                await parser.adata_received(chunk)
                if len(visibility_target.value) > VISIBILITY_MAX_BYTES:
                    raise InvalidRequestError("visibility must be 'private' or 'public'.")
        if target.parts == 0:
            raise MissingFileError(f"The multipart body has no '{FILE_FIELD}' field.")
        if not target.finished:
            raise InvalidMultipartError("The body ended before the end of the file.")
        if target.size == 0:
            raise EmptyFileError("The file is empty.")
        if target.content_type is None or target.filename is None:
            raise InvalidMultipartError("The file part has no readable headers.")
        visibility = visibility_target.value.decode("utf-8", "replace").strip() or None
        if visibility is not None and visibility not in VISIBILITIES:
            raise InvalidRequestError("visibility must be 'private' or 'public'.")
        await asyncio.to_thread(target.spool.seek, 0)
        received = True
        return ReceivedFile(
            spool=target.spool,
            size=target.size,
            content_type=target.content_type,
            filename=target.filename,
            visibility=cast(Literal["private", "public"] | None, visibility),
        )
    except ParseFailedException as exc:
        raise InvalidMultipartError(f"The multipart body is malformed ({exc}).") from exc
    finally:
        if not received:
            target.spool.close()
