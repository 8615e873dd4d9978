"""What the API does: issue uploads, accept streamed uploads, read, change and delete
records, list pages.

Routes call these methods and nothing else; DynamoDB is reached only through the core
``ImageStore`` and ``UsageCounters``.

Who may do what (``principal`` is the caller, ``None`` without a token):

- read (``GET /image``, ``/status``): the owner, an administrator, or anyone when the image
  is public;
- change visibility: the owner;
- delete: the owner or an administrator.

Anyone else gets the same 404 as for an image that does not exist, so image ids of other
people's private images cannot be probed. Records from before accounts existed have no
owner: only administrators see them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from functools import partial

from botocore.exceptions import ClientError
from starlette.requests import ClientDisconnect

from snapqueue_core import store as core_store
from snapqueue_core import usage as core_usage
from snapqueue_core.aws import AwsClients
from snapqueue_core.logs import bind_image_id
from snapqueue_core.publisher import NotificationPublisher
from snapqueue_core.readiness import Readiness, probe
from snapqueue_core.schemas import (
    ImageError,
    ImageRecord,
    ImageStatus,
    NotificationEvent,
    Visibility,
    isoformat,
    upload_key,
    utcnow,
)
from snapqueue_core.store import ImageStore
from snapqueue_core.tokens import Principal
from snapqueue_core.transient import AWS_CALL_ERRORS, error_code
from snapqueue_core.urls import VariantUrls
from snapqueue_core.usage import UsageCounters
from snapqueue_core.waiting import wait_until

from .errors import (
    ApiError,
    DependencyUnavailableError,
    FileTooLargeError,
    ImageNotFoundError,
    InvalidCursorError,
    InvalidMultipartError,
    QuotaExceededError,
    RateLimitedError,
)
from .models import (
    ErrorInfo,
    ImageOut,
    ImagePage,
    PresignedPost,
    StatusOut,
    UploadAccepted,
    UploadRequestBody,
    UploadTicket,
)
from .rules import (
    canonical_content_type,
    check_cursor,
    check_declared_size,
    check_image_id,
    page_limit,
    sanitize_filename,
)
from .settings import UploadServiceSettings
from .streaming import FileLimits, ReceivedFile, receive_file

log = logging.getLogger(__name__)

# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def new_image_id() -> str:
    return uuid.uuid4().hex


def may_read(record: ImageRecord, principal: Principal | None) -> bool:
    if record.visibility == "public" and record.owner_id is not None:
        return True
    return principal is not None and (principal.is_admin or owns(record, principal))


def owns(record: ImageRecord, principal: Principal) -> bool:
    return record.owner_id is not None and record.owner_id == principal.user_id


def declared_length(headers: Mapping[str, str]) -> int | None:
    raw = headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)


class UploadService:
    def __init__(
        self,
        settings: UploadServiceSettings,
        clients: AwsClients,
        store: ImageStore,
        urls: VariantUrls,
        *,
        usage: UsageCounters,
        publisher: NotificationPublisher,
    ) -> None:
        self._settings = settings
        self._clients = clients
        self._store = store
        self._urls = urls
        self._usage = usage
        self._publisher = publisher

    # ------------------------------------------------------------------ limits

    async def _count_upload(self, principal: Principal) -> None:
        """One more upload this minute for the caller, across replicas; 429 past the limit."""
        limit = self._settings.user_uploads_per_minute
        try:
            await self._usage.count_upload(principal.user_id, limit)
        except core_usage.RateLimitedError as exc:
            raise RateLimitedError(
                f"At most {limit} uploads a minute; try again in {exc.retry_after} s.",
                retry_after=exc.retry_after,
            ) from exc

    async def _reserve_bytes(self, principal: Principal, size: int, image_id: str) -> None:
        """Count ``size`` (of ``image_id``) against the caller's quota; 413
        ``quota_exceeded`` if it is full.

        Before refusing, the counter is checked against the records (see :meth:`_reconcile`):
        reservations of uploads that never arrived are only given back there.
        """
        limit = self._settings.user_max_bytes
        for _attempt in range(2):
            try:
                await self._usage.reserve_bytes(principal.user_id, size, limit)
                return
            except core_usage.QuotaExceededError as exc:
                reconciled = exc.used is not None and await self._reconcile(
                    principal.user_id, exc.used, image_id
                )
                if not reconciled:
                    break
        raise QuotaExceededError(
            f"Storing {size} more bytes would exceed your quota of {limit} bytes; "
            "delete some images first."
        )

    async def _reconcile(self, user_id: str, seen: int, reserving: str) -> bool:
        """Set the user's byte counter to what their live records declare, if it says more;
        whether it changed (then the refused reservation is worth another try).

        ``reserving``, the record whose reservation was refused, exists already but is not
        counted yet: it is left out."""
        actual = await self._store.owned_bytes(user_id, excluding=reserving)
        if actual >= seen:
            return False
        corrected = await self._usage.correct_bytes(user_id, seen, actual)
        if corrected:
            log.info("usage reconciled", extra={"userId": user_id, "was": seen, "now": actual})
        return corrected

    async def _create_reserved(self, record: ImageRecord, principal: Principal) -> None:
        """Create the record, then reserve its declared size; no record stays without its
        reservation (a refusal deletes it again).

        In this order a reservation never exists without its record, so reconciling the
        counter with the records can only over-count an upload under way, never let one
        past the quota.
        """
        size = record.declared_size or 0
        await self._store.create(record)
        try:
            await self._reserve_bytes(principal, size, record.image_id)
        except QuotaExceededError:
            await self._store.delete(record.image_id)
            raise
        except AWS_CALL_ERRORS:
            await self._store.delete(record.image_id)
            raise

    async def _release_bytes(self, owner_id: str | None, size: int | None) -> None:
        if owner_id is None or not size:
            return
        try:
            await self._usage.release_bytes(owner_id, size)
        except AWS_CALL_ERRORS as exc:
            # The image is gone either way; the next refusal reconciles the counter.
            log.warning("could not release quota", extra={"awsError": repr(exc)})

    # ------------------------------------------------------------------ uploads

    async def request_upload(self, body: UploadRequestBody, principal: Principal) -> UploadTicket:
        """Check the declared file, record it, and sign a POST policy for exactly its key."""
        settings = self._settings
        filename = sanitize_filename(body.filename, settings.filename_max_length)
        content_type = canonical_content_type(body.content_type, settings.allowed_content_types)
        size = check_declared_size(body.size, settings.max_upload_bytes)
        await self._count_upload(principal)
        image_id = new_image_id()
        with bind_image_id(image_id):
            expires_at = utcnow() + timedelta(seconds=settings.presign_expires_seconds)
            post = await self._clients.s3_presign.generate_presigned_post(
                Bucket=settings.uploads_bucket,
                Key=upload_key(image_id),
                # The client must send the type it declared; S3 stores it with the object.
                Fields={"Content-Type": content_type},
                Conditions=[
                    {"Content-Type": content_type},
                    ["content-length-range", 1, settings.max_upload_bytes],
                ],
                ExpiresIn=settings.presign_expires_seconds,
            )
            await self._create_reserved(
                ImageRecord.pending(
                    image_id,
                    filename=filename,
                    content_type=content_type,
                    declared_size=size,
                    owner_id=principal.user_id,
                    visibility=body.visibility,
                ),
                principal,
            )
            log.info(
                "upload requested",
                extra={"contentType": content_type, "size": size, "userId": principal.user_id},
            )
        return UploadTicket(
            image_id=image_id,
            upload=PresignedPost(url=post["url"], fields=post["fields"]),
            expires_at=isoformat(expires_at),
            max_bytes=settings.max_upload_bytes,
        )

    async def accept_upload(
        self,
        headers: Mapping[str, str],
        body: AsyncIterator[bytes],
        principal: Principal,
        visibility: Visibility | None = None,
    ) -> UploadAccepted:
        """Stream a multipart ``file`` into S3 at ``uploads/{imageId}``.

        The record exists before the object does, so the worker that the S3 event wakes
        always finds it. A rejected body is drained (within bounds) so the client can
        read the reply. ``visibility`` (the query parameter) wins over a ``visibility``
        form field; private without either.
        """
        settings = self._settings
        try:
            await self._count_upload(principal)
        except RateLimitedError:
            await self._drain(body)
            raise
        length = declared_length(headers)
        if length is not None and length > settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES:
            raise FileTooLargeError(
                f"The body ({length} bytes) exceeds the maximum of "
                f"{settings.max_upload_bytes} bytes."
            )
        limits = FileLimits(
            max_bytes=settings.max_upload_bytes,
            allowed_content_types=settings.allowed_content_types,
            filename_max_length=settings.filename_max_length,
            spool_memory_bytes=settings.upload_spool_memory_bytes,
        )
        try:
            received = await receive_file(headers, body, limits)
        except ClientDisconnect as exc:
            # Nobody will read the reply; say what happened in the logs and metrics.
            raise InvalidMultipartError("The client disconnected during the upload.") from exc
        except ApiError:
            await self._drain(body)
            raise
        try:
            image_id = new_image_id()
            with bind_image_id(image_id):
                record = ImageRecord.pending(
                    image_id,
                    filename=received.filename,
                    content_type=received.content_type,
                    declared_size=received.size,
                    owner_id=principal.user_id,
                    visibility=visibility or received.visibility or "private",
                )
                await self._create_reserved(record, principal)
                await self._store_object(image_id, received)
        finally:
            await asyncio.to_thread(received.spool.close)
        return UploadAccepted(image_id=image_id, status=ImageStatus.PENDING_UPLOAD)

    async def _store_object(self, image_id: str, received: ReceivedFile) -> None:
        """Put the file where the worker's event points; its record exists already."""
        try:
            await self._clients.s3.put_object(
                Bucket=self._settings.uploads_bucket,
                Key=upload_key(image_id),
                Body=received.spool,
                ContentLength=received.size,
                ContentType=received.content_type,
            )
        except AWS_CALL_ERRORS as exc:
            # No object will ever arrive for this record: end it now rather than leave
            # it PENDING until its TTL.
            await self._store.fail(
                image_id,
                ImageError(code="upload_failed", message="The file could not be stored."),
            )
            log.error("storing upload failed", extra={"awsError": error_code(exc)})
            raise
        log.info(
            "upload stored",
            extra={"contentType": received.content_type, "size": received.size},
        )

    async def _drain(self, body: AsyncIterator[bytes]) -> None:
        """Read and drop the rest of a rejected body, up to the drain limit."""
        remaining = self._settings.upload_drain_bytes
        async for chunk in body:
            remaining -= len(chunk)
            if remaining < 0:
                return

    # ------------------------------------------------------------------ records

    async def _record(self, image_id: str) -> ImageRecord:
        record = await self._store.get(check_image_id(image_id))
        if record is None:
            raise ImageNotFoundError(f"No image with id {image_id}.")
        return record

    async def _readable(self, image_id: str, principal: Principal | None) -> ImageRecord:
        record = await self._record(image_id)
        if not may_read(record, principal):
            raise ImageNotFoundError(f"No image with id {image_id}.")
        return record

    async def render(self, record: ImageRecord, principal: Principal | None = None) -> ImageOut:
        """The public shape of a record; the owner's id only for the owner and admins."""
        variants = await self._urls.render(record.variants)
        show_owner = principal is not None and (principal.is_admin or owns(record, principal))
        return ImageOut.model_validate(
            {
                "imageId": record.image_id,
                "status": record.status,
                "originalFilename": record.original_filename,
                "contentType": record.content_type,
                "uploadTimestamp": record.upload_timestamp,
                "updatedAt": record.updated_at,
                "variants": variants,
                "metadata": record.metadata,
                "error": (
                    ErrorInfo(code=record.error.code, message=record.error.message)
                    if record.error
                    else None
                ),
                "visibility": record.visibility,
                "ownerId": record.owner_id if show_owner else None,
            }
        )

    async def get_image(self, image_id: str, principal: Principal | None) -> ImageOut:
        return await self.render(await self._readable(image_id, principal), principal)

    async def get_status(self, image_id: str, principal: Principal | None) -> StatusOut:
        record = await self._readable(image_id, principal)
        return StatusOut(
            image_id=record.image_id, status=record.status, updated_at=record.updated_at
        )

    async def set_visibility(
        self, image_id: str, visibility: Visibility, principal: Principal
    ) -> ImageOut:
        """Owner only; a COMPLETED image enters or leaves the gallery in the same write."""
        record = await self._record(image_id)
        if not owns(record, principal):
            raise ImageNotFoundError(f"No image with id {image_id}.")
        try:
            updated = await self._store.set_visibility(image_id, visibility)
        except core_store.ImageNotFoundError as exc:
            raise ImageNotFoundError(f"No image with id {image_id}.") from exc
        except core_store.ConcurrentUpdateError as exc:
            raise DependencyUnavailableError("The image is changing right now; try again.") from exc
        log.info("visibility changed", extra={"imageId": image_id, "visibility": visibility})
        return await self.render(updated, principal)

    async def delete_image(self, image_id: str, principal: Principal) -> None:
        """Owner or admin: the original, the variants and the record, then the event.

        Objects go first, so an S3 failure leaves the record (and a retry possible); then
        the record, so a worker still processing the image finds it gone when it completes
        (and removes what it wrote); then once more the objects the deleted record names,
        plus anything under the image's prefix, for a completion that landed in between.
        """
        record = await self._record(image_id)
        if not (principal.is_admin or owns(record, principal)):
            raise ImageNotFoundError(f"No image with id {image_id}.")
        with bind_image_id(image_id):
            await self._delete_objects(record)
            try:
                deleted = await self._store.delete(image_id)
            except core_store.ImageNotFoundError as exc:
                raise ImageNotFoundError(f"No image with id {image_id}.") from exc
            try:
                await self._delete_objects(deleted)
            except AWS_CALL_ERRORS as exc:
                # The record is gone, so a retry would answer 404: say it where ops look.
                log.error(
                    "objects of a deleted image left behind",
                    extra={"sourceKey": deleted.source_key, "awsError": repr(exc)},
                )
            await self._release_bytes(deleted.owner_id, deleted.declared_size)
            log.info("image deleted", extra={"byAdmin": not owns(deleted, principal)})
            await self._announce_deletion(image_id)

    async def _delete_objects(self, record: ImageRecord) -> None:
        settings = self._settings
        s3 = self._clients.s3
        await s3.delete_object(Bucket=settings.uploads_bucket, Key=record.source_key)
        keys = {variant.key for variant in record.variants.values()}
        prefix = f"processed/{record.image_id}/"
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=settings.processed_bucket, Prefix=prefix):
            keys.update(obj["Key"] for obj in page.get("Contents", []))
        ordered = sorted(keys)
        # DeleteObjects takes at most a thousand keys a request.
        for start in range(0, len(ordered), 1000):
            batch = ordered[start : start + 1000]
            answer = await s3.delete_objects(
                Bucket=settings.processed_bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise DependencyUnavailableError(
                    f"Could not delete the variants ({first.get('Code')}); try again."
                )

    async def _announce_deletion(self, image_id: str) -> None:
        """Tell waiting browsers; best effort: the deletion itself has happened."""
        try:
            await self._publisher.publish(NotificationEvent.deleted(image_id))
        except AWS_CALL_ERRORS as exc:
            log.warning("deletion event not sent", extra={"awsError": repr(exc)})

    async def _page(
        self,
        query: Callable[[int, str | None], Awaitable[tuple[list[ImageRecord], str | None]]],
        limit: int | None,
        cursor: str | None,
        principal: Principal | None,
    ) -> ImagePage:
        size = page_limit(
            limit, self._settings.gallery_default_limit, self._settings.gallery_max_limit
        )
        try:
            records, next_cursor = await query(size, cursor or None)
        except core_store.InvalidCursorError as exc:
            raise InvalidCursorError("cursor is not one this API issued.") from exc
        except ClientError as exc:
            # A well-formed cursor naming a key outside the index.
            if error_code(exc) == "ValidationException":
                raise InvalidCursorError("cursor is not one this API issued.") from exc
            raise
        items = [await self.render(record, principal) for record in records]
        return ImagePage(items=items, next_cursor=next_cursor)

    async def list_images(self, limit: int | None, cursor: str | None) -> ImagePage:
        """The public gallery: public COMPLETED images, without owners."""
        if cursor:
            check_cursor(cursor)
        return await self._page(self._store.list_completed, limit, cursor, None)

    async def list_owned(
        self,
        owner_id: str,
        limit: int | None,
        cursor: str | None,
        principal: Principal,
        status: ImageStatus | None = None,
    ) -> ImagePage:
        """``owner_id``'s images, newest first: the caller's own, or anyone's for admins."""

        async def query(size: int, after: str | None) -> tuple[list[ImageRecord], str | None]:
            return await self._store.list_owned(owner_id, size, after, status=status)

        return await self._page(query, limit, cursor, principal)

    # ------------------------------------------------------------------ readiness

    def dependencies(self) -> dict[str, Callable[[], Awaitable[object]]]:
        """The AWS calls that must answer for this service to work, by what they check."""
        settings = self._settings
        return {
            "images table": partial(
                self._clients.dynamodb.describe_table, TableName=settings.images_table
            ),
            "uploads bucket": partial(self._clients.s3.head_bucket, Bucket=settings.uploads_bucket),
        }

    async def readiness(self) -> Readiness:
        """Ready when the table and the bucket answer within the readiness budget."""
        return await probe(self.dependencies(), timeout=self._settings.readiness_timeout_seconds)

    async def wait_for_dependencies(self) -> None:
        """Return once the table and the bucket exist: in ``make run`` the service may start
        before the emulator listens or the bootstrap has created them."""

        async def all_answer() -> bool:
            for check in self.dependencies().values():
                await check()
            return True

        await wait_until(
            all_answer,
            timeout=self._settings.startup_timeout_seconds,
            what=f"table {self._settings.images_table} and bucket {self._settings.uploads_bucket}",
        )
