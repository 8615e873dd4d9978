"""Where the notifier's WebSocket is, when only the API's URL is known."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# The dev stack's ports (docs/api.md, docs/websocket.md): API on 8000, notifier on 8001.
DEV_API_PORT = 8000
DEV_NOTIFIER_PORT = 8001


def derive_ws_url(api_url: str) -> str:
    """``ws(s)://`` for the API's host: port 8001 for the dev API on 8000, else ``/ws``.

    Behind the SPA's dev server or a load balancer the API is under ``/api`` and the socket
    at ``/ws`` on the same origin; directly against the dev stack, the notifier is the next
    port.
    """
    parts = urlsplit(api_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    netloc = parts.netloc
    if parts.port == DEV_API_PORT and parts.hostname:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = f"{host}:{DEV_NOTIFIER_PORT}"
    return urlunsplit((scheme, netloc, "/ws", "", ""))
