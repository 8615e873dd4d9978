"""``AsyncSnapQueue``: the public REST and WebSocket contracts, typed (docs/client.md)."""

from __future__ import annotations

import asyncio
import builtins
import os
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import ValidationError

from snapqueue_client.content_types import extension_for, guess_content_type
from snapqueue_client.errors import (
    ApiError,
    ImageDeleted,
    NetworkError,
    NotSignedIn,
    SnapQueueError,
    Unauthenticated,
    UploadFailed,
    WaitTimeout,
    api_error,
)
from snapqueue_client.models import (
    ImageEvent,
    ImagePage,
    ImageRecord,
    Me,
    Model,
    SignUpResult,
    Status,
    StatusInfo,
    Tokens,
    UploadTicket,
    Visibility,
)
from snapqueue_client.multipart import MultipartBody, ProgressCallback, Source
from snapqueue_client.notifications import Notifier, NotifierUnavailable, Subscription
from snapqueue_client.urls import derive_ws_url
from snapqueue_client.version import __version__

M = TypeVar("M", bound=Model)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_WAIT_SECONDS = 300.0
# While the socket is quiet, ask GET /status this often anyway: a notifier that was paused
# (not closed) would otherwise hold a wait until its deadline.
SOCKET_CHECK_SECONDS = 10.0
# The socket dropped this many times during one wait: poll for the rest of it.
MAX_SOCKET_DROPS = 3
POLL_FIRST_SECONDS = 0.5
POLL_MAX_SECONDS = 2.0
# An access token this close to its expiry is refreshed before it is sent: a request that
# leaves with it must still be accepted when it arrives.
REFRESH_MARGIN_SECONDS = 60.0

StatusCallback = Callable[[Status], None]
TokensCallback = Callable[[Tokens], None]


