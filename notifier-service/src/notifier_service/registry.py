"""Which local connection waits for which image: an in-memory index, both ways.

The index is this replica's half of the routing; ``WebSocketConnections`` in DynamoDB is
the cluster-wide half that tells publishers which replica queues to send to. The
connection handler keeps the two in step (see ``connection.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection


@dataclass(eq=False)
class Client:
    """One open WebSocket and the images it is registered for."""

    socket: ServerConnection
    connection_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    images: set[str] = field(default_factory=set)


class Registry:
    def __init__(self) -> None:
        self._clients: set[Client] = set()
        self._by_image: dict[str, set[Client]] = {}
        self._registrations = 0
        self._accepted = 0

    @property
    def connection_count(self) -> int:
        return len(self._clients)

    @property
    def connections_accepted(self) -> int:
        """Connections ever connected: grows with each one, never falls."""
        return self._accepted

    @property
    def registration_count(self) -> int:
        return self._registrations

    @property
    def clients(self) -> frozenset[Client]:
        return frozenset(self._clients)

    def connect(self, client: Client) -> None:
        self._clients.add(client)
        self._accepted += 1

    def disconnect(self, client: Client) -> set[str]:
        """Forget ``client``; return the images it was registered for."""
        self._clients.discard(client)
        images = set(client.images)
        for image_id in images:
            self.unregister(client, image_id)
        return images

    def register(self, client: Client, image_id: str) -> bool:
        """Record that ``client`` waits for ``image_id``; ``False`` if it already did."""
        if image_id in client.images:
            return False
        client.images.add(image_id)
        self._by_image.setdefault(image_id, set()).add(client)
        self._registrations += 1
        return True

    def unregister(self, client: Client, image_id: str) -> bool:
        """Undo :meth:`register`; ``False`` if ``client`` was not registered for it."""
        if image_id not in client.images:
            return False
        client.images.discard(image_id)
        self._registrations -= 1
        waiting = self._by_image.get(image_id)
        if waiting is not None:
            waiting.discard(client)
            if not waiting:
                del self._by_image[image_id]
        return True

    def clients_for(self, image_id: str) -> list[Client]:
        return list(self._by_image.get(image_id, ()))
