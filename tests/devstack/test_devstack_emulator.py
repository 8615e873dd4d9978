"""The embedded emulator speaks HTTP/1.1 the way AWS does: connections stay open, and
large bodies go out whole."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import os
import socket
import threading
import time
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

from devstack.emulator import SendingStreamWriter

# More clients than cheroot's default cap of 10 idle keep-alive connections: the stack's
# services and simulated browsers hold more than that between them.
CLIENTS = 24


def test_connections_stay_open_beyond_ten_clients(emulator_url: str) -> None:
    address = urlsplit(emulator_url)
    with ExitStack() as stack:
        connections = []
        for _ in range(CLIENTS):
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
            stack.callback(connection.close)
            connections.append(connection)
        for round_ in range(2):
            for connection in connections:
                # moto's health path: no signature needed, a small JSON answer.
                connection.request("GET", "/moto-api/data.json")
                response = connection.getresponse()
                response.read()
                assert response.status == 200, (round_, response.status)
                assert not response.will_close, f"round {round_}: the emulator closed it"


def test_writer_sends_everything_across_partial_sends() -> None:
    """A payload many times a socket buffer, read slowly: every byte arrives, in order."""
    payload = os.urandom(6 * 1024 * 1024)
    sending, receiving = socket.socketpair()
    with sending, receiving:
        sending.settimeout(10)
        # Small buffers: each send() takes a fraction of what is pending.
        sending.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        received = bytearray()

        def read_slowly() -> None:
            while len(received) < len(payload):
                chunk = receiving.recv(256 * 1024)
                if not chunk:
                    return
                received.extend(chunk)
                time.sleep(0.001)

        reader = threading.Thread(target=read_slowly)
        reader.start()
        writer = SendingStreamWriter(sending, "wb")
        writer.write(payload[:100])  # a header-sized write, then the body
        writer.write(payload[100:])
        reader.join(30)
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()


async def test_large_objects_come_back_byte_for_byte(resources_factory: Any) -> None:
    settings, clients = await resources_factory()
    payloads = [os.urandom(size) for size in (3 * 1024 * 1024 + 17, 9 * 1024 * 1024)]
    for index, payload in enumerate(payloads):
        await clients.s3.put_object(Bucket=settings.uploads_bucket, Key=f"k{index}", Body=payload)

    async def fetch(index: int) -> bytes:
        response = await clients.s3.get_object(Bucket=settings.uploads_bucket, Key=f"k{index}")
        async with response["Body"] as body:
            return bytes(await body.read())

    fetched = await asyncio.gather(*(fetch(i) for i in (0, 1, 0, 1)))
    assert [len(b) for b in fetched] == [len(payloads[i]) for i in (0, 1, 0, 1)]
    assert fetched == [payloads[i] for i in (0, 1, 0, 1)]
