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

    from snapqueue_core.tokens import Principal


@dataclass(eq=False)
class Client:
    """One open WebSocket, who it speaks for, and the images it is registered for."""

    socket: ServerConnection
    connection_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    images: set[str] = field(default_factory=set)
    # None until the connection authenticates; replaced by every later authentication.
    principal: Principal | None = None
    # When the principal's token stops being valid, in event-loop time (what the
    # connection's timeouts are measured in).
    token_deadline: float | None = None
    # The registered images this connection may watch only because its principal is an
    # administrator: a later token without the admin group loses exactly these.
    admin_grants: set[str] = field(default_factory=set)

    def token_expired(self, now: float) -> bool:
        """The connection authenticated, and its token has expired since."""
        return self.token_deadline is not None and now >= self.token_deadline


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
        client.admin_grants.discard(image_id)
        self._registrations -= 1
        waiting = self._by_image.get(image_id)
        if waiting is not None:
            waiting.discard(client)
            if not waiting:
                del self._by_image[image_id]
        return True

    def clients_for(self, image_id: str) -> list[Client]:
        return list(self._by_image.get(image_id, ()))
