"""The FastAPI app factory: clients opened and closed by the lifespan, routes, middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from snapqueue_core.aws import count_requests, open_clients
from snapqueue_core.store import ImageStore
from snapqueue_core.urls import VariantUrls

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
            service = UploadService(
                settings,
                clients,
                ImageStore(clients.dynamodb, settings),
                VariantUrls(clients.s3_presign, settings),
            )
            app.state.service = service
            await service.wait_for_dependencies()
            yield

    app = FastAPI(
        title="SnapQueue upload-service",
        version="1.0.0",
        description=(
            "Presigned direct uploads, server-side uploads, image records and the gallery. "
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
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
        max_age=600,
    )
    return app
