"""``SnapQueue``: the blocking facade over :class:`AsyncSnapQueue`.

Each instance runs its own event loop in a background thread; every method hands its
coroutine to that loop and blocks until it is done. So the facade works the same from a
script, a thread pool or a notebook that already runs a loop, and one socket and one
connection pool serve every call. Callbacks (``on_progress``, ``on_status``) run on the
client's thread: keep them short and do not call the facade from inside them.
"""

from __future__ import annotations

import asyncio
import builtins
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from snapqueue_client.client import (
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_SECONDS,
    AsyncSnapQueue,
    StatusCallback,
    TokensCallback,
)
from snapqueue_client.errors import SnapQueueError
from snapqueue_client.models import (
    ImageEvent,
    ImagePage,
    ImageRecord,
    Me,
    SignUpResult,
    Status,
    StatusInfo,
    Tokens,
    UploadTicket,
    Visibility,
)
from snapqueue_client.multipart import ProgressCallback

T = TypeVar("T")


class SnapQueue:
    """Same methods as :class:`AsyncSnapQueue`, blocking; ``with SnapQueue(url) as client``.

    ``on_tokens`` runs on the client's thread, like the other callbacks.
    """

    def __init__(
        self,
        api_url: str,
        ws_url: str | None = None,
        *,
        token: str | None = None,
        tokens: Tokens | None = None,
        refresh_token: str | None = None,
        on_tokens: TokensCallback | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="snapqueue-client", daemon=True
        )
        self._thread.start()
        self._closed = False

        async def make() -> AsyncSnapQueue:
            return AsyncSnapQueue(
                api_url,
                ws_url,
                token=token,
                tokens=tokens,
                refresh_token=refresh_token,
                on_tokens=on_tokens,
                timeout=timeout,
                transport=transport,
            )

        try:
            self._client = self._run(make())
        except ValueError:
            self._stop_loop()
            raise
        self.api_url = self._client.api_url
        self.ws_url = self._client.ws_url

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coroutine.close()
            raise SnapQueueError("this SnapQueue client is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            # Ctrl-C in the caller's thread: stop the work in the client's thread too.
            future.cancel()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._run(self._client.aclose())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    @property
    def token(self) -> str | None:
        return self._client.token

    @property
    def tokens(self) -> Tokens | None:
        return self._client.tokens

    def sign_up(self, email: str, password: str) -> SignUpResult:
        return self._run(self._client.sign_up(email, password))

    def confirm(self, email: str, code: str) -> None:
        self._run(self._client.confirm(email, code))

    def sign_in(self, email: str, password: str) -> Tokens:
        return self._run(self._client.sign_in(email, password))

    def refresh(self) -> Tokens:
        return self._run(self._client.refresh())

    def me(self) -> Me:
        return self._run(self._client.me())

    def request_upload(
        self,
        filename: str,
        content_type: str,
        size: int,
        *,
        visibility: Visibility | str | None = None,
    ) -> UploadTicket:
        return self._run(
            self._client.request_upload(filename, content_type, size, visibility=visibility)
        )

    def send_file(
        self,
        ticket: UploadTicket,
        source: Path | bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self._run(
            self._client.send_file(
                ticket,
                source,
                filename=filename,
                content_type=content_type,
                on_progress=on_progress,
            )
        )

    def upload(
        self,
        source: Path | bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        on_progress: ProgressCallback | None = None,
        on_status: StatusCallback | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT_SECONDS,
        visibility: Visibility | str | None = None,
    ) -> ImageRecord:
        return self._run(
            self._client.upload(
                source,
                filename=filename,
                content_type=content_type,
                on_progress=on_progress,
                on_status=on_status,
                wait=wait,
                timeout=timeout,
                visibility=visibility,
            )
        )

    def get(self, image_id: str) -> ImageRecord:
        return self._run(self._client.get(image_id))

    def status(self, image_id: str) -> StatusInfo:
        return self._run(self._client.status(image_id))

    def list(self, limit: int | None = None, cursor: str | None = None) -> ImagePage:
        return self._run(self._client.list(limit, cursor))

    def iter_images(self, page_size: int | None = None) -> Iterator[ImageRecord]:
        cursor: str | None = None
        while True:
            page = self.list(page_size, cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def my_images(
        self,
        limit: int | None = None,
        cursor: str | None = None,
        status: Status | str | None = None,
    ) -> ImagePage:
        return self._run(self._client.my_images(limit, cursor, status))

    def iter_my_images(
        self, page_size: int | None = None, status: Status | str | None = None
    ) -> Iterator[ImageRecord]:
        cursor: str | None = None
        while True:
            page = self.my_images(page_size, cursor, status)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def admin_images(
        self, owner_id: str, limit: int | None = None, cursor: str | None = None
    ) -> ImagePage:
        return self._run(self._client.admin_images(owner_id, limit, cursor))

    def set_visibility(self, image_id: str, visibility: Visibility | str) -> ImageRecord:
        return self._run(self._client.set_visibility(image_id, visibility))

    def delete(self, image_id: str) -> None:
        self._run(self._client.delete(image_id))

    def wait(
        self,
        image_id: str,
        timeout: float = DEFAULT_WAIT_SECONDS,
        *,
        on_status: StatusCallback | None = None,
    ) -> ImageRecord:
        return self._run(self._client.wait(image_id, timeout, on_status=on_status))

    def watch(self, image_id: str, timeout: float = DEFAULT_WAIT_SECONDS) -> Iterator[ImageEvent]:
        events = self._client.watch(image_id, timeout)
        try:
            while True:
                try:
                    event = self._run(_next(events))
                except StopAsyncIteration:
                    return
                yield event
        finally:
            if not self._closed:
                self._run(events.aclose())

    def download_variants(
        self,
        record: ImageRecord | str,
        out_dir: Path | str,
        names: builtins.list[str] | None = None,
    ) -> dict[str, Path]:
        return self._run(self._client.download_variants(record, out_dir, names))


async def _next(events: AsyncIterator[T]) -> T:
    return await anext(events)
