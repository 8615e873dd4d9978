"""The SPA in a real browser against the real stack: what a person sees, signed in."""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat
from playwright.sync_api import Browser, Page, expect

from devstack.corpus import CORPUS
from devstack.stack import Stack

pytestmark = pytest.mark.browser

DONE_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Account:
    email: str
    password: str


def sign_up(page: Page, origin: str) -> Account:
    """Sign up through the SPA's own form (the embedded stack confirms at once)."""
    account = Account(f"e2e-{uuid.uuid4().hex[:10]}@example.com", f"Pw-{uuid.uuid4().hex[:10]}-A1!")
    page.goto(f"{origin}/#/signup")
    expect(page.get_by_test_id("auth-form")).to_have_attribute("data-mode", "signup")
    page.get_by_test_id("auth-email").fill(account.email)
    page.get_by_test_id("auth-password").fill(account.password)
    page.get_by_test_id("auth-submit").click()
    expect(page.get_by_test_id("user-email")).to_have_text(account.email, timeout=15_000)
    return account


def api_headers(running: Stack, account: Account) -> dict[str, str]:
    """The same user's token for the test's own API calls (the SPA keeps its own in memory)."""
    answer = httpx.post(
        f"{running.url('upload')}/auth/sign-in",
        json={"email": account.email, "password": account.password},
        timeout=10,
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


def upload(page: Page, origin: str, *paths: Path, public: bool = False) -> None:
    page.goto(origin)
    if public:
        page.get_by_test_id("upload-public").check()
    page.get_by_test_id("file-input").set_input_files([str(p) for p in paths])


def item_for(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("upload-item").filter(has_text=name)


def test_photo_is_processed_and_shown_the_right_way_up(
    stack: tuple[Stack, str], page: Page
) -> None:
    running, origin = stack
    account = sign_up(page, origin)
    photo = CORPUS / "orientation" / "Portrait_6.jpg"  # stored sideways, EXIF Orientation 6
    upload(page, origin, photo)
    item = item_for(page, photo.name)
    expect(item).to_have_attribute("data-status", "done", timeout=DONE_TIMEOUT_MS)
    for variant in ("thumbnail", "resized", "grayscale"):
        expect(item.get_by_test_id(f"variant-{variant}")).to_be_visible()
    # What the browser rendered: a portrait, as the photographer held the camera.
    resized = item.get_by_test_id("variant-resized")
    width, height = resized.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert height > width, (width, height)

    # And the pixels are the upright photo: compare with Pillow's own upright rendering.
    image_id = item.get_attribute("data-image-id")
    record = httpx.get(
        f"{running.url('upload')}/image/{image_id}",
        headers=api_headers(running, account),
        timeout=10,
    ).json()
    served = Image.open(io.BytesIO(httpx.get(record["variants"]["resized"]["url"]).content))
    upright = ImageOps.exif_transpose(Image.open(photo)).convert("RGB").resize(served.size)
    diff = ImageStat.Stat(ImageChops.difference(served.convert("RGB"), upright)).mean
    assert max(diff) < 12, diff
    assert not page.console_errors  # type: ignore[attr-defined]


def test_corrupt_file_shows_the_reason(stack: tuple[Stack, str], page: Page) -> None:
    _, origin = stack
    sign_up(page, origin)
    broken = CORPUS / "pillow" / "truncated_image.png"
    upload(page, origin, broken)
    item = item_for(page, broken.name)
    expect(item).to_have_attribute("data-status", "failed", timeout=DONE_TIMEOUT_MS)
    message = item.get_by_test_id("error-message").inner_text()
    assert "truncated" in message.lower(), message


def test_gallery_lists_the_photo(stack: tuple[Stack, str], page: Page) -> None:
    _, origin = stack
    sign_up(page, origin)
    photo = CORPUS / "orientation" / "Landscape_3.jpg"
    upload(page, origin, photo, public=True)
    item = item_for(page, photo.name)
    expect(item).to_have_attribute("data-status", "done", timeout=DONE_TIMEOUT_MS)
    image_id = item.get_attribute("data-image-id")
    page.get_by_test_id("nav-gallery").click()
    gallery_item = page.locator(f'[data-testid="gallery-item"][data-image-id="{image_id}"]')
    expect(gallery_item).to_be_visible(timeout=15_000)
    gallery_item.click()
    expect(page.get_by_test_id("image-detail")).to_be_visible()


def test_page_reaches_final_state_across_a_notifier_restart(
    stack: tuple[Stack, str], page: Page
) -> None:
    running, origin = stack
    notifier = running.processes["notifier"]
    photos = [CORPUS / "orientation" / f"Landscape_{n}.jpg" for n in (5, 7, 8)]
    sign_up(page, origin)
    page.goto(origin)
    expect(page.get_by_test_id("connection-status")).to_have_text("connected", timeout=15_000)
    notifier.kill()  # gone mid-upload, with no goodbye
    page.get_by_test_id("file-input").set_input_files([str(p) for p in photos])
    time.sleep(1.0)
    notifier.start()
    notifier.wait_healthy()
    for photo in photos:
        expect(item_for(page, photo.name)).to_have_attribute(
            "data-status", "done", timeout=DONE_TIMEOUT_MS
        )
    expect(page.get_by_test_id("connection-status")).to_have_text("connected", timeout=30_000)


def test_private_until_shared_then_deleted_everywhere(
    stack: tuple[Stack, str], page: Page, browser: Browser
) -> None:
    """Sign up, upload; the image is in My images and not in the gallery; made public, a
    second, signed-out browser sees it in the gallery; deleted, it is gone from both."""
    running, origin = stack
    sign_up(page, origin)
    photo = CORPUS / "orientation" / "Landscape_2.jpg"
    upload(page, origin, photo)
    item = item_for(page, photo.name)
    expect(item).to_have_attribute("data-status", "done", timeout=DONE_TIMEOUT_MS)
    image_id = item.get_attribute("data-image-id")
    mine_selector = f'[data-testid="my-image-item"][data-image-id="{image_id}"]'
    gallery_selector = f'[data-testid="gallery-item"][data-image-id="{image_id}"]'

    page.get_by_test_id("nav-mine").click()
    mine = page.locator(mine_selector)
    expect(mine).to_have_attribute("data-visibility", "private", timeout=15_000)

    stranger = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        other = stranger.new_page()
        other.goto(f"{origin}/#/gallery")
        expect(other.get_by_test_id("account")).to_have_attribute("data-auth", "signedOut")
        # Private: not in the public gallery, and its id answers 404 to a stranger.
        expect(other.locator(gallery_selector)).to_have_count(0)
        hidden = httpx.get(f"{running.url('upload')}/image/{image_id}", timeout=10)
        assert hidden.status_code == 404, hidden.text

        mine.get_by_test_id("visibility-switch").click()
        expect(mine).to_have_attribute("data-visibility", "public", timeout=15_000)
        other.reload()
        expect(other.locator(gallery_selector)).to_be_visible(timeout=15_000)

        mine.get_by_test_id("delete-image").click()
        dialog = page.get_by_test_id("confirm-dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_test_id("confirm-ok").click()
        expect(page.locator(mine_selector)).to_have_count(0, timeout=15_000)
        other.reload()
        expect(other.locator(gallery_selector)).to_have_count(0, timeout=15_000)
        gone = httpx.get(f"{running.url('upload')}/image/{image_id}", timeout=10)
        assert gone.status_code == 404, gone.text
        assert not page.console_errors  # type: ignore[attr-defined]
    finally:
        stranger.close()
