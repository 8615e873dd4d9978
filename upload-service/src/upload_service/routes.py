"""HTTP routes: parse, call the service, return. No logic lives here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from snapqueue_core.schemas import IMAGE_ID_PATTERN

from .deps import MetricsDep, ServiceDep
from .models import (
    ErrorBody,
    HealthOut,
    ImageOut,
    ImagePage,
    ReadyOut,
    StatusOut,
    UploadAccepted,
    UploadRequestBody,
    UploadTicket,
)
from .settings import GALLERY_LIMIT_CEILING
from .streaming import FILE_FIELD

router = APIRouter()

ERROR_DESCRIPTIONS = {
    404: "Unknown image (`not_found`).",
    413: "Too large (`file_too_large`).",
    415: "Content type not accepted (`unsupported_content_type`).",
    422: "Invalid input (see the error code).",
    503: "AWS unavailable (`service_unavailable`); retry later.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


ImageIdPath = Annotated[
    str,
    Path(
        alias="imageId",
        pattern=IMAGE_ID_PATTERN,
        description="32 lowercase hex characters, as issued by this API.",
    ),
]

MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                },
            }
        },
    }
}


@router.post(
    "/upload-request",
    status_code=201,
    response_model=UploadTicket,
    responses=error_responses(413, 415, 422, 503),
    summary="Get a presigned POST for one direct upload to S3",
)
async def upload_request(body: UploadRequestBody, service: ServiceDep) -> UploadTicket:
    return await service.request_upload(body)


@router.post(
    "/uploads",
    status_code=202,
    response_model=UploadAccepted,
    responses=error_responses(413, 415, 422, 503),
    openapi_extra=MULTIPART_BODY,
    summary="Upload a file through the service (streamed to S3)",
)
async def uploads(request: Request, service: ServiceDep) -> UploadAccepted:
    return await service.accept_upload(request.headers, request.stream())


@router.get(
    "/image/{imageId}",
    response_model=ImageOut,
    responses=error_responses(404, 422, 503),
    summary="One image record with browser-fetchable variant URLs",
)
async def get_image(image_id: ImageIdPath, service: ServiceDep) -> ImageOut:
    return await service.get_image(image_id)


@router.get(
    "/status/{imageId}",
    response_model=StatusOut,
    responses=error_responses(404, 422, 503),
    summary="Status only: the cheap call for polling",
)
async def get_status(image_id: ImageIdPath, service: ServiceDep) -> StatusOut:
    return await service.get_status(image_id)


@router.get(
    "/get-all-images",
    response_model=ImagePage,
    responses=error_responses(422, 503),
    summary="COMPLETED images, newest first, paginated",
)
async def get_all_images(
    service: ServiceDep,
    limit: Annotated[int | None, Query(ge=1, le=GALLERY_LIMIT_CEILING)] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> ImagePage:
    return await service.list_images(limit, cursor)


@router.get("/healthz", response_model=HealthOut, summary="The process is up")
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    response_model_exclude_none=True,
    responses={503: {"model": ReadyOut, "description": "DynamoDB or S3 unreachable."}},
    summary="DynamoDB and S3 reachable",
)
async def readyz(service: ServiceDep) -> Any:
    readiness = await service.readiness()
    return JSONResponse(readiness.body, status_code=readiness.status_code)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    summary="Prometheus metrics",
)
async def metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
