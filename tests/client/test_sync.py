"""``SnapQueue``, the blocking facade, against the real stack."""

from __future__ import annotations

import io
import threading
import uuid
from pathlib import Path

import pytest
from PIL import Image

from snapqueue_client import NotFound, SnapQueue, SnapQueueError, Status, UploadFailed
from tests.client.conftest import NOT_AN_IMAGE, Account, write_image


def test_the_sync_facade_does_what_the_async_client_does(
    api_url: str, ws_url: str, tmp_path: Path, account: Account
) -> None:
    progress: list[tuple[int, int]] = []
    callers: set[str] = set()

    def on_progress(sent: int, total: int) -> None:
        progress.append((sent, total))
        callers.add(threading.current_thread().name)

    with SnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        path = write_image(tmp_path / "sync.jpg", seed=30)
        record = client.upload(path, on_progress=on_progress, visibility="public")
        assert record.status is Status.COMPLETED
        assert progress[-1] == (path.stat().st_size,) * 2
        # Callbacks run on the client's own loop thread, as documented.
        assert callers == {"snapqueue-client"}

        assert client.status(record.image_id).status is Status.COMPLETED
        assert client.get(record.image_id).variants.keys() == record.variants.keys()
        page = client.list(limit=1)
        assert len(page.items) == 1
        assert record.image_id in {item.image_id for item in client.iter_images(page_size=5)}
        events = list(client.watch(record.image_id, timeout=30))
        assert [e.status for e in events] == [Status.COMPLETED]

        saved = client.download_variants(record, tmp_path / "out")
        for path_saved in saved.values():
            with Image.open(io.BytesIO(path_saved.read_bytes())) as image:
                image.load()

        pending = client.upload(write_image(tmp_path / "later.jpg", seed=31), wait=False)
        assert client.wait(pending.image_id, timeout=60).status is Status.COMPLETED

        # Errors arrive in the caller's thread, typed.
        with pytest.raises(NotFound):
            client.get(uuid.uuid4().hex)
        with pytest.raises(UploadFailed) as caught:
            client.upload(NOT_AN_IMAGE, filename="fake.png")
        assert caught.value.code == "unsupported_format"

    with pytest.raises(SnapQueueError, match="closed"):
        client.status(record.image_id)
    client.close()  # closing twice is harmless


def test_the_sync_facade_uploads_with_request_and_send(
    api_url: str, ws_url: str, account: Account
) -> None:
    payload = NOT_AN_IMAGE
    with SnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        ticket = client.request_upload("tiny.png", "image/png", len(payload))
        client.send_file(ticket, payload)
        with pytest.raises(UploadFailed):
            client.wait(ticket.image_id, timeout=60)
