"""The in-memory index of who waits for what."""

from __future__ import annotations

from typing import Any, cast

from notifier_service.registry import Client, Registry


def client() -> Client:
    # The registry never touches the socket.
    return Client(socket=cast(Any, None))


def test_register_index_both_ways() -> None:
    registry = Registry()
    a, b = client(), client()
    registry.connect(a)
    registry.connect(b)
    assert registry.register(a, "x")
    assert not registry.register(a, "x")
    assert registry.register(b, "x")
    assert registry.register(b, "y")
    assert set(registry.clients_for("x")) == {a, b}
    assert registry.clients_for("y") == [b]
    assert registry.clients_for("z") == []
    assert registry.registration_count == 3
    assert registry.connection_count == 2
    assert a.connection_id != b.connection_id


def test_unregister_and_disconnect_clean_up() -> None:
    registry = Registry()
    a, b = client(), client()
    registry.connect(a)
    registry.connect(b)
    registry.register(a, "x")
    registry.register(b, "x")
    registry.register(b, "y")
    assert registry.unregister(a, "x")
    assert not registry.unregister(a, "x")
    assert registry.clients_for("x") == [b]
    assert registry.disconnect(b) == {"x", "y"}
    assert registry.clients_for("x") == []
    assert registry.registration_count == 0
    assert registry.connection_count == 1
    assert b.images == set()


def test_connections_accepted_only_grows() -> None:
    """What the heap freezer watches: a connection that comes and goes still counts."""
    registry = Registry()
    a, b = client(), client()
    registry.connect(a)
    registry.disconnect(a)
    registry.connect(b)
    assert registry.connection_count == 1
    assert registry.connections_accepted == 2


def test_unregistering_forgets_an_admin_grant() -> None:
    registry = Registry()
    a = client()
    registry.connect(a)
    registry.register(a, "x")
    a.admin_grants.add("x")
    registry.unregister(a, "x")
    assert a.admin_grants == set()


def test_token_expiry_is_only_for_authenticated_connections() -> None:
    a = client()
    assert not a.token_expired(now=1e12)
    a.token_deadline = 100.0
    assert not a.token_expired(now=99.9)
    assert a.token_expired(now=100.0)
