"""The SPA in a real browser against the real stack: what a person sees."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat
from playwright.sync_api import Page, expect

from devstack.corpus import CORPUS
from devstack.stack import Stack

pytestmark = pytest.mark.browser

DONE_TIMEOUT_MS = 60_000


def upload(page: Page, origin: str, *paths: Path) -> None:
    page.goto(origin)
    page.get_by_test_id("file-input").set_input_files([str(p) for p in paths])


def item_for(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("upload-item").filter(has_text=name)


def test_photo_is_processed_and_shown_the_right_way_up(
    stack: tuple[Stack, str], page: Page
) -> None:
    running, origin = stack
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
    record = httpx.get(f"{running.url('upload')}/image/{image_id}", timeout=10).json()
    served = Image.open(io.BytesIO(httpx.get(record["variants"]["resized"]["url"]).content))
    upright = ImageOps.exif_transpose(Image.open(photo)).convert("RGB").resize(served.size)
    diff = ImageStat.Stat(ImageChops.difference(served.convert("RGB"), upright)).mean
    assert max(diff) < 12, diff
    assert not page.console_errors  # type: ignore[attr-defined]


def test_corrupt_file_shows_the_reason(stack: tuple[Stack, str], page: Page) -> None:
    _, origin = stack
    broken = CORPUS / "pillow" / "truncated_image.png"
    upload(page, origin, broken)
    item = item_for(page, broken.name)
    expect(item).to_have_attribute("data-status", "failed", timeout=DONE_TIMEOUT_MS)
    message = item.get_by_test_id("error-message").inner_text()
    assert "truncated" in message.lower(), message


def test_gallery_lists_the_photo(stack: tuple[Stack, str], page: Page) -> None:
    _, origin = stack
    photo = CORPUS / "orientation" / "Landscape_3.jpg"
    upload(page, origin, photo)
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
