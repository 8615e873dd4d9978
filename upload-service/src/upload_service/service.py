"""What the API does: issue uploads, accept streamed uploads, read records and pages.

Routes call these methods and nothing else; DynamoDB is reached only through the core
``ImageStore``.
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

from snapqueue_core.aws import AwsClients
from snapqueue_core.logs import bind_image_id
from snapqueue_core.readiness import Readiness, probe
from snapqueue_core.schemas import (
    ImageError,
    ImageRecord,
    ImageStatus,
    isoformat,
    upload_key,
    utcnow,
)
from snapqueue_core.store import ImageStore
from snapqueue_core.transient import AWS_CALL_ERRORS, error_code
from snapqueue_core.urls import VariantUrls
from snapqueue_core.waiting import wait_until

from .errors import (
    ApiError,
    FileTooLargeError,
    ImageNotFoundError,
    InvalidCursorError,
    InvalidMultipartError,
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
    ) -> None:
        self._settings = settings
        self._clients = clients
        self._store = store
        self._urls = urls

    # ------------------------------------------------------------------ uploads

    async def request_upload(self, body: UploadRequestBody) -> UploadTicket:
        """Check the declared file, record it, and sign a POST policy for exactly its key."""
        settings = self._settings
        filename = sanitize_filename(body.filename, settings.filename_max_length)
        content_type = canonical_content_type(body.content_type, settings.allowed_content_types)
        size = check_declared_size(body.size, settings.max_upload_bytes)
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
            await self._store.create(
                ImageRecord.pending(
                    image_id, filename=filename, content_type=content_type, declared_size=size
                )
            )
            log.info("upload requested", extra={"contentType": content_type, "size": size})
        return UploadTicket(
            image_id=image_id,
            upload=PresignedPost(url=post["url"], fields=post["fields"]),
            expires_at=isoformat(expires_at),
            max_bytes=settings.max_upload_bytes,
        )

    async def accept_upload(
        self, headers: Mapping[str, str], body: AsyncIterator[bytes]
    ) -> UploadAccepted:
        """Stream a multipart ``file`` into S3 at ``uploads/{imageId}``.

        The record exists before the object does, so the worker that the S3 event wakes
        always finds it. A rejected body is drained (within bounds) so the client can
        read the reply.
        """
        settings = self._settings
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
                await self._store_object(image_id, received)
        finally:
            await asyncio.to_thread(received.spool.close)
        return UploadAccepted(image_id=image_id, status=ImageStatus.PENDING_UPLOAD)

    async def _store_object(self, image_id: str, received: ReceivedFile) -> None:
        record = ImageRecord.pending(
            image_id,
            filename=received.filename,
            content_type=received.content_type,
            declared_size=received.size,
        )
        await self._store.create(record)
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

    async def render(self, record: ImageRecord) -> ImageOut:
        variants = await self._urls.render(record.variants)
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
            }
        )

    async def get_image(self, image_id: str) -> ImageOut:
        return await self.render(await self._record(image_id))

    async def get_status(self, image_id: str) -> StatusOut:
        record = await self._record(image_id)
        return StatusOut(
            image_id=record.image_id, status=record.status, updated_at=record.updated_at
        )

    async def list_images(self, limit: int | None, cursor: str | None) -> ImagePage:
        size = page_limit(
            limit, self._settings.gallery_default_limit, self._settings.gallery_max_limit
        )
        if cursor:
            check_cursor(cursor)
        try:
            records, next_cursor = await self._store.list_completed(size, cursor or None)
        except ClientError as exc:
            # A well-formed cursor naming a key outside the index.
            if error_code(exc) == "ValidationException":
                raise InvalidCursorError("cursor is not one this API issued.") from exc
            raise
        items = [await self.render(record) for record in records]
        return ImagePage(items=items, next_cursor=next_cursor)

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
