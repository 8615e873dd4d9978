"""The worker against the real queue, buckets and tables on the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
import uuid
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from PIL import Image
from worker_helpers import (
    FAST,
    jobs_settled,
    pending_record,
    queue_url,
    raw_item,
    receive_all,
    running_worker,
    s3_event_body,
    upload,
    wait_terminal,
)

from processing_worker.app import WorkerApp
from processing_worker.job import import_image_id
from processing_worker.settings import WorkerSettings
from snapqueue_core.aws import AwsClients
from snapqueue_core.schemas import upload_key
from snapqueue_core.store import ConnectionRow, ConnectionStore, ImageStore
from tests.sqs_helpers import messages_on_queue


def jpeg(width: int = 320, height: int = 240, color: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG")
    return buffer.getvalue()


async def notify_queue(clients: AwsClients, settings: WorkerSettings, image_id: str) -> str:
    """A stand-in notifier replica: its own queue and a connection row for the image."""
    name = f"{settings.notify_queue_prefix}{uuid.uuid4().hex[:8]}"
    url = str((await clients.sqs.create_queue(QueueName=name))["QueueUrl"])
    row = ConnectionRow(image_id, f"conn-{uuid.uuid4().hex[:6]}", "replica-test", url)
    await ConnectionStore(clients.dynamodb, settings).put(row, ttl_seconds=300)
    return url


async def events_until(
    clients: AwsClients, url: str, kind: str, within: float = 20
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while not any(event["type"] == kind for event in seen):
        assert time.monotonic() < deadline, f"no {kind} event; got {seen}"
        seen += await receive_all(clients, url)
    return seen


async def prepare_notified_upload(clients: AwsClients, settings: WorkerSettings) -> tuple[str, str]:
    """A PENDING record with a waiting client; the object is uploaded by the caller."""
    image_id = uuid.uuid4().hex
    await ImageStore(clients.dynamodb, settings).create(pending_record(image_id))
    return image_id, await notify_queue(clients, settings, image_id)


async def test_processes_an_upload_and_notifies(resources_factory: Any) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=2, **FAST)
    image_id, url = await prepare_notified_upload(clients, settings)
    async with running_worker(settings) as app:
        await clients.s3.put_object(
            Bucket=settings.uploads_bucket, Key=upload_key(image_id), Body=jpeg(2000, 1000)
        )
        record = (await wait_terminal(clients, settings, [image_id]))[image_id]
        events = await events_until(clients, url, "imageProcessed")
        await jobs_settled(app)
        async with httpx.AsyncClient() as http:
            base = f"http://127.0.0.1:{app.port}"
            assert (await http.get(f"{base}/healthz")).json() == {"status": "ok"}
            assert (await http.get(f"{base}/readyz")).json() == {"status": "ready"}
            metrics = (await http.get(f"{base}/metrics")).text
            assert (await http.post(f"{base}/healthz")).status_code == 405
            assert (await http.get(f"{base}/nope")).status_code == 404
    assert record["status"] == "COMPLETED"
    assert [e["status"] for e in events] == ["PROCESSING", "COMPLETED"]
    assert events[-1]["variants"]["resized"]["width"] == 1024
    assert 'snapqueue_worker_jobs_total{outcome="completed"} 1.0' in metrics
    assert 'snapqueue_worker_stage_seconds_count{stage="transform"} 1.0' in metrics
    # The transform's own CPU: a 2000×1000 decode, three variants and their encodes.
    assert _gauge(metrics, "snapqueue_worker_transform_cpu_seconds_total") > 0.005
    assert _gauge(metrics, "snapqueue_worker_transform_threads") == 2
    assert _gauge(metrics, "snapqueue_worker_job_slots") == 2 * 4
    # S3's own s3:TestEvent (sent when the notification is configured) also counts.
    assert _gauge(metrics, "snapqueue_worker_queue_lag_seconds_count") >= 1
    # One image's AWS requests: the routing lookup and send for each of its two events,
    # the claim and the completion, the download and the three variants.
    assert _requests(metrics, "s3", "GetObject") == 1
    assert _requests(metrics, "s3", "PutObject") == 3
    assert _requests(metrics, "dynamodb", "Query") == 2
    assert _requests(metrics, "sqs", "SendMessage") == 2
    assert _requests(metrics, "dynamodb", "UpdateItem") >= 2  # + lease heartbeats if slow
    assert _requests(metrics, "sqs", "ReceiveMessage") >= 1
    for name, variant in record["variants"].items():
        assert variant["key"].startswith(f"processed/{image_id}/{name}.")
        obj = await clients.s3.get_object(Bucket=settings.processed_bucket, Key=variant["key"])
        assert obj["ContentType"] == variant["contentType"] == "image/jpeg"
        assert obj["CacheControl"] == "public, max-age=31536000, immutable"
        with Image.open(io.BytesIO(await obj["Body"].read())) as image:
            assert image.size == (variant["width"], variant["height"])
    # The message is gone once the outcome is recorded.
    upload_queue = await queue_url(clients, settings.upload_queue)
    assert await messages_on_queue(clients.sqs, upload_queue) == 0


async def test_rejected_image_fails_with_reason_and_notifies(resources_factory: Any) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=1, **FAST)
    image_id, url = await prepare_notified_upload(clients, settings)
    async with running_worker(settings):
        await clients.s3.put_object(
            Bucket=settings.uploads_bucket, Key=upload_key(image_id), Body=b"%PDF-1.4 nope"
        )
        record = (await wait_terminal(clients, settings, [image_id]))[image_id]
        events = await events_until(clients, url, "imageFailed")
    assert record["status"] == "FAILED"
    assert record["error"]["code"] == "unsupported_format"
    assert events[-1]["error"]["code"] == "unsupported_format"


async def test_duplicate_delivery_processes_once_and_resends_terminal(
    resources_factory: Any,
) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=2, **FAST)
    image_id, url = await prepare_notified_upload(clients, settings)
    key = upload_key(image_id)
    async with running_worker(settings) as app:
        await clients.s3.put_object(Bucket=settings.uploads_bucket, Key=key, Body=jpeg())
        await wait_terminal(clients, settings, [image_id])
        first = await events_until(clients, url, "imageProcessed")
        upload_queue = await queue_url(clients, settings.upload_queue)
        await clients.sqs.send_message(
            QueueUrl=upload_queue, MessageBody=s3_event_body(settings.uploads_bucket, key)
        )
        again = await events_until(clients, url, "imageProcessed")
        await jobs_settled(app)
        metrics = app.metrics.render().decode()
    assert [e["type"] for e in first] == ["status", "imageProcessed"]
    assert [e["type"] for e in again] == ["imageProcessed"]  # no second PROCESSING
    assert (await raw_item(clients, settings, image_id))["attempts"] == 1
    assert 'snapqueue_worker_jobs_total{outcome="duplicate"} 1.0' in metrics


async def test_two_workers_never_process_an_image_twice(resources_factory: Any) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=2, **FAST)
    upload_queue = await queue_url(clients, settings.upload_queue)
    async with running_worker(settings) as one, running_worker(settings) as two:
        ids = [await upload(clients, settings, jpeg(color=c)) for c in ("red", "blue") * 6]
        # Every image delivered a second time, so both workers see most images.
        for image_id in ids:
            body = s3_event_body(settings.uploads_bucket, upload_key(image_id))
            await clients.sqs.send_message(QueueUrl=upload_queue, MessageBody=body)
        records = await wait_terminal(clients, settings, ids)
        await asyncio.sleep(2)  # let the duplicates drain
        texts = [one.metrics.render().decode(), two.metrics.render().decode()]
    assert {r["status"] for r in records.values()} == {"COMPLETED"}
    for image_id in ids:
        assert (await raw_item(clients, settings, image_id))["attempts"] == 1
    completed = sum(_counter(text, "completed") for text in texts)
    assert completed == len(ids)
    assert all(_counter(text, "completed") > 0 for text in texts)  # both did work


def _counter(metrics: str, outcome: str) -> float:
    return _gauge(metrics, f'snapqueue_worker_jobs_total{{outcome="{outcome}"}}')


def _requests(metrics: str, service: str, operation: str) -> float:
    return _gauge(
        metrics,
        f'snapqueue_worker_aws_requests_total{{operation="{operation}",service="{service}"}}',
    )


def _gauge(metrics: str, series: str) -> float:
    for row in metrics.splitlines():
        if row.startswith(series + " "):
            return float(row[len(series) + 1 :])
    return 0.0


async def test_transient_error_then_success(resources_factory: Any) -> None:
    """A real failure, not a mock: the processed bucket is missing (as during a broken
    deploy), so the upload of the variants fails; once it exists again the retry
    succeeds. The worker treats every non-image error alike, so this exercises the
    same path as throttling or a timeout."""
    settings, clients = await resources_factory(
        WorkerSettings, concurrency=1, **{**FAST, "retry_visibility_seconds": 2}
    )
    await clients.s3.delete_bucket(Bucket=settings.processed_bucket)
    async with running_worker(settings) as app:
        image_id = await upload(clients, settings, jpeg())
        deadline = time.monotonic() + 20
        while _counter(app.metrics.render().decode(), "retry") < 1:
            assert time.monotonic() < deadline, "the first attempt never failed"
            await asyncio.sleep(0.2)
        item = await raw_item(clients, settings, image_id)
        assert item["status"] == "PROCESSING"  # not failed: it will be retried
        await clients.s3.create_bucket(Bucket=settings.processed_bucket)
        record = (await wait_terminal(clients, settings, [image_id]))[image_id]
    assert record["status"] == "COMPLETED"
    assert record["attempts"] >= 2


async def test_poison_message_reaches_dead_letter_queue_with_record_failed(
    resources_factory: Any,
) -> None:
    settings, clients = await resources_factory(
        WorkerSettings, concurrency=1, queue_max_receive_count=2, **FAST
    )
    await clients.s3.delete_bucket(Bucket=settings.processed_bucket)  # never comes back
    dlq = await queue_url(clients, settings.upload_dlq)
    async with running_worker(settings) as app:
        image_id = await upload(clients, settings, jpeg())
        record = (await wait_terminal(clients, settings, [image_id]))[image_id]
        dead: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while not dead:
            assert time.monotonic() < deadline, "nothing reached the dead-letter queue"
            dead = await receive_all(clients, dlq)
        metrics = app.metrics.render().decode()
    assert _counter(metrics, "retry") == 1
    assert _counter(metrics, "failed_dead_letter") == 1
    assert record["status"] == "FAILED"
    assert record["error"]["code"] == "processing_failed_repeatedly"
    assert record["attempts"] == 2
    assert unquote_plus(dead[0]["Records"][0]["s3"]["object"]["key"]) == upload_key(image_id)


async def test_orphans_and_junk_are_dropped(resources_factory: Any) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=2, **FAST)
    orphan = upload_key(uuid.uuid4().hex)  # a valid id nobody issued
    stray = "uploads/not-an-image-id"
    upload_queue = await queue_url(clients, settings.upload_queue)
    async with running_worker(settings) as app:
        for key in (orphan, stray):
            await clients.s3.put_object(Bucket=settings.uploads_bucket, Key=key, Body=jpeg())
        for body in ("{not json", json.dumps({"Event": "s3:TestEvent"}), json.dumps([1])):
            await clients.sqs.send_message(QueueUrl=upload_queue, MessageBody=body)
        deadline = time.monotonic() + 20
        while True:
            listed = await clients.s3.list_objects_v2(Bucket=settings.uploads_bucket)
            text = app.metrics.render().decode()
            handled = sum(_counter(text, o) for o in ("orphan", "malformed", "test_event"))
            if not listed.get("Contents") and handled >= 5:
                break
            assert time.monotonic() < deadline, (listed.get("Contents"), text)
            await asyncio.sleep(0.3)
        assert app.consumer is not None
        assert app.consumer.receiving  # the worker is still up
    scanned = await clients.dynamodb.scan(TableName=settings.images_table)
    assert scanned["Items"] == []  # nothing was created for them


async def test_operator_import_gets_a_derived_id_and_stays_idempotent(
    resources_factory: Any,
) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=1, **FAST)
    key = "imports/2024 holiday/beach.jpg"
    async with running_worker(settings) as app:
        put = await clients.s3.put_object(Bucket=settings.uploads_bucket, Key=key, Body=jpeg())
        etag = put["ETag"].strip('"')
        image_id = import_image_id(key, etag)
        record = (await wait_terminal(clients, settings, [image_id]))[image_id]
        upload_queue = await queue_url(clients, settings.upload_queue)
        await clients.sqs.send_message(
            QueueUrl=upload_queue,
            MessageBody=s3_event_body(settings.uploads_bucket, key, etag=etag),
        )
        deadline = time.monotonic() + 20
        while _counter(app.metrics.render().decode(), "duplicate") < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    assert record["status"] == "COMPLETED"
    assert record["origin"] == "import"
    assert record["sourceKey"] == key
    assert record["originalFilename"] == "beach.jpg"
    scanned = await clients.dynamodb.scan(TableName=settings.images_table)
    assert len(scanned["Items"]) == 1
    assert (await raw_item(clients, settings, image_id))["attempts"] == 1


@pytest.mark.parametrize("concurrency", [1])
async def test_stop_drains_in_flight_jobs(resources_factory: Any, concurrency: int) -> None:
    settings, clients = await resources_factory(WorkerSettings, concurrency=concurrency, **FAST)
    async with running_worker(settings):
        image_id = await upload(clients, settings, jpeg(4000, 3000))
        deadline = time.monotonic() + 20
        while (await raw_item(clients, settings, image_id)).get("status") != "PROCESSING":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    # Leaving the context stopped the worker: the job had to finish first.
    assert (await raw_item(clients, settings, image_id))["status"] == "COMPLETED"


async def test_spare_jobs_do_their_io_while_the_thread_transforms(
    resources_factory: Any,
) -> None:
    """One Pillow thread, three jobs in flight: the worker holds more messages than it
    has threads (the spare jobs download, wait for the thread, upload), and the time a
    job waits for the thread is reported apart from the transform."""
    settings, clients = await resources_factory(
        WorkerSettings, concurrency=1, jobs_in_flight=3, **FAST
    )
    async with running_worker(settings) as app:
        assert app.consumer is not None
        ids = [await upload(clients, settings, jpeg(4000, 3000)) for _ in range(4)]
        most_in_flight = 0
        waiting = asyncio.create_task(wait_terminal(clients, settings, ids))
        while not waiting.done():
            most_in_flight = max(most_in_flight, app.consumer.in_flight)
            await asyncio.sleep(0.01)
        records = waiting.result()
        metrics = app.metrics.render().decode()
    assert {record["status"] for record in records.values()} == {"COMPLETED"}
    assert most_in_flight >= 2
    assert 'snapqueue_worker_stage_seconds_count{stage="thread_wait"} 4.0' in metrics
    assert 'snapqueue_worker_stage_seconds_count{stage="transform"} 4.0' in metrics


async def test_real_size_is_checked_while_downloading(resources_factory: Any) -> None:
    """The declared size is the browser's word; the downloaded bytes are what count."""
    settings, clients = await resources_factory(
        WorkerSettings, concurrency=1, max_upload_bytes=2000, **FAST
    )
    async with running_worker(settings):
        noisy = io.BytesIO()
        Image.effect_noise((200, 200), 90).save(noisy, "PNG")
        image_id = await upload(clients, settings, noisy.getvalue())
        record = (await wait_terminal(clients, settings, [image_id]))[image_id]
    assert record["status"] == "FAILED"
    assert record["error"]["code"] == "file_too_large"


