"""``Depends`` aliases: how routes reach the service and the metrics.

Both are built by the app (the service by its lifespan) and kept on ``app.state``; nothing
is created at import time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .metrics import HttpMetrics
from .service import UploadService


def get_service(request: Request) -> UploadService:
    service: UploadService = request.app.state.service
    return service


def get_metrics(request: Request) -> HttpMetrics:
    metrics: HttpMetrics = request.app.state.metrics
    return metrics


ServiceDep = Annotated[UploadService, Depends(get_service)]
MetricsDep = Annotated[HttpMetrics, Depends(get_metrics)]
