"""``AsyncSnapQueue`` against the real stack: uploads, waits, errors, pages, downloads."""

from __future__ import annotations

import asyncio
import io
import uuid
from contextlib import aclosing
from pathlib import Path

import pytest
from PIL import Image

from devstack.stack import Stack, free_port
from snapqueue_client import (
    ApiError,
    AsyncSnapQueue,
    FileTooLarge,
    ImageRecord,
    InvalidRequest,
    NetworkError,
    NotFound,
    Status,
    UnsupportedContentType,
    UploadFailed,
    WaitTimeout,
)
from tests.client.conftest import NOT_AN_IMAGE, Account, image_bytes, write_image

VARIANTS = {"thumbnail", "resized", "grayscale"}


def assert_completed(record: ImageRecord) -> None:
    assert record.status is Status.COMPLETED, record
    assert set(record.variants) == VARIANTS, record.variants
    assert record.error is None
    for variant in record.variants.values():
        assert variant.url.startswith("http")
        assert variant.width > 0
        assert variant.height > 0
        assert variant.bytes > 0


async def test_upload_a_jpeg_file_reports_progress_and_completes(
    api_url: str, account: Account, ws_url: str, tmp_path: Path
) -> None:
    path = write_image(tmp_path / "holiday.jpg", seed=1)
    progress: list[tuple[int, int]] = []
    statuses: list[Status] = []
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        record = await client.upload(
            path,
            on_progress=lambda sent, total: progress.append((sent, total)),
            on_status=statuses.append,
        )
        assert client.socket_connects == 1
    assert_completed(record)
    assert record.original_filename == "holiday.jpg"
    assert record.content_type == "image/jpeg"
    assert record.metadata["format"] == "JPEG"
    size = path.stat().st_size
    assert progress[0] == (0, size)
    assert progress[-1] == (size, size)
    assert all(total == size for _, total in progress)
    assert [sent for sent, _ in progress] == sorted(sent for sent, _ in progress)
    assert statuses[-1] is Status.COMPLETED
    assert statuses == sorted(statuses, key=lambda s: s.rank), statuses


async def test_upload_png_bytes_sniffs_the_type(
    api_url: str, account: Account, ws_url: str
) -> None:
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        record = await client.upload(image_bytes(2, "PNG"))
    assert_completed(record)
    assert record.content_type == "image/png"
    assert record.original_filename == "upload.png"
    assert record.metadata["format"] == "PNG"


async def test_a_file_that_is_no_image_raises_upload_failed_with_the_code(
    api_url: str, account: Account, ws_url: str
) -> None:
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        with pytest.raises(UploadFailed) as caught:
            await client.upload(NOT_AN_IMAGE, filename="fake.png")
    assert caught.value.code == "unsupported_format"
    assert caught.value.record.status is Status.FAILED
    assert caught.value.record.error is not None
    assert caught.value.record.variants == {}


async def test_api_errors_are_typed(api_url: str, account: Account, ws_url: str) -> None:
    unknown = uuid.uuid4().hex
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        with pytest.raises(UnsupportedContentType) as svg:
            await client.upload(b"<svg xmlns='http://www.w3.org/2000/svg'/>", filename="x.svg")
        assert (svg.value.status, svg.value.code) == (415, "unsupported_content_type")
        with pytest.raises(NotFound) as missing:
            await client.get(unknown)
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        with pytest.raises(NotFound):
            await client.status(unknown)
        with pytest.raises(NotFound):
            await client.wait(unknown, timeout=10)
        with pytest.raises(InvalidRequest) as malformed:
            await client.get("not-an-id")
        assert malformed.value.code == "invalid_image_id"
        with pytest.raises(FileTooLarge) as big:
            await client.request_upload("big.jpg", "image/jpeg", 10**10)
        assert big.value.code == "file_too_large"
        with pytest.raises(ApiError) as bad_limit:
            await client.list(limit=1000)
        assert (bad_limit.value.status, bad_limit.value.code) == (422, "invalid_limit")


async def test_a_non_json_error_body_is_still_an_api_error(stack: Stack) -> None:
    # The emulator is no SnapQueue API: it answers in S3's XML.
    async with AsyncSnapQueue(stack.emulator_url, "ws://127.0.0.1:9/ws") as client:
        with pytest.raises(ApiError) as caught:
            await client.get(uuid.uuid4().hex)
    assert 400 <= caught.value.status < 500
    assert caught.value.body
    assert not caught.value.body.lstrip().startswith("{")


async def test_an_unreachable_api_is_a_network_error() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    async with AsyncSnapQueue(closed) as client:
        with pytest.raises(NetworkError, match="cannot connect"):
            await client.status(uuid.uuid4().hex)


async def test_without_a_socket_the_wait_polls(
    api_url: str, account: Account, tmp_path: Path
) -> None:
    closed_ws = f"ws://127.0.0.1:{free_port()}/ws"
    async with AsyncSnapQueue(api_url, closed_ws, refresh_token=account.refresh_token) as client:
        record = await client.upload(write_image(tmp_path / "polled.jpg", seed=3))
        assert client.socket_connects == 0
    assert_completed(record)


