"""HTTP routes: parse, call the service, return. No logic lives here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST

from snapqueue_core.schemas import IMAGE_ID_PATTERN, ImageStatus

from .accounts import Accounts
from .deps import (
    AdminDep,
    MetricsDep,
    OptionalPrincipalDep,
    PrincipalDep,
    ServiceDep,
    bearer,
)
from .models import (
    ConfirmBody,
    ConfirmedOut,
    CredentialsBody,
    ErrorBody,
    HealthOut,
    ImageOut,
    ImagePage,
    MeOut,
    ReadyOut,
    RefreshBody,
    SignUpOut,
    StatusOut,
    TokensOut,
    UploadAccepted,
    UploadRequestBody,
    UploadTicket,
    Visibility,
    VisibilityBody,
)
from .settings import GALLERY_LIMIT_CEILING
from .streaming import FILE_FIELD, VISIBILITY_FIELD

router = APIRouter()

ERROR_DESCRIPTIONS = {
    401: "No valid access token (`unauthenticated`, with `WWW-Authenticate: Bearer`).",
    403: "Not allowed (see the error code).",
    404: "Unknown image, or not yours (`not_found`).",
    409: "Exists already (`user_exists`).",
    413: "Too large (`file_too_large`) or over your storage quota (`quota_exceeded`).",
    415: "Content type not accepted (`unsupported_content_type`).",
    422: "Invalid input (see the error code).",
    429: "Too many uploads this minute (`rate_limited`); see `Retry-After`.",
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

ListLimit = Annotated[int | None, Query(ge=1, le=GALLERY_LIMIT_CEILING)]
ListCursor = Annotated[str | None, Query(max_length=2048)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


AccountsDep = Annotated[Accounts, Depends(get_accounts)]

MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {"type": "string", "format": "binary"},
                        VISIBILITY_FIELD: {"type": "string", "enum": ["private", "public"]},
                    },
                },
            }
        },
    }
}


# ---------------------------------------------------------------------- accounts


@router.post(
    "/auth/sign-up",
    status_code=201,
    response_model=SignUpOut,
    responses=error_responses(409, 422, 503),
    summary="Create an account (confirm it with the e-mailed code unless confirmed is true)",
    tags=["accounts"],
)
async def sign_up(body: CredentialsBody, accounts: AccountsDep) -> SignUpOut:
    return await accounts.sign_up(body.email, body.password)


@router.post(
    "/auth/confirm",
    response_model=ConfirmedOut,
    responses=error_responses(422, 503),
    summary="Confirm an account with the e-mailed code",
    tags=["accounts"],
)
async def confirm(body: ConfirmBody, accounts: AccountsDep) -> ConfirmedOut:
    await accounts.confirm(body.email, body.code)
    return ConfirmedOut()


@router.post(
    "/auth/sign-in",
    response_model=TokensOut,
    response_model_exclude_none=True,
    responses=error_responses(401, 403, 422, 503),
    summary="Sign in with e-mail and password: access, id and refresh tokens",
    tags=["accounts"],
)
async def sign_in(body: CredentialsBody, accounts: AccountsDep) -> TokensOut:
    return await accounts.sign_in(body.email, body.password)


@router.post(
    "/auth/refresh",
    response_model=TokensOut,
    response_model_exclude_none=True,
    responses=error_responses(401, 422, 503),
    summary="New access and id tokens for a refresh token",
    tags=["accounts"],
)
async def refresh(body: RefreshBody, accounts: AccountsDep) -> TokensOut:
    return await accounts.refresh(body.refresh_token)


@router.get(
    "/me",
    response_model=MeOut,
    responses=error_responses(401, 503),
    summary="The signed-in account",
    tags=["accounts"],
)
async def me(principal: PrincipalDep, credentials: BearerDep, accounts: AccountsDep) -> MeOut:
    # PrincipalDep has verified the very token read here.
    token = credentials.credentials if credentials else ""
    return await accounts.me(principal, token)


@router.get(
    "/me/images",
    response_model=ImagePage,
    responses=error_responses(401, 422, 503),
    summary="The caller's images, newest upload first, paginated",
    tags=["images"],
)
async def my_images(
    service: ServiceDep,
    principal: PrincipalDep,
    limit: ListLimit = None,
    cursor: ListCursor = None,
    status: Annotated[ImageStatus | None, Query()] = None,
) -> ImagePage:
    return await service.list_owned(principal.user_id, limit, cursor, principal, status)


@router.get(
    "/admin/images",
    response_model=ImagePage,
    responses=error_responses(401, 403, 422, 503),
    summary="Administrators: one user's images, newest upload first",
    tags=["admin"],
)
async def admin_images(
    service: ServiceDep,
    principal: AdminDep,
    owner_id: Annotated[str, Query(alias="ownerId", min_length=1, max_length=128)],
    limit: ListLimit = None,
    cursor: ListCursor = None,
) -> ImagePage:
    return await service.list_owned(owner_id, limit, cursor, principal)


# ---------------------------------------------------------------------- images


@router.post(
    "/upload-request",
    status_code=201,
    response_model=UploadTicket,
    responses=error_responses(401, 413, 415, 422, 429, 503),
    summary="Get a presigned POST for one direct upload to S3",
    tags=["images"],
)
async def upload_request(
    body: UploadRequestBody, service: ServiceDep, principal: PrincipalDep
) -> UploadTicket:
    return await service.request_upload(body, principal)


@router.post(
    "/uploads",
    status_code=202,
    response_model=UploadAccepted,
    responses=error_responses(401, 413, 415, 422, 429, 503),
    openapi_extra=MULTIPART_BODY,
    summary="Upload a file through the service (streamed to S3)",
    tags=["images"],
)
async def uploads(
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
    visibility: Annotated[Visibility | None, Query()] = None,
) -> UploadAccepted:
    return await service.accept_upload(request.headers, request.stream(), principal, visibility)


@router.get(
    "/image/{imageId}",
    response_model=ImageOut,
    responses=error_responses(401, 404, 422, 503),
    summary="One image record with browser-fetchable variant URLs",
    tags=["images"],
)
async def get_image(
    image_id: ImageIdPath, service: ServiceDep, principal: OptionalPrincipalDep
) -> ImageOut:
    return await service.get_image(image_id, principal)


@router.patch(
    "/image/{imageId}",
    response_model=ImageOut,
    responses=error_responses(401, 404, 422, 503),
    summary="Owner: make the image public (in the gallery) or private",
    tags=["images"],
)
async def patch_image(
    image_id: ImageIdPath, body: VisibilityBody, service: ServiceDep, principal: PrincipalDep
) -> ImageOut:
    return await service.set_visibility(image_id, body.visibility, principal)


@router.delete(
    "/image/{imageId}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404, 422, 503),
    summary="Owner or admin: delete the image, its files and its record",
    tags=["images"],
)
async def delete_image(
    image_id: ImageIdPath, service: ServiceDep, principal: PrincipalDep
) -> Response:
    await service.delete_image(image_id, principal)
    return Response(status_code=204)


@router.get(
    "/status/{imageId}",
    response_model=StatusOut,
    responses=error_responses(401, 404, 422, 503),
    summary="Status only: the cheap call for polling",
    tags=["images"],
)
async def get_status(
    image_id: ImageIdPath, service: ServiceDep, principal: OptionalPrincipalDep
) -> StatusOut:
    return await service.get_status(image_id, principal)


@router.get(
    "/get-all-images",
    response_model=ImagePage,
    responses=error_responses(401, 422, 503),
    summary="The public gallery: public COMPLETED images, newest first, paginated",
    tags=["images"],
)
async def get_all_images(
    service: ServiceDep,
    _principal: OptionalPrincipalDep,
    limit: ListLimit = None,
    cursor: ListCursor = None,
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
