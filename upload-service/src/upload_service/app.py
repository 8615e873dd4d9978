"""The FastAPI app factory: clients opened and closed by the lifespan, routes, middleware."""

from __future__ import annotations

import asyncio
import logging
import time
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

log = logging.getLogger(__name__)

SERVICE_NAME = "upload-service"
RESOURCE_POLL_SECONDS = 0.5


class ResourcesUnavailableError(RuntimeError):
    """The table or bucket did not appear within ``startup_timeout_seconds``."""


async def wait_for_resources(service: UploadService, within_seconds: float) -> None:
    """In ``make run`` the service may start before the bootstrap has created its resources."""
    deadline = time.monotonic() + within_seconds
    while True:
        reason = await service.not_ready_reason()
        if reason is None:
            return
        if time.monotonic() >= deadline:
            raise ResourcesUnavailableError(f"AWS resources not ready: {reason}")
        log.info("waiting for AWS resources", extra={"reason": reason})
        await asyncio.sleep(RESOURCE_POLL_SECONDS)


def create_app(settings: UploadServiceSettings) -> FastAPI:
    metrics = HttpMetrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            clients = await open_clients(stack, settings)
            count_requests(clients, metrics.count_aws_request)
            image_store = ImageStore(clients.dynamodb, settings)
            variant_urls = VariantUrls(clients.s3_presign, settings)
            service = UploadService(settings, clients, image_store, variant_urls)
            app.state.clients = clients
            app.state.image_store = image_store
            app.state.variant_urls = variant_urls
            app.state.service = service
            await wait_for_resources(service, settings.startup_timeout_seconds)
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
    app.state.settings = settings
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
