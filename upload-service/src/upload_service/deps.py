"""``Depends`` aliases: how routes reach the settings, clients, stores and the service.

Everything here is built by the app's lifespan and kept on ``app.state``; nothing is
created at import time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from snapqueue_core.aws import AwsClients
from snapqueue_core.store import ImageStore
from snapqueue_core.urls import VariantUrls

from .metrics import HttpMetrics
from .service import UploadService
from .settings import UploadServiceSettings


def get_settings(request: Request) -> UploadServiceSettings:
    settings: UploadServiceSettings = request.app.state.settings
    return settings


def get_clients(request: Request) -> AwsClients:
    clients: AwsClients = request.app.state.clients
    return clients


def get_image_store(request: Request) -> ImageStore:
    store: ImageStore = request.app.state.image_store
    return store


def get_variant_urls(request: Request) -> VariantUrls:
    urls: VariantUrls = request.app.state.variant_urls
    return urls


def get_service(request: Request) -> UploadService:
    service: UploadService = request.app.state.service
    return service


def get_metrics(request: Request) -> HttpMetrics:
    metrics: HttpMetrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[UploadServiceSettings, Depends(get_settings)]
ClientsDep = Annotated[AwsClients, Depends(get_clients)]
ImageStoreDep = Annotated[ImageStore, Depends(get_image_store)]
VariantUrlsDep = Annotated[VariantUrls, Depends(get_variant_urls)]
ServiceDep = Annotated[UploadService, Depends(get_service)]
MetricsDep = Annotated[HttpMetrics, Depends(get_metrics)]
