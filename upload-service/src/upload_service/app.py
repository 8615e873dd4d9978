"""The FastAPI app factory: clients opened and closed by the lifespan, routes, middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from aiobotocore.session import get_session
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from snapqueue_core.aws import count_requests, create_client, open_clients
from snapqueue_core.publisher import NotificationPublisher
from snapqueue_core.store import ConnectionStore, ImageStore
from snapqueue_core.tokens import TokenVerifier
from snapqueue_core.urls import VariantUrls
from snapqueue_core.usage import UsageCounters

from .accounts import Accounts
from .errors import install_error_handlers
from .metrics import HttpMetrics, MetricsMiddleware
from .openapi import install_openapi
from .routes import router
from .service import UploadService
from .settings import UploadServiceSettings

SERVICE_NAME = "upload-service"


def create_app(settings: UploadServiceSettings) -> FastAPI:
    metrics = HttpMetrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            clients = await open_clients(stack, settings)
            count_requests(clients, metrics.count_aws_request)
            cognito = await stack.enter_async_context(
                create_client(get_session(), "cognito-idp", settings)
            )
            # The signing keys are fetched from the pool (or the emulator), not AWS's API.
            http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=settings.auth_jwks_timeout_seconds)
            )
            verifier = TokenVerifier(settings, http)
            service = UploadService(
                settings,
                clients,
                ImageStore(clients.dynamodb, settings),
                VariantUrls(clients.s3_presign, settings),
                usage=UsageCounters(clients.dynamodb, settings),
                publisher=NotificationPublisher(
                    clients.sqs, ConnectionStore(clients.dynamodb, settings)
                ),
            )
            app.state.service = service
            app.state.verifier = verifier
            app.state.accounts = Accounts(settings, cognito)
            await service.wait_for_dependencies()
            yield

    app = FastAPI(
        title="SnapQueue upload-service",
        version="1.0.0",
        description=(
            "Accounts, presigned direct uploads, server-side uploads, image records and the "
            "public gallery. Calls other than sign-up/sign-in and public reads take "
            "`Authorization: Bearer <accessToken>`. "
            'Every error body is `{"error": code, "message": text}`; see docs/api.md.'
        ),
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.include_router(router)
    install_openapi(app, settings)
    install_error_handlers(app)
    # Added last, so it is the outermost: error replies carry CORS headers too.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Content-Type", "Authorization"],
        # The SPA shows how long to wait after a 429.
        expose_headers=["Retry-After"],
        max_age=600,
    )
    return app
