"""The embedded emulator speaks HTTP/1.1 the way AWS does: connections stay open."""

from __future__ import annotations

import http.client
from contextlib import ExitStack
from urllib.parse import urlsplit

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
