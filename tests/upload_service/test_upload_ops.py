"""Health, readiness, metrics and CORS."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.upload_service.upload_helpers import RunningService


async def test_healthz(service: RunningService) -> None:
    response = await service.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_follows_its_dependencies(upload_service_factory: Any) -> None:
    running = await upload_service_factory()
    ready = await running.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}

    await running.clients.dynamodb.delete_table(TableName=running.settings.images_table)
    not_ready = await running.http.get("/readyz")
    assert not_ready.status_code == 503
    body = not_ready.json()
    assert body["status"] == "not-ready"
    assert "ResourceNotFoundException" in body["reason"]
    # Storage errors on a real route are a 503 in the error shape, never a 500.
    broken = await running.http.get(f"/status/{uuid.uuid4().hex}")
    assert broken.status_code == 503
    assert broken.json()["error"] == "service_unavailable"


async def test_metrics_count_requests_by_route_template(service: RunningService) -> None:
    for _ in range(3):
        await service.http.get(f"/status/{uuid.uuid4().hex}")
    await service.http.get("/healthz")
    await service.http.get("/definitely/not/here")
    response = await service.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    counted = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("snapqueue_http_requests_total{")
    }
    key = 'snapqueue_http_requests_total{method="GET",route="/status/{imageId}",status="404"}'
    assert counted[key] >= 3
    assert counted['snapqueue_http_requests_total{method="GET",route="/healthz",status="200"}'] >= 1
    assert any('route="unmatched"' in name for name in counted)
    # Raw paths never become label values.
    assert "/status/0" not in text
    assert "definitely" not in text
    assert (
        'snapqueue_http_request_duration_seconds_bucket{le="0.005",method="GET",'
        'route="/status/{imageId}"}' in text
    )
    assert "snapqueue_http_request_duration_seconds_count" in text


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8080", "http://localhost:8080"])
async def test_cors_allows_configured_origins(service: RunningService, origin: str) -> None:
    simple = await service.http.get("/healthz", headers={"Origin": origin})
    assert simple.headers["access-control-allow-origin"] == origin
    preflight = await service.http.options(
        "/upload-request",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:8081"])
async def test_cors_refuses_other_origins(service: RunningService, origin: str) -> None:
    simple = await service.http.get("/healthz", headers={"Origin": origin})
    assert "access-control-allow-origin" not in simple.headers
    preflight = await service.http.options(
        "/upload-request",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_origins_come_from_settings(upload_service_factory: Any) -> None:
    running = await upload_service_factory(cors_origins="https://app.example")
    allowed = await running.http.get("/healthz", headers={"Origin": "https://app.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    default = await running.http.get("/healthz", headers={"Origin": "http://localhost:8080"})
    assert "access-control-allow-origin" not in default.headers


async def test_metrics_count_the_aws_requests_sent(service: RunningService) -> None:
    """Each /status is one DynamoDB GetItem, counted as AWS counts (and bills) it."""
    name = 'snapqueue_aws_requests_total{operation="GetItem",service="dynamodb"}'

    async def get_items() -> float:
        for line in (await service.http.get("/metrics")).text.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = await get_items()
    for _ in range(3):
        await service.http.get(f"/status/{uuid.uuid4().hex}")
    assert await get_items() - before == 3