class AsyncSnapQueue:
    """The SnapQueue API; use as ``async with AsyncSnapQueue(url) as client``.

    One ``httpx.AsyncClient`` (explicit timeouts) serves the API, the presigned S3 POSTs and
    the variant downloads; one WebSocket, opened on the first wait, serves every wait.
    ``transport`` is handed to httpx (a custom ``httpx.AsyncBaseTransport``: connection
    limits, instrumentation).

    Credentials, one of: ``token``, a fixed access token, sent as is and never refreshed;
    ``tokens`` (from :meth:`sign_in`, or stored) or just a ``refresh_token``: the client
    refreshes the access token shortly before it expires and once after a 401, one refresh
    at a time however many calls need it; or nothing, then :meth:`sign_in`. The access token
    goes as ``Authorization: Bearer`` to the API and the notifier, never to S3 or a CDN.
    ``on_tokens`` is called with every new set of tokens (sign-in, refresh), to store them.
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
        if token is not None and (tokens is not None or refresh_token is not None):
            raise ValueError("token= is a fixed access token: give it, or tokens/refresh_token")
        self.api_url = api_url.rstrip("/")
        self.ws_url = ws_url or derive_ws_url(self.api_url)
        self._fixed_token = token
        self._tokens = tokens
        self._refresh_token = (tokens.refresh_token if tokens else None) or refresh_token
        self._on_tokens = on_tokens
        self._refresh_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"snapqueue-client/{__version__}"},
        )
        connect = timeout.connect if isinstance(timeout, httpx.Timeout) else timeout
        self._notifier = Notifier(
            self.ws_url,
            open_timeout=connect or 10.0,
            headers={},
            token_source=self._access_token,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._notifier.close()
        await self._http.aclose()

    @property
    def socket_connects(self) -> int:
        """How many times the notifier's socket was opened (reconnects included)."""
        return self._notifier.connects

    @property
    def token(self) -> str | None:
        """The access token the next call would send (``None``: not signed in)."""
        if self._fixed_token is not None:
            return self._fixed_token
        return self._tokens.access_token if self._tokens else None

    @property
    def tokens(self) -> Tokens | None:
        """The tokens from the last sign-in or refresh (``None`` with a fixed ``token``)."""
        return self._tokens

    # -- Accounts --------------------------------------------------------------------------

    async def sign_up(self, email: str, password: str) -> SignUpResult:
        """``POST /auth/sign-up``. Unless ``confirmed``, :meth:`confirm` with the e-mailed
        code comes next. Raises InvalidPassword, InvalidEmail, UserExists."""
        body = {"email": email, "password": password}
        return await self._api_model(
            SignUpResult, "POST", "/auth/sign-up", json=body, authenticated=False
        )

    async def confirm(self, email: str, code: str) -> None:
        """``POST /auth/confirm``: the code sent to ``email`` after sign-up."""
        body = {"email": email, "code": code}
        await self._request("POST", "/auth/confirm", json=body, authenticated=False)

    async def sign_in(self, email: str, password: str) -> Tokens:
        """``POST /auth/sign-in``; every later call is made as this user.

        Raises InvalidCredentials, UserNotConfirmed. Replaces any ``token`` given before.
        """
        body = {"email": email, "password": password}
        tokens = await self._api_model(
            Tokens, "POST", "/auth/sign-in", json=body, authenticated=False
        )
        async with self._refresh_lock:
            self._fixed_token = None
            self._refresh_token = tokens.refresh_token
            await self._adopt(tokens)
        return tokens

    async def refresh(self) -> Tokens:
        """New tokens now, from the refresh token (calls refresh by themselves as needed).

        Raises NotSignedIn without a refresh token, InvalidRefreshToken when it is no longer
        accepted (sign in again).
        """
        if self._refresh_token is None:
            raise NotSignedIn("no refresh token: sign in first")
        async with self._refresh_lock:
            return await self._refresh_now()

    async def me(self) -> Me:
        """``GET /me``: the signed-in user's id, e-mail and groups."""
        return await self._api_model(Me, "GET", "/me")

    async def _access_token(self, rejected: str | None = None) -> str | None:
        """The access token to send: refreshed first when it is about to expire or when the
        server just refused it (``rejected``). Concurrent callers share one refresh."""
        if self._fixed_token is not None:
            return self._fixed_token
        if self._usable(rejected):
            return self._tokens.access_token if self._tokens else None
        if self._refresh_token is None:
            # Nothing to refresh with: the server decides what an old token is worth.
            return self._tokens.access_token if self._tokens else None
        async with self._refresh_lock:
            # Whoever held the lock before may have refreshed already.
            if self._usable(rejected) and self._tokens is not None:
                return self._tokens.access_token
            return (await self._refresh_now()).access_token

    def _usable(self, rejected: str | None) -> bool:
        tokens = self._tokens
        if tokens is None:
            return self._refresh_token is None
        return tokens.access_token != rejected and not tokens.expires_within(REFRESH_MARGIN_SECONDS)

    async def _refresh_now(self) -> Tokens:
        """``POST /auth/refresh``; the caller holds ``_refresh_lock``."""
        if self._refresh_token is None:
            raise NotSignedIn("no refresh token: sign in first")
        body = {"refreshToken": self._refresh_token}
        answer = await self._api_model(
            Tokens, "POST", "/auth/refresh", json=body, authenticated=False
        )
        tokens = answer.with_refresh_token(self._refresh_token)
        self._refresh_token = tokens.refresh_token
        await self._adopt(tokens)
        return tokens

    async def _adopt(self, tokens: Tokens) -> None:
        self._tokens = tokens
        if self._on_tokens is not None:
            self._on_tokens(tokens)
        # An open socket would otherwise be closed when its old token expires.
        await self._notifier.reauthenticate(tokens.access_token)

    # -- HTTP plumbing ---------------------------------------------------------------------

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a non-2xx answer raises :class:`ApiError`, a broken one NetworkError."""
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            where = _redact(url)
            raise NetworkError(f"{method} {where} failed: {_describe(exc)}", url) from exc
        if not response.is_success:
            raise api_error(response)
        return response

    async def _request(
        self, method: str, path: str, *, authenticated: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """An API call, with the access token unless ``authenticated=False`` (the sign-in
        calls); a 401 makes the client refresh once and send the call again."""
        extra = kwargs.pop("headers", {})
        url = self.api_url + path
        if not authenticated:
            return await self._send(method, url, headers=extra, **kwargs)
        token = await self._access_token()
        try:
            return await self._send(method, url, headers={**_bearer(token), **extra}, **kwargs)
        except Unauthenticated:
            if token is None or self._fixed_token is not None or self._refresh_token is None:
                raise
        token = await self._access_token(rejected=token)
        return await self._send(method, url, headers={**_bearer(token), **extra}, **kwargs)

    async def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise SnapQueueError(
                f"{method} {path} answered {response.status_code} with a body that is not "
                f"JSON: {response.text[:200]!r}"
            ) from exc

    async def _api_model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        body = await self._api(method, path, **kwargs)
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise SnapQueueError(f"{method} {path}: unexpected answer: {exc}") from exc

    # -- Uploads ---------------------------------------------------------------------------

    async def request_upload(
        self,
        filename: str,
        content_type: str,
        size: int,
        *,
        visibility: Visibility | str | None = None,
    ) -> UploadTicket:
        """``POST /upload-request``: an image id and a presigned POST for the file.

        ``visibility`` (``private`` or ``public``) is left to the server when ``None``: it
        makes new images private.
        """
        body: dict[str, Any] = {"filename": filename, "contentType": content_type, "size": size}
        if visibility is not None:
            body["visibility"] = Visibility(visibility).value
        return await self._api_model(UploadTicket, "POST", "/upload-request", json=body)

    async def send_file(
        self,
        ticket: UploadTicket,
        source: Path | bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """POST the file to the ticket's presigned URL, streaming it from disk or memory.

        ``content_type`` must be the one the ticket was issued for (the policy pins it);
        by default it is the ticket's own ``Content-Type`` field.
        """
        data = await Source.of(source)
        name = filename or (Path(source).name if isinstance(source, Path) else "upload")
        declared = content_type or ticket.upload.fields.get("Content-Type")
        if declared is None:
            declared = guess_content_type(name, await data.head())
        body = MultipartBody.build(ticket.upload.fields, data, name, declared)
        headers = {"Content-Type": body.content_type, "Content-Length": str(body.length)}
        await self._send(
            "POST", ticket.upload.url, content=body.stream(on_progress), headers=headers
        )

    async def upload(
        self,
        source: Path | bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        on_progress: ProgressCallback | None = None,
        on_status: StatusCallback | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT_SECONDS,  # noqa: ASYNC109 - a deadline on the server's work
        visibility: Visibility | str | None = None,
    ) -> ImageRecord:
        """Upload one image and (``wait=True``) return its final, ``COMPLETED`` record.

        The image is registered on the notifier's socket before the file is sent, so no
        event can be missed; without a socket the wait polls. A ``FAILED`` image raises
        :class:`UploadFailed`; ``wait=False`` returns the record right after the upload
        (``PENDING_UPLOAD`` or already ``PROCESSING``).
        """
        data = await Source.of(source)
        name = filename or (Path(source).name if isinstance(source, Path) else None)
        declared = content_type or guess_content_type(name, await data.head())
        if name is None:
            name = "upload" + extension_for(declared)
        ticket = await self.request_upload(name, declared, data.size, visibility=visibility)
        subscription: Subscription | None = None
        if wait:
            try:
                subscription = await self._notifier.subscribe(ticket.image_id)
            except NotifierUnavailable:
                subscription = None  # the wait below polls instead
        try:
            await self.send_file(
                ticket, source, filename=name, content_type=declared, on_progress=on_progress
            )
            if not wait:
                return await self.get(ticket.image_id)
            return await self._wait(ticket.image_id, timeout, on_status, subscription)
        finally:
            if subscription is not None:
                await subscription.close()

    # -- Records ---------------------------------------------------------------------------

    async def get(self, image_id: str) -> ImageRecord:
        """``GET /image/{imageId}``: the whole record (variants with fetchable URLs)."""
        return await self._api_model(ImageRecord, "GET", f"/image/{image_id}")

    async def status(self, image_id: str) -> StatusInfo:
        """``GET /status/{imageId}``: status and last change only, the cheap call."""
        return await self._api_model(StatusInfo, "GET", f"/status/{image_id}")

    async def list(self, limit: int | None = None, cursor: str | None = None) -> ImagePage:
        """One gallery page (``COMPLETED`` images, newest first) and the next cursor."""
        params = _page_params(limit, cursor)
        return await self._api_model(ImagePage, "GET", "/get-all-images", params=params)

    async def iter_images(self, page_size: int | None = None) -> AsyncIterator[ImageRecord]:
        """Every gallery image, page after page, until ``nextCursor`` is ``null``."""
        cursor: str | None = None
        while True:
            page = await self.list(limit=page_size, cursor=cursor)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def my_images(
        self,
        limit: int | None = None,
        cursor: str | None = None,
        status: Status | str | None = None,
    ) -> ImagePage:
        """``GET /me/images``: one page of the signed-in user's images (any status, or the
        one given), newest first."""
        params = _page_params(limit, cursor)
        if status is not None:
            params["status"] = Status(status).value
        return await self._api_model(ImagePage, "GET", "/me/images", params=params)

    async def iter_my_images(
        self, page_size: int | None = None, status: Status | str | None = None
    ) -> AsyncIterator[ImageRecord]:
        """Every image of the signed-in user, following ``nextCursor``."""
        cursor: str | None = None
        while True:
            page = await self.my_images(limit=page_size, cursor=cursor, status=status)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def admin_images(
        self, owner_id: str, limit: int | None = None, cursor: str | None = None
    ) -> ImagePage:
        """``GET /admin/images``: any user's images (``owner_id``), for admins only
        (Forbidden otherwise)."""
        params = {**_page_params(limit, cursor), "ownerId": owner_id}
        return await self._api_model(ImagePage, "GET", "/admin/images", params=params)

    async def set_visibility(self, image_id: str, visibility: Visibility | str) -> ImageRecord:
        """``PATCH /image/{id}``: make an image of yours ``public`` or ``private``."""
        body = {"visibility": Visibility(visibility).value}
        return await self._api_model(ImageRecord, "PATCH", f"/image/{image_id}", json=body)

    async def delete(self, image_id: str) -> None:
        """``DELETE /image/{id}``: the record, the original and every variant. A wait on the
        image ends with :class:`ImageDeleted`."""
        await self._request("DELETE", f"/image/{image_id}")

    async def download_variants(
        self,
        record: ImageRecord | str,
        out_dir: Path | str,
        names: builtins.list[str] | None = None,
    ) -> dict[str, Path]:
        """Save the variants as ``{out_dir}/{imageId}-{variant}{ext}``; name → path.

        A record (or image id) is fetched again when given as an id; variant URLs expire
        (1 h by default), so pass a fresh record. A ``FAILED`` image raises UploadFailed.
        """
        if isinstance(record, str):
            record = await self.get(record)
        if record.status is Status.FAILED:
            raise UploadFailed(record)
        if record.status is not Status.COMPLETED:
            raise SnapQueueError(f"image {record.image_id} is {record.status.value}, no variants")
        target = Path(out_dir)
        await asyncio.to_thread(target.mkdir, parents=True, exist_ok=True)
        wanted = names if names is not None else sorted(record.variants)
        saved: dict[str, Path] = {}
        for name in wanted:
            variant = record.variants.get(name)
            if variant is None:
                raise SnapQueueError(f"image {record.image_id} has no variant {name!r}")
            path = target / f"{record.image_id}-{name}{extension_for(variant.content_type)}"
            await self._download(variant.url, path)
            saved[name] = path
        return saved

    async def _download(self, url: str, path: Path) -> None:
        partial = path.with_name(path.name + ".part")
        try:
            async with self._http.stream("GET", url) as response:
                if not response.is_success:
                    await response.aread()
                    raise api_error(response)
                handle = await asyncio.to_thread(partial.open, "wb")
                try:
                    async for chunk in response.aiter_bytes():
                        await asyncio.to_thread(handle.write, chunk)
                finally:
                    await asyncio.to_thread(handle.close)
        except httpx.HTTPError as exc:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
            raise NetworkError(f"GET {_redact(url)} failed: {_describe(exc)}", url) from exc
        await asyncio.to_thread(os.replace, partial, path)

    # -- Waiting ---------------------------------------------------------------------------

    async def wait(
        self,
        image_id: str,
        timeout: float = DEFAULT_WAIT_SECONDS,  # noqa: ASYNC109 - a deadline on the server's work
        *,
        on_status: StatusCallback | None = None,
    ) -> ImageRecord:
        """The record once terminal: returned if ``COMPLETED``, UploadFailed if ``FAILED``."""
        return await self._wait(image_id, timeout, on_status, None)

    async def _wait(
        self,
        image_id: str,
        within: float,
        on_status: StatusCallback | None,
        subscription: Subscription | None,
    ) -> ImageRecord:
        async with aclosing(self._watch(image_id, within, subscription)) as events:
            async for event in events:
                if on_status is not None:
                    on_status(event.status)
        record = await self.get(image_id)
        if record.status is Status.FAILED:
            raise UploadFailed(record)
        return record

    async def watch(
        self,
        image_id: str,
        timeout: float = DEFAULT_WAIT_SECONDS,  # noqa: ASYNC109 - a deadline on the server's work
    ) -> AsyncGenerator[ImageEvent, None]:
        """The image's events, deduplicated and only forward, ending with the terminal one.

        Over the notifier's socket, or by polling ``GET /status`` when the socket cannot be
        opened or keeps dropping; :class:`WaitTimeout` after ``timeout`` seconds.
        """
        async with aclosing(self._watch(image_id, timeout, None)) as events:
            async for event in events:
                yield event

    async def _watch(
        self, image_id: str, within: float, subscription: Subscription | None
    ) -> AsyncGenerator[ImageEvent, None]:
        deadline = time.monotonic() + within
        last: list[Status] = []

        def forward(event: ImageEvent) -> bool:
            if last and (last[-1].is_terminal or event.status.rank <= last[-1].rank):
                return False
            last.append(event.status)
            return True

        async with aclosing(self._socket_events(image_id, deadline, subscription)) as events:
            async for event in events:
                if forward(event):
                    yield event
                    if event.is_terminal:
                        return
        async with aclosing(self._polled_events(image_id, deadline)) as events:
            async for event in events:
                if forward(event):
                    yield event
                    if event.is_terminal:
                        return
        raise WaitTimeout(image_id, within, last[-1] if last else None)

    async def _socket_events(
        self, image_id: str, deadline: float, subscription: Subscription | None
    ) -> AsyncGenerator[ImageEvent, None]:
        """Frames for the image until a terminal one; returns early to hand over to polling."""
        drops = 0
        try:
            while time.monotonic() < deadline:
                if subscription is None:
                    try:
                        subscription = await self._notifier.subscribe(image_id)
                    except NotifierUnavailable:
                        return
                remaining = deadline - time.monotonic()
                try:
                    item = await subscription.next(min(remaining, SOCKET_CHECK_SECONDS))
                except TimeoutError:
                    current = await self._current_or_none(image_id)
                    if current is not None:
                        yield current
                    continue
                if isinstance(item, ImageEvent):
                    yield item
                elif item.kind == "dropped":
                    await subscription.close()
                    subscription = None
                    drops += 1
                    if drops > MAX_SOCKET_DROPS:
                        return
                    # Capped, jittered backoff: many clients must not come back in lock-step.
                    await asyncio.sleep(min(0.25 * 2**drops, 2.0) * (0.5 + random.random()))  # noqa: S311
                elif item.kind == "deleted":
                    raise ImageDeleted(image_id)
                elif item.kind == "error":
                    return  # e.g. unknown_image: polling raises the API's own error for it
        finally:
            if subscription is not None:
                await subscription.close()

    async def _polled_events(
        self, image_id: str, deadline: float
    ) -> AsyncGenerator[ImageEvent, None]:
        interval = POLL_FIRST_SECONDS
        while True:
            event = await self._current_or_none(image_id)
            if event is not None:
                yield event
            remaining = deadline - time.monotonic()
            if (event is not None and event.is_terminal) or remaining <= 0:
                return
            await asyncio.sleep(min(interval, remaining))
            interval = min(interval * 1.5, POLL_MAX_SECONDS)

    async def _current_or_none(self, image_id: str) -> ImageEvent | None:
        """The current state, or ``None`` while the API is briefly unreachable (5xx)."""
        try:
            return await self._current(image_id)
        except NetworkError:
            return None
        except ApiError as exc:
            if exc.status >= 500:
                return None
            raise

    async def _current(self, image_id: str) -> ImageEvent:
        """The image's state as an event, from ``GET /status`` (and ``/image`` once done)."""
        status = await self.status(image_id)
        if not status.status.is_terminal:
            return ImageEvent(type="status", image_id=image_id, status=status.status)
        record = await self.get(image_id)
        kind = "imageProcessed" if record.status is Status.COMPLETED else "imageFailed"
        return ImageEvent(
            type=kind,
            image_id=image_id,
            status=record.status,
            variants=record.variants,
            error=record.error,
        )


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _page_params(limit: int | None, cursor: str | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {}
    if limit is not None:
        params["limit"] = limit
    if cursor is not None:
        params["cursor"] = cursor
    return params


def _describe(exc: httpx.HTTPError) -> str:
    kinds: dict[type[httpx.HTTPError], str] = {
        httpx.ConnectError: "cannot connect",
        httpx.ConnectTimeout: "connect timed out",
        httpx.ReadTimeout: "no answer in time",
        httpx.WriteTimeout: "sending timed out",
        httpx.PoolTimeout: "no free connection in time",
        httpx.RemoteProtocolError: "the server broke the connection",
    }
    kind = kinds.get(type(exc), type(exc).__name__)
    detail = str(exc)
    return f"{kind} ({detail})" if detail else kind


def _redact(url: str) -> str:
    """A presigned URL without its query: the signature is a credential for an hour."""
    return url.split("?", 1)[0]
