"""The presigned POST's ``multipart/form-data`` body, streamed with byte progress.

httpx's ``files=`` cannot report progress, so the body is framed here: every policy field,
then ``file`` last (S3 ignores anything after it). The length is computed up front because
S3 refuses a POST without ``Content-Length`` (no chunked uploads).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 256 * 1024

ProgressCallback = Callable[[int, int], None]


def _quote(value: str) -> str:
    """A header parameter value as browsers send it (WHATWG form encoding)."""
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


@dataclass(frozen=True)
class Source:
    """The file's bytes, in memory or on disk, and their size."""

    data: bytes | None
    path: Path | None
    size: int

    @classmethod
    async def of(cls, source: Path | bytes) -> Source:
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            return cls(data, None, len(data))
        path = Path(source)
        stat = await asyncio.to_thread(path.stat)
        return cls(None, path, stat.st_size)

    async def head(self, count: int = 32) -> bytes:
        if self.path is None:
            return (self.data or b"")[:count]
        return await asyncio.to_thread(_read_head, self.path, count)

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.path is None:
            data = self.data or b""
            for start in range(0, len(data), CHUNK_BYTES):
                yield data[start : start + CHUNK_BYTES]
            return
        handle: BinaryIO = await asyncio.to_thread(self.path.open, "rb")
        try:
            remaining = self.size
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, remaining))
                if not chunk:
                    raise OSError(f"{self.path} shrank while it was being uploaded")
                remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)


def _read_head(path: Path, count: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(count)


@dataclass(frozen=True)
class MultipartBody:
    content_type: str
    length: int
    preamble: bytes
    epilogue: bytes
    source: Source

    @classmethod
    def build(
        cls, fields: Mapping[str, str], source: Source, filename: str, file_type: str
    ) -> MultipartBody:
        boundary = f"snapqueue-{secrets.token_hex(16)}"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
            f"{value}\r\n"
            for name, value in fields.items()
        ]
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{_quote(filename)}"\r\n'
            f"Content-Type: {file_type}\r\n\r\n"
        )
        preamble = "".join(parts).encode()
        epilogue = f"\r\n--{boundary}--\r\n".encode()
        return cls(
            content_type=f"multipart/form-data; boundary={boundary}",
            length=len(preamble) + source.size + len(epilogue),
            preamble=preamble,
            epilogue=epilogue,
            source=source,
        )

    async def stream(self, on_progress: ProgressCallback | None) -> AsyncIterator[bytes]:
        """The body; ``on_progress(sent, total)`` after each file chunk has been taken.

        A chunk is reported once httpx asks for the next one, i.e. after it was written.
        """
        total = self.source.size
        sent = 0
        if on_progress is not None:
            on_progress(0, total)
        yield self.preamble
        async for chunk in self.source.chunks():
            yield chunk
            sent += len(chunk)
            if on_progress is not None:
                on_progress(sent, total)
        yield self.epilogue