@pytest.mark.parametrize("spool_bytes", [0, 4096], ids=["always-a-file", "rolls-over"])
async def test_uploads_beyond_the_spool_size_are_processed_from_disk(
    resources_factory: Any, spool_bytes: int
) -> None:
    """Uploads up to the spool size stay in memory (every other test here); past it the
    download continues into a temporary file, and the result is the same."""
    settings, clients = await resources_factory(
        WorkerSettings, concurrency=1, download_spool_bytes=spool_bytes, **FAST
    )
    data = jpeg(1200, 900)
    assert len(data) > 4096
    async with running_worker(settings):
        image_id = await upload(clients, settings, data)
        record = (await wait_terminal(clients, settings, [image_id]))[image_id]
    assert record["status"] == "COMPLETED"
    assert record["metadata"]["bytes"] == len(data)
    assert record["metadata"]["sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_poll_open_at_shutdown_hands_its_messages_back(resources_factory: Any) -> None:
    """A message taken by the last long poll must not hide for a visibility timeout."""
    settings, clients = await resources_factory(
        WorkerSettings, concurrency=1, **{**FAST, "receive_wait_seconds": 3}
    )
    url = await queue_url(clients, settings.upload_queue)
    stop = asyncio.Event()
    async with WorkerApp(settings) as app:
        task = asyncio.create_task(app.run(stop))
        await asyncio.sleep(1.0)  # the worker is now inside a long poll
        stop.set()
        body = s3_event_body(settings.uploads_bucket, "elsewhere/never-processed")
        await clients.sqs.send_message(QueueUrl=url, MessageBody=body)
        await asyncio.wait_for(task, timeout=15)
    # Visible again at once, not after the queue's 30 s visibility timeout.
    deadline = time.monotonic() + 3
    received: list[dict[str, Any]] = []
    while not received and time.monotonic() < deadline:
        response = await clients.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        received = response.get("Messages", [])
    assert [m["Body"] for m in received] == [body]
