"""One queue message, from S3 event to recorded outcome.

The decision of what happens to the message (delete it, leave it for redelivery, or
hide it until another worker's lease ends) is returned to the consumer, which acts on
it only after the outcome is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import posixpath
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any

from botocore.exceptions import ClientError

from snapqueue_core.aws import AwsClients
from snapqueue_core.logs import bind_image_id
from snapqueue_core.publisher import NotificationPublisher
from snapqueue_core.schemas import (
    IMPORT_PREFIX,
    UPLOAD_PREFIX,
    VARIANT_NAMES,
    ImageError,
    ImageRecord,
    ImageStatus,
    MalformedEventError,
    NotificationEvent,
    S3ObjectEvent,
    StoredVariant,
    image_id_from_upload_key,
    parse_s3_event,
    variant_key,
)
from snapqueue_core.store import (
    ClaimRejectedError,
    ImageExistsError,
    ImageStore,
    RecordGoneError,
    StaleClaimError,
)
from snapqueue_core.transient import AWS_CALL_ERRORS, MISSING_OBJECT_CODES, error_code

from .errors import PermanentImageError
from .metrics import WorkerMetrics
from .pipeline import EXTENSIONS, ProcessResult, process_file
from .settings import WorkerSettings

log = logging.getLogger(__name__)

CACHE_CONTROL = "public, max-age=31536000, immutable"
REPEATED_FAILURE = ImageError(
    code="processing_failed_repeatedly",
    message="We could not process this image after several attempts. Please try again later.",
)
# A release is best effort: the lease runs out by itself.
RELEASE_FAILURES: tuple[type[Exception], ...] = (StaleClaimError, *AWS_CALL_ERRORS)


class VariantCleanupError(Exception):
    """S3 refused to delete some variants of a deleted image; the message is retried."""


CLEANUP_FAILURES: tuple[type[Exception], ...] = (VariantCleanupError, *AWS_CALL_ERRORS)


class Disposition(StrEnum):
    """What the consumer does with the message once the job returns."""

    DELETE = "delete"  # outcome recorded (or nothing to do): never deliver again
    RETRY = "retry"  # leave it: it comes back after ``retry_visibility_seconds``
    DEFER = "defer"  # another worker holds the image: look again after its lease


class Outcome(StrEnum):
    """How a message ended; the value is the ``outcome`` label of
    ``snapqueue_worker_jobs_total``, so renaming a member's value breaks dashboards."""

    COMPLETED = "completed"
    FAILED = "failed"  # the image was rejected (or failed on its last delivery)
    DUPLICATE = "duplicate"  # already terminal: the terminal event was sent again
    BUSY = "busy"  # another worker holds a live lease
    STALE = "stale"  # the lease was lost: another worker reports the outcome
    RETRY = "retry"
    # The last delivery failed and the message goes on to the dead-letter queue; the
    # record was failed (or, for the second, already taken over by another worker).
    DEAD_LETTERED = "failed_dead_letter"
    STALE_DEAD_LETTERED = "stale_dead_letter"
    CANCELLED = "cancelled"  # the worker stopped mid-job
    NO_RECORD = "no_record"  # an upload key nobody issued: becomes ORPHAN once dropped
    # No record to claim: never issued, or deleted before processing began.
    ORPHAN = "orphan"
    # The record was deleted (DELETE /image) while this worker held the claim: what it
    # wrote is removed again and the message dropped.
    DELETED = "deleted"
    MALFORMED = "malformed"
    TEST_EVENT = "test_event"
    FOREIGN_BUCKET = "foreign_bucket"
    IGNORED_EVENT = "ignored_event"
    IGNORED_KEY = "ignored_key"


@dataclass(frozen=True)
class JobResult:
    disposition: Disposition
    outcome: Outcome


@dataclass
class JobContext:
    """Everything a job needs, built once by the worker."""

    settings: WorkerSettings
    clients: AwsClients
    store: ImageStore
    publisher: NotificationPublisher
    executor: Executor
    metrics: WorkerMetrics


# Called by the job while it runs, so the consumer's heartbeat covers the right image.
LeaseHook = Callable[[str, str], None]


def import_image_id(key: str, etag: str | None) -> str:
    """A stable imageId for an operator import: the same object always maps to one id."""
    return hashlib.sha256(f"{key}\n{etag or ''}".encode()).hexdigest()[:32]


