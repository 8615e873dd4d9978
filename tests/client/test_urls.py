"""Where the WebSocket is when only the API's URL is given."""

from __future__ import annotations

import pytest

from snapqueue_client import AsyncSnapQueue, derive_ws_url


@pytest.mark.parametrize(
    ("api_url", "ws_url"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8001/ws"),
        ("http://localhost:8000/", "ws://localhost:8001/ws"),
        ("http://[::1]:8000", "ws://[::1]:8001/ws"),
        ("http://127.0.0.1:8080/api", "ws://127.0.0.1:8080/ws"),
        ("https://photos.example.com/api", "wss://photos.example.com/ws"),
        ("https://api.example.com", "wss://api.example.com/ws"),
    ],
)
def test_derive_ws_url(api_url: str, ws_url: str) -> None:
    assert derive_ws_url(api_url) == ws_url


async def test_an_explicit_ws_url_wins() -> None:
    async with AsyncSnapQueue("http://127.0.0.1:8000/", "ws://elsewhere:9/ws") as client:
        assert client.ws_url == "ws://elsewhere:9/ws"
        assert client.api_url == "http://127.0.0.1:8000"
    async with AsyncSnapQueue("http://127.0.0.1:8000") as client:
        assert client.ws_url == "ws://127.0.0.1:8001/ws"