async def test_upload_without_waiting_then_wait_and_watch(
    api_url: str, account: Account, ws_url: str
) -> None:
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        pending = await client.upload(image_bytes(4), filename="later.jpg", wait=False)
        assert pending.status in (Status.PENDING_UPLOAD, Status.PROCESSING, Status.COMPLETED)
        record = await client.wait(pending.image_id, timeout=60)
        assert_completed(record)
        events = [event async for event in client.watch(pending.image_id, timeout=30)]
    # Already done: the registration's current state is the one terminal event.
    assert [e.type for e in events] == ["imageProcessed"]
    assert events[0].variants is not None
    assert set(events[0].variants) == VARIANTS


async def test_waiting_for_an_image_that_never_arrives_times_out(
    api_url: str, account: Account, ws_url: str
) -> None:
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        ticket = await client.request_upload("never.jpg", "image/jpeg", 1000)
        with pytest.raises(WaitTimeout) as caught:
            await client.wait(ticket.image_id, timeout=1.5)
    assert caught.value.last_status is Status.PENDING_UPLOAD
    assert caught.value.image_id == ticket.image_id


async def test_request_upload_and_send_file_are_the_two_steps(
    api_url: str, account: Account, ws_url: str
) -> None:
    payload = image_bytes(5)
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        ticket = await client.request_upload("steps.jpg", "image/jpeg", len(payload))
        assert ticket.upload.fields["key"] == f"uploads/{ticket.image_id}"
        assert ticket.max_bytes is not None
        assert ticket.max_bytes >= len(payload)
        await client.send_file(ticket, payload, filename="steps.jpg")
        record = await client.wait(ticket.image_id, timeout=60)
    assert_completed(record)
    assert record.original_filename == "steps.jpg"


async def test_a_token_goes_to_the_api_but_not_to_s3(
    api_url: str, account: Account, ws_url: str
) -> None:
    # S3 refuses a presigned request that also carries an Authorization header. A fixed
    # access token (token=, what SNAPQUEUE_TOKEN gives the CLI) is sent as it is.
    async with AsyncSnapQueue(api_url, ws_url, token=account.access_token) as client:
        record = await client.upload(image_bytes(6), filename="token.jpg")
        assert_completed(record)
        saved = await client.download_variants(record, Path("/tmp") / uuid.uuid4().hex)
    assert set(saved) == VARIANTS


async def test_list_pages_and_iter_images(api_url: str, account: Account, ws_url: str) -> None:
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        uploaded = [
            (
                await client.upload(
                    image_bytes(10 + i), filename=f"page-{i}.jpg", visibility="public"
                )
            ).image_id
            for i in range(3)
        ]
        first = await client.list(limit=2)
        assert len(first.items) == 2
        assert first.next_cursor is not None
        # Newest completion first: the last upload leads the gallery.
        assert first.items[0].image_id == uploaded[-1]
        second = await client.list(limit=2, cursor=first.next_cursor)
        assert not {i.image_id for i in first.items} & {i.image_id for i in second.items}
        every = [item.image_id async for item in client.iter_images(page_size=2)]
    assert len(every) == len(set(every))
    assert set(uploaded) <= set(every)
    assert every[:3] == uploaded[::-1]


async def test_download_variants_writes_images_pillow_decodes(
    api_url: str, account: Account, ws_url: str, tmp_path: Path
) -> None:
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        record = await client.upload(write_image(tmp_path / "src.png", seed=20, kind="PNG"))
        saved = await client.download_variants(record.image_id, tmp_path / "out")
    assert set(saved) == VARIANTS
    for name, path in saved.items():
        assert path.parent == tmp_path / "out"
        assert path.name.startswith(record.image_id)
        variant = record.variants[name]
        assert path.stat().st_size == variant.bytes
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            image.load()
            assert image.size == (variant.width, variant.height)
    assert not list((tmp_path / "out").glob("*.part"))


async def test_download_variants_of_a_failed_image_raises(
    api_url: str, account: Account, ws_url: str
) -> None:
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        with pytest.raises(UploadFailed) as caught:
            await client.upload(NOT_AN_IMAGE, filename="fake2.png")
        with pytest.raises(UploadFailed):
            await client.download_variants(caught.value.record, "/tmp/never-written")


async def test_a_socket_that_drops_mid_wait_falls_back_to_polling(
    stack: Stack, api_url: str, account: Account, ws_url: str
) -> None:
    notifier = stack.processes["notifier"]
    payload = image_bytes(50)
    try:
        async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
            ticket = await client.request_upload("drop.jpg", "image/jpeg", len(payload))
            async with aclosing(client.watch(ticket.image_id, timeout=60)) as events:
                first = await anext(events)
                assert first.status is Status.PENDING_UPLOAD
                assert client.socket_connects == 1
                notifier.kill()  # SIGKILL: the socket drops without a close frame
                await client.send_file(ticket, payload)
                rest = [event async for event in events]
            assert rest[-1].type == "imageProcessed"
            assert client.socket_connects == 1  # no notifier to reconnect to: it polled
            assert_completed(await client.get(ticket.image_id))
    finally:
        notifier.restart()
        await asyncio.to_thread(notifier.wait_healthy, 60)