class Job:
    """Handles one received message; :meth:`run` never raises for a bad message."""

    def __init__(
        self,
        ctx: JobContext,
        message: dict[str, Any],
        on_claim: LeaseHook,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.message = message
        self.on_claim = on_claim
        attributes = message.get("Attributes", {})
        self.receive_count = int(attributes.get("ApproximateReceiveCount", "1"))

    @property
    def last_delivery(self) -> bool:
        """The queue moves the message to the dead-letter queue after this receive."""
        return self.receive_count >= self.settings.queue_max_receive_count

    async def run(self) -> JobResult:
        try:
            events = parse_s3_event(self.message.get("Body", ""))
        except MalformedEventError as exc:
            log.warning("dropping malformed message", extra={"reason": str(exc)})
            return JobResult(Disposition.DELETE, Outcome.MALFORMED)
        if not events:
            return JobResult(Disposition.DELETE, Outcome.TEST_EVENT)
        try:
            results = [await self.handle_event(event) for event in events]
        except Exception as exc:
            # Before a claim (a throttled read, say) or while re-sending a terminal
            # event: nothing is lost by trying the whole message again.
            log.warning("message failed; will retry", exc_info=True, extra={"error": repr(exc)})
            return JobResult(Disposition.RETRY, Outcome.RETRY)
        # One record per message in practice; if several, the most cautious choice wins.
        for disposition in (Disposition.RETRY, Disposition.DEFER):
            for result in results:
                if result.disposition is disposition:
                    return result
        return results[0]

    async def handle_event(self, event: S3ObjectEvent) -> JobResult:
        if event.bucket != self.settings.uploads_bucket:
            log.warning("event for another bucket", extra={"bucket": event.bucket})
            return JobResult(Disposition.DELETE, Outcome.FOREIGN_BUCKET)
        if not event.event_name.startswith("ObjectCreated"):
            return JobResult(Disposition.DELETE, Outcome.IGNORED_EVENT)
        image_id = image_id_from_upload_key(event.key)
        if image_id is None:
            if event.key.startswith(IMPORT_PREFIX) and not event.key.endswith("/"):
                image_id = import_image_id(event.key, event.etag)
                await self.ensure_import_record(image_id, event)
            elif event.key.startswith(UPLOAD_PREFIX):
                return await self.drop_orphan(event, "not an issued upload key")
            else:
                log.warning("dropping event for an unexpected key", extra={"key": event.key})
                return JobResult(Disposition.DELETE, Outcome.IGNORED_KEY)
        # For uploads/{imageId}, the claim itself finds out whether a record was issued.
        with bind_image_id(image_id):
            result = await self.process(image_id, event)
            if result.outcome is Outcome.NO_RECORD:
                # An image deleted while an earlier delivery was mid-upload may have left
                # variants; with no record, no worker can be writing them now.
                await self.remove_variants(image_id)
                return await self.drop_orphan(event, "no record for this upload")
        return result

    async def drop_orphan(self, event: S3ObjectEvent, reason: str) -> JobResult:
        """Nothing is processed that the upload-service did not issue; the object goes."""
        log.warning("dropping orphan upload", extra={"key": event.key, "reason": reason})
        await self.ctx.clients.s3.delete_object(Bucket=event.bucket, Key=event.key)
        return JobResult(Disposition.DELETE, Outcome.ORPHAN)

    async def record_gone(
        self, image_id: str, event: S3ObjectEvent, written: Iterable[str] = ()
    ) -> JobResult:
        """The image was deleted while this job held it: nothing of it may stay behind.

        The upload-service removed the record first and then the objects it knew of; the
        variants this job uploaded after that are its own to remove. Only called once the
        record is known to be missing: a record another worker took over keeps its
        variants, whose keys are the same.
        """
        log.info("image deleted while processing; removing its objects")
        await self.remove_variants(image_id, written)
        if event.key.startswith(UPLOAD_PREFIX):
            # The original is an orphan now; the service may have stopped before removing it.
            await self.ctx.clients.s3.delete_object(Bucket=event.bucket, Key=event.key)
        return JobResult(Disposition.DELETE, Outcome.DELETED)

    async def remove_variants(self, image_id: str, written: Iterable[str] = ()) -> None:
        """Delete every key a run for this image could have written, in one request.

        Every name and format is tried, not only what this delivery wrote: an earlier
        delivery that failed mid-upload may have left others. On AWS trouble the message is
        retried (the redelivery finds no record and cleans again); on its last delivery the
        keys are logged instead, since no later delivery would try.
        """
        keys = sorted(
            {*written}
            | {
                variant_key(image_id, name, extension)
                for name in VARIANT_NAMES
                for extension in EXTENSIONS.values()
            }
        )
        try:
            response = await self.ctx.clients.s3.delete_objects(
                Bucket=self.settings.processed_bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            )
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise VariantCleanupError(
                    f"{len(errors)} variant(s) not deleted; first {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}"
                )
        except CLEANUP_FAILURES as exc:
            if not self.last_delivery:
                raise
            log.error(
                "variants of a deleted image left behind",
                extra={"keys": keys, "code": error_code(exc), "error": repr(exc)},
            )

    async def ensure_import_record(self, image_id: str, event: S3ObjectEvent) -> None:
        record = ImageRecord.pending(
            image_id,
            filename=posixpath.basename(event.key)[:255] or None,
            declared_size=event.size,
            source_key=event.key,
            origin="import",
        )
        try:
            await self.ctx.store.create(record)
            log.info("import record created", extra={"imageId": image_id, "key": event.key})
        except ImageExistsError:
            pass  # a redelivery: the record is already there, the claim decides

    async def process(self, image_id: str, event: S3ObjectEvent) -> JobResult:
        token = uuid.uuid4().hex
        try:
            claimed = await self.ctx.store.claim(image_id, token, self.settings.lease_seconds)
        except ClaimRejectedError as exc:
            return await self.claim_rejected(image_id, exc.record)
        self.on_claim(image_id, token)
        log.info("claimed", extra={"receiveCount": self.receive_count})
        await self.notify(NotificationEvent.progress(image_id, ImageStatus.PROCESSING))
        try:
            return await self.transform_and_record(image_id, token, event, claimed)
        except PermanentImageError as exc:
            log.info("image rejected", extra={"code": exc.code, "reason": exc.message})
            error = ImageError(code=exc.code, message=exc.message)
            return await self.fail(image_id, error, token, event)
        except StaleClaimError:
            log.warning("lease lost to another worker; result dropped")
            return JobResult(Disposition.DELETE, Outcome.STALE)
        except asyncio.CancelledError:
            await self.release(image_id, token)
            raise
        except Exception as exc:
            # Throttling, timeouts, a network error, a missing bucket mid-deploy, or a bug:
            # none is the image's fault, so the message is retried; the last delivery
            # fails the record so no user waits forever.
            log.warning(
                "job failed; will retry",
                # AWS trouble is expected now and then; anything else may be a bug.
                exc_info=not isinstance(exc, AWS_CALL_ERRORS),
                extra={"code": error_code(exc), "error": repr(exc), "last": self.last_delivery},
            )
            if self.last_delivery:
                failed = await self.fail(image_id, REPEATED_FAILURE, token, event)
                if failed.outcome is Outcome.DELETED:
                    return failed  # nothing left for an operator to look at
                # Leave the message: it goes on to the dead-letter queue for an operator.
                outcome = (
                    Outcome.DEAD_LETTERED
                    if failed.outcome is Outcome.FAILED
                    else Outcome.STALE_DEAD_LETTERED
                )
                return JobResult(Disposition.RETRY, outcome)
            await self.release(image_id, token)
            return JobResult(Disposition.RETRY, Outcome.RETRY)

    async def claim_rejected(self, image_id: str, record: ImageRecord | None) -> JobResult:
        if record is None:
            return JobResult(Disposition.DELETE, Outcome.NO_RECORD)
        if record.status.is_terminal:
            # A duplicate delivery: never process again, but the client may have missed
            # the terminal event, so send it again.
            await self.notify(NotificationEvent.terminal(record), required=True)
            return JobResult(Disposition.DELETE, Outcome.DUPLICATE)
        if self.last_delivery:
            # Someone else holds a live lease; its own delivery carries the work.
            return JobResult(Disposition.DELETE, Outcome.BUSY)
        # Another worker holds it now. Look again once its lease could have run out: if
        # it died, this delivery takes over; if it finished, this one only re-notifies.
        return JobResult(Disposition.DEFER, Outcome.BUSY)

    async def transform_and_record(
        self, image_id: str, token: str, event: S3ObjectEvent, claimed: ImageRecord
    ) -> JobResult:
        ctx = self.ctx
        # In memory up to the spool size: writing the upload to a file and reading it
        # back costs the event loop noticeable CPU per photo (kernel page-cache work), a
        # large share of the worker's I/O. Larger uploads still go to disk.
        with self.source_file() as source:
            with ctx.metrics.stage("download"):
                await self.download(event, source)
            loop = asyncio.get_running_loop()
            submitted = time.perf_counter()
            result, timing = await loop.run_in_executor(
                ctx.executor, timed_process_file, source, self.settings
            )
            ctx.metrics.observe("thread_wait", timing.started - submitted)
            ctx.metrics.observe("transform", timing.finished - timing.started)
            ctx.metrics.transform_cpu_seconds.inc(timing.cpu_seconds)
        with ctx.metrics.stage("upload"):
            variants = await self.upload_variants(image_id, result)
        try:
            with ctx.metrics.stage("record"):
                # The visibility read at the claim: a public image enters the gallery in
                # this one write (the store writes again if the owner changed it since).
                await ctx.store.complete(
                    image_id, token, variants, result.metadata, visibility=claimed.visibility
                )
        except RecordGoneError:
            return await self.record_gone(image_id, event, (v.key for v in variants.values()))
        log.info("completed", extra={"variants": sorted(variants)})
        await self.notify(NotificationEvent.completed(image_id, variants), required=True)
        return JobResult(Disposition.DELETE, Outcome.COMPLETED)

    def source_file(self) -> IO[bytes]:
        spool = self.settings.download_spool_bytes
        if not spool:  # SpooledTemporaryFile reads 0 as "never roll over"
            return tempfile.TemporaryFile(prefix="snapqueue-")
        return tempfile.SpooledTemporaryFile(max_size=spool, prefix="snapqueue-")

    async def download(self, event: S3ObjectEvent, target: IO[bytes]) -> None:
        """Stream the object into ``target``; its real size, not the declared one, is
        checked."""
        limit = self.settings.max_upload_bytes
        try:
            response = await self.ctx.clients.s3.get_object(Bucket=event.bucket, Key=event.key)
        except ClientError as exc:
            if error_code(exc) in MISSING_OBJECT_CODES:
                raise PermanentImageError(
                    "source_missing", "The uploaded file is no longer available."
                ) from exc
            raise
        length = int(response.get("ContentLength") or 0)
        if length > limit:
            response["Body"].close()
            raise too_large(length, limit)
        received = 0
        async with response["Body"] as body:
            while chunk := await body.read(self.settings.download_chunk_bytes):
                received += len(chunk)
                if received > limit:
                    raise too_large(received, limit)
                # Memory, or (past the spool size) a local file: small, quick writes.
                target.write(chunk)

    async def upload_variants(
        self, image_id: str, result: ProcessResult
    ) -> dict[str, StoredVariant]:
        """Same keys for the same image: a re-run overwrites instead of duplicating."""
        stored: dict[str, StoredVariant] = {}
        puts = []
        for name, variant in result.variants.items():
            key = variant_key(image_id, name, variant.extension)
            puts.append(
                self.ctx.clients.s3.put_object(
                    Bucket=self.settings.processed_bucket,
                    Key=key,
                    Body=variant.data,
                    ContentType=variant.content_type,
                    CacheControl=CACHE_CONTROL,
                )
            )
            stored[name] = StoredVariant(
                key=key,
                width=variant.width,
                height=variant.height,
                content_type=variant.content_type,
                bytes=len(variant.data),
            )
        await asyncio.gather(*puts)
        return stored

    async def fail(
        self, image_id: str, error: ImageError, token: str, event: S3ObjectEvent
    ) -> JobResult:
        with self.ctx.metrics.stage("record"):
            record = await self.ctx.store.fail(image_id, error, token=token)
        if record is None:
            # Already terminal, taken over (whoever holds it reports the outcome), or deleted.
            current = await self.ctx.store.get(image_id)
            if current is None:
                return await self.record_gone(image_id, event)
            if not current.status.is_terminal:
                return JobResult(Disposition.DELETE, Outcome.STALE)
            record = current
        await self.notify(NotificationEvent.terminal(record), required=True)
        return JobResult(Disposition.DELETE, Outcome.FAILED)

    async def release(self, image_id: str, token: str) -> None:
        """Let the next delivery claim at once instead of after the lease (best effort)."""
        try:
            async with asyncio.timeout(2):
                await self.ctx.store.release(image_id, token)
        except RELEASE_FAILURES as exc:
            log.info("lease not released", extra={"error": repr(exc)})

    async def notify(self, event: NotificationEvent, *, required: bool = False) -> None:
        """Progress events are best effort; a terminal event that could not be sent makes
        the message retry, and the redelivery re-sends it from the record."""
        with self.ctx.metrics.stage("notify"):
            try:
                await self.ctx.publisher.publish(event)
            except AWS_CALL_ERRORS as exc:
                log.warning("notify failed", extra={"code": error_code(exc), "error": repr(exc)})
                if required:
                    raise


@dataclass(frozen=True)
class TransformTiming:
    started: float  # perf_counter on the pool thread
    finished: float
    cpu_seconds: float  # the pool thread's own CPU time


def timed_process_file(
    source: IO[bytes], settings: WorkerSettings
) -> tuple[ProcessResult, TransformTiming]:
    """``process_file`` with when it started and ended on its thread (the time a job
    waited for a free Pillow thread is not transform time) and the CPU it used."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    result = process_file(source, settings)
    timing = TransformTiming(started, time.perf_counter(), time.thread_time() - cpu_started)
    return result, timing


def too_large(size: int, limit: int) -> PermanentImageError:
    return PermanentImageError(
        "file_too_large", f"The file is {size:,} bytes; the limit is {limit:,} bytes."
    )
