"""The framework's ceiling: ``python -m bench.hello_app --port N --kind fastapi|asgi``.

``fastapi`` answers ``POST /upload-request`` with the upload-service's own request and
response models but no AWS call; ``asgi`` is a bare ASGI callable. Both run under uvicorn
with the upload-service's settings (no access log, lifespan on), so the difference from
the real service is the work behind the route: DynamoDB put, presigning, logging.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from fastapi import FastAPI

from upload_service.models import UploadRequestBody, UploadTicket

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TICKET = {
    "imageId": "0" * 32,
    "upload": {"url": "http://127.0.0.1/bucket", "fields": {"key": "uploads/" + "0" * 32}},
    "expiresAt": "2030-01-01T00:00:00.000000Z",
    "maxBytes": 26214400,
}


def fastapi_app() -> Any:
    app = FastAPI()

    @app.post("/upload-request", status_code=201, response_model=UploadTicket)
    async def upload_request(body: UploadRequestBody) -> UploadTicket:
        return UploadTicket.model_validate(TICKET)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # drain the request body
        message = await receive()
        more = message.get("more_body", False)
    status = 201 if scope["method"] == "POST" else 200
    body = json.dumps(TICKET if status == 201 else {"status": "ok"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.hello_app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kind", choices=("fastapi", "asgi"), default="fastapi")
    args = parser.parse_args()
    app = fastapi_app() if args.kind == "fastapi" else asgi_app
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_config=None, access_log=False, lifespan="on"
    )


if __name__ == "__main__":
    main()
