"""Hostile uploads: lying content types, keys outside ``uploads/``, objects with no record,
and an upload request used after it expired.

Nothing is processed that the upload-service did not issue, and the real format is sniffed
from the bytes, never taken from the declared type.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime

from devstack.stack import Stack
from snapqueue_client import ApiError, AsyncSnapQueue, UploadTicket
from snapqueue_core.schemas import ImageRecord
from tests.reliability.harness import (
    ALLOWED_ORIGIN,
    Inspector,
    UploadItem,
    WsPool,
    poll_until,
    run_uploads,
    small_jpeg,
    tails,
    token_for,
    wait_records_terminal,
)
from tests.reliability.invariants import settle, summarize

SETTLE_SECONDS = 30.0


async def upload_and_wait(stack: Stack, items: list[UploadItem]) -> dict[str, ImageRecord | None]:
    """Upload through the browser's path and wait for every terminal state; label → record."""
    async with Inspector(stack) as inspector, WsPool(stack.ws_url, 1, ALLOWED_ORIGIN) as pool:
        run = await run_uploads(stack.url("upload"), pool, items, concurrency=len(items))
        assert not run.failures(), [o.error for o in run.failures()]
        settled = await settle(inspector, pool, run.image_ids, events_within=60, records_within=10)
        assert not settled.missing, tails(stack)
        assert not settled.problems, summarize(settled.problems)
    return {o.item.label: settled.records[o.image_id] for o in run.outcomes if o.image_id}


def status(record: ImageRecord | None) -> str | None:
    return record.status.value if record is not None else None


async def test_declared_type_is_ignored_and_the_format_sniffed(stack: Stack) -> None:
    records = await upload_and_wait(
        stack,
        [
            UploadItem(small_jpeg(1), "image/png", "really-a-jpeg.png", "jpeg-as-png"),
            UploadItem(b"hello, I am text\n" * 20, "image/jpeg", "notes.jpg", "text-as-jpeg"),
            UploadItem(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png", "x.png", "svg"),
        ],
    )
    jpeg, text, svg = records["jpeg-as-png"], records["text-as-jpeg"], records["svg"]
    assert status(jpeg) == "COMPLETED", jpeg
    assert jpeg is not None
    assert str(jpeg.metadata.get("format", "JPEG")).upper() == "JPEG", jpeg.metadata
    for failed in (text, svg):
        assert status(failed) == "FAILED", failed
        assert failed is not None
        assert failed.error is not None
        assert failed.error.code == "unsupported_format", failed.error
        assert failed.variants == {}


async def put_raw(inspector: Inspector, key: str, body: bytes) -> None:
    await inspector.aws.s3.put_object(
        Bucket=inspector.settings.uploads_bucket, Key=key, Body=body, ContentType="image/jpeg"
    )


async def object_exists(inspector: Inspector, key: str) -> bool:
    keys = await inspector.keys(inspector.settings.uploads_bucket, key)
    return key in keys


async def test_keys_the_service_did_not_issue_are_never_processed(stack: Stack) -> None:
    """``other/`` gets no notification; ``uploads/`` keys without a record are dropped."""
    never_issued = uuid.uuid4().hex
    outside, not_an_id, orphan = "other/x.jpg", "uploads/not-an-id", f"uploads/{never_issued}"
    async with Inspector(stack) as inspector:
        before_records = await inspector.record_count()
        before_variants = len(await inspector.processed_keys())
        for key in (outside, not_an_id, orphan):
            await put_raw(inspector, key, small_jpeg(7))

        async def dropped() -> bool:
            return not await object_exists(inspector, not_an_id) and not await object_exists(
                inspector, orphan
            )

        assert await poll_until(dropped, SETTLE_SECONDS), (
            "the worker did not delete uploads/ objects it never issued\n" + tails(stack)
        )
        # A real upload after them: once it is done, the worker has seen everything before.
        sentinel = await upload_and_wait(stack, [UploadItem(small_jpeg(8), label="sentinel")])
        assert status(sentinel["sentinel"]) == "COMPLETED"

        assert await object_exists(inspector, outside), "other/x.jpg was touched"
        assert (await inspector.records([never_issued]))[never_issued] is None
        assert await inspector.record_count() == before_records + 1  # only the sentinel
        assert len(await inspector.processed_keys()) == before_variants + 3
        assert await inspector.dlq_depth() == 0


def policy_of(ticket: UploadTicket) -> dict[str, object]:
    fields = ticket.upload.fields
    raw = fields["policy"] if "policy" in fields else fields["Policy"]
    policy: dict[str, object] = json.loads(base64.b64decode(raw))
    return policy


async def test_expired_upload_request(stack: Stack) -> None:
    """A presigned POST used after its expiry.

    moto's server does not enforce POST policies, so the emulator accepts the late POST;
    real S3 refuses it with 403 (AccessDenied, "Invalid according to Policy: Policy
    expired"). Either way nothing is left stuck: an accepted object is processed like any
    other, a refused one leaves a PENDING_UPLOAD record that expires by TTL. What the
    product controls, the policy's expiration, is pinned here.
    """
    upload = stack.processes["upload"]
    upload.env["SNAPQUEUE_PRESIGN_EXPIRES_SECONDS"] = "1"
    upload.restart()
    late_status = 0
    try:
        await asyncio.to_thread(upload.wait_healthy, 60)
        payload = small_jpeg(9)
        async with (
            AsyncSnapQueue(
                stack.url("upload"),
                stack.ws_url,
                token=token_for(stack.url("upload")),
                timeout=30,
            ) as client,
            Inspector(stack) as inspector,
        ):
            asked = datetime.now(UTC)
            ticket = await client.request_upload("late.jpg", "image/jpeg", len(payload))
            expiration = datetime.fromisoformat(
                str(policy_of(ticket)["expiration"]).replace("Z", "+00:00")
            )
            assert (expiration - asked).total_seconds() <= 3, expiration
            await asyncio.sleep(max(0.0, (expiration - datetime.now(UTC)).total_seconds() + 1.5))
            image_id = ticket.image_id
            refused: ApiError | None = None
            try:
                await client.send_file(ticket, payload, filename="late.jpg")
            except ApiError as exc:
                refused = exc
            if refused is not None:
                late_status = refused.status
                assert refused.status == 403, refused.body
                record = (await inspector.records([image_id]))[image_id]
                assert status(record) == "PENDING_UPLOAD", record
            else:
                # The emulator took it: it must then be processed like any other upload.
                late_status = 204
                records = await wait_records_terminal(inspector, [image_id], within=60)
                record = records[image_id]
                assert status(record) == "COMPLETED", record
    finally:
        upload.env.pop("SNAPQUEUE_PRESIGN_EXPIRES_SECONDS", None)
        upload.restart()
        await asyncio.to_thread(upload.wait_healthy, 60)
    print(f"\n[expired upload request] S3 POST after expiry answered {late_status}")
