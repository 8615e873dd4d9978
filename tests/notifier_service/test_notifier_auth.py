"""Accounts on the socket: authenticating (first frame or handshake header), who may register
for which image, re-authentication, token expiry, and imageDeleted.

Real tokens come from the session emulator's Cognito (``user_factory``); forged ones are
signed with the emulator's own key (``tests.core.token_forge``) to change one thing.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from snapqueue_core.schemas import ImageStatus, NotificationEvent
from tests.core import token_forge as forge
from tests.notifier_service.helpers import (
    Replica,
    Stack,
    assert_silent,
    authenticate,
    eventually,
    recv_json,
    register,
    send_json,
)

if TYPE_CHECKING:
    from tests.conftest import SignedInUser

OpenClient = Callable[..., Awaitable[ClientConnection]]
StartReplica = Callable[..., Awaitable[Replica]]
UserFactory = Callable[..., Awaitable["SignedInUser"]]


def sample(replica: Replica, name: str, **labels: str) -> float:
    value = replica.notifier.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def expiring_token(user: SignedInUser, seconds: float) -> str:
    """``user``'s access token, re-signed with the emulator's key to expire soon."""
    # Rounded up: exp is whole seconds, and rounding down could expire it before its use.
    exp = math.ceil(time.time() + seconds)
    return forge.sign(forge.with_claims(user.access_token, exp=exp))


def refreshed_token(user: SignedInUser, **changes: Any) -> str:
    """What a token refresh gives: the same user's token, valid for longer."""
    exp = int(time.time()) + 7200
    return forge.sign(forge.with_claims(user.access_token, exp=exp, **changes))


async def register_answer(client: ClientConnection, image_id: str) -> list[dict[str, Any]]:
    """Register, and return the acknowledgement and the frame that follows it."""
    await send_json(client, {"action": "registerImage", "imageId": image_id})
    return [await recv_json(client), await recv_json(client)]


# ---------------------------------------------------------------------------- authenticate


async def test_authenticate_frame_answers_with_the_user_id(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url, auth=None)
    assert await authenticate(client, stack.user.access_token) == {
        "type": "authenticated",
        "userId": stack.user.user_id,
    }
    image_id = await stack.new_image()
    assert (await register(client, image_id))["status"] == "PENDING_UPLOAD"
    assert sample(replica, "notifier_authentications_total", via="frame") == 1
    assert sample(replica, "notifier_authenticated_connections") == 1


async def test_handshake_header_authenticates_from_the_start(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url, auth="header")
    # The 101 is the confirmation: no frame comes unasked.
    await assert_silent(client, 0.3)
    image_id = await stack.new_image()
    assert (await register(client, image_id))["status"] == "PENDING_UPLOAD"
    assert sample(replica, "notifier_authentications_total", via="header") == 1
    # A later authenticate frame works on such a connection too.
    assert (await authenticate(client, refreshed_token(stack.user)))["type"] == "authenticated"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer not-a-token", "unauthenticated"),
        ("Basic dXNlcjpwYXNz", "unauthenticated"),
        ("Bearer", "unauthenticated"),
        ("expired", "token_expired"),
    ],
)
async def test_bad_handshake_header_is_refused_with_401(
    stack: Stack, replica: Replica, open_client: OpenClient, header: str, code: str
) -> None:
    if header == "expired":
        header = f"Bearer {forge.expired(stack.user.access_token)}"
    with pytest.raises(InvalidStatus) as refused:
        await open_client(replica.ws_url, auth=None, additional_headers={"Authorization": header})
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    body = json.loads(response.body)
    assert body["error"] == code
    assert body["message"]
    assert sample(replica, "notifier_rejected_handshakes_total", reason="unauthenticated") == 1
    # Not also counted as a malformed handshake.
    assert sample(replica, "notifier_rejected_handshakes_total", reason="bad_request") == 0
    reason = "expired" if code == "token_expired" else "invalid"
    assert sample(replica, "notifier_authentication_refusals_total", via="header", reason=reason)
    assert replica.notifier.registry.connection_count == 0


async def test_register_before_authenticating_is_unauthenticated(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url, auth=None)
    image_id = await stack.new_image()
    for action in ("registerImage", "unregisterImage"):
        await send_json(client, {"action": action, "imageId": image_id})
        error = await recv_json(client)
        assert error["type"] == "error"
        assert error["code"] == "unauthenticated"
        assert error["imageId"] == image_id
        assert "authenticate" in error["message"]
    assert await stack.connections.for_image(image_id) == []
    # The connection is still usable: authenticate, then register.
    assert (await authenticate(client, stack.user.access_token))["type"] == "authenticated"
    assert (await register(client, image_id))["status"] == "PENDING_UPLOAD"
    assert sample(replica, "notifier_error_frames_total", code="unauthenticated") == 2


@pytest.mark.parametrize(
    "frame",
    [
        {"action": "authenticate"},
        {"action": "authenticate", "token": ""},
        {"action": "authenticate", "token": 42},
        {"action": "authenticate", "token": "garbage"},
        {"action": "authenticate", "token": "a.b.c"},
    ],
)
async def test_unusable_authenticate_frames_leave_the_connection_unauthenticated(
    stack: Stack, replica: Replica, open_client: OpenClient, frame: dict[str, Any]
) -> None:
    client = await open_client(replica.ws_url, auth=None)
    await send_json(client, frame)
    error = await recv_json(client)
    assert (error["type"], error["code"]) == ("error", "unauthenticated")
    # The token is never echoed back.
    assert "garbage" not in error["message"]
    await send_json(client, {"action": "registerImage", "imageId": await stack.new_image()})
    assert (await recv_json(client))["code"] == "unauthenticated"
    assert sample(replica, "notifier_authenticated_connections") == 0


async def test_unreachable_signing_keys_are_a_retryable_error(
    stack: Stack, start_replica: StartReplica, open_client: OpenClient
) -> None:
    # Nothing listens there: the replica starts anyway, and says "try again" to clients.
    replica = await start_replica(auth_jwks_url="http://127.0.0.1:9/jwks.json")
    client = await open_client(replica.ws_url, auth=None)
    error = await authenticate(client, stack.user.access_token)
    assert (error["type"], error["code"]) == ("error", "service_unavailable")
    with pytest.raises(InvalidStatus) as refused:
        await open_client(replica.ws_url, auth="header")
    assert refused.value.response.status_code == 503
    assert refused.value.response.headers["Retry-After"] == "2"
    assert (
        sample(
            replica,
            "notifier_authentication_refusals_total",
            via="frame",
            reason="keys_unavailable",
        )
        == 1
    )


# ---------------------------------------------------------------------------- who may register


async def test_another_users_private_image_looks_exactly_like_a_missing_one(
    stack: Stack, replica: Replica, open_client: OpenClient, user_factory: UserFactory
) -> None:
    private = await stack.new_image()
    stranger = await user_factory()
    client = await open_client(replica.ws_url, token=stranger.access_token)
    missing = "0" * 32

    def without_id(frames: list[dict[str, Any]], image_id: str) -> list[str]:
        return [json.dumps(frame).replace(image_id, "<id>") for frame in frames]

    refused = await register_answer(client, private)
    absent = await register_answer(client, missing)
    assert without_id(refused, private) == without_id(absent, missing)
    assert refused[0] == {"type": "registered", "imageId": private}
    assert refused[1]["code"] == "unknown_image"
    # No row was ever written for it, so no event can reach the stranger.
    assert await stack.connections.for_image(private) == []
    assert replica.notifier.registry.registration_count == 0
    await stack.publish(NotificationEvent.progress(private, ImageStatus.PROCESSING))
    await assert_silent(client)
    assert sample(replica, "notifier_registrations_refused_total", reason="not_allowed") == 1
    assert sample(replica, "notifier_registrations_refused_total", reason="missing") == 1


async def test_an_image_without_owner_is_for_admins_only(
    stack: Stack, replica: Replica, open_client: OpenClient, user_factory: UserFactory
) -> None:
    legacy = await stack.new_image(owner=None)
    user_client = await open_client(replica.ws_url)
    assert (await register_answer(user_client, legacy))[1]["code"] == "unknown_image"
    admin = await user_factory(admin=True)
    admin_client = await open_client(replica.ws_url, token=admin.access_token)
    assert (await register(admin_client, legacy))["status"] == "PENDING_UPLOAD"


async def test_a_public_image_may_be_watched_by_anyone_signed_in(
    stack: Stack, replica: Replica, open_client: OpenClient, user_factory: UserFactory
) -> None:
    image_id, token = await stack.processing_image(visibility="public")
    stranger = await user_factory()
    client = await open_client(replica.ws_url, token=stranger.access_token)
    assert (await register(client, image_id))["status"] == "PROCESSING"
    record = await stack.complete(image_id, token)
    await stack.publish(NotificationEvent.terminal(record))
    assert (await recv_json(client))["type"] == "imageProcessed"


async def test_an_admin_may_watch_any_image(
    stack: Stack, replica: Replica, open_client: OpenClient, user_factory: UserFactory
) -> None:
    image_id, token = await stack.processing_image()
    admin = await user_factory(admin=True)
    client = await open_client(replica.ws_url, token=admin.access_token)
    assert (await register(client, image_id))["status"] == "PROCESSING"
    record = await stack.fail(image_id, token)
    await stack.publish(NotificationEvent.terminal(record))
    assert (await recv_json(client))["type"] == "imageFailed"


async def test_an_image_made_private_is_refused_on_registering_again(
    stack: Stack, replica: Replica, open_client: OpenClient, user_factory: UserFactory
) -> None:
    image_id = await stack.new_image(visibility="public")
    stranger = await user_factory()
    client = await open_client(replica.ws_url, token=stranger.access_token)
    await register(client, image_id)
    # The owner makes it private (the upload-service's PATCH does this write).
    await stack.clients.dynamodb.update_item(
        TableName=stack.settings.images_table,
        Key={"imageId": {"S": image_id}},
        UpdateExpression="SET visibility = :private",
        ExpressionAttributeValues={":private": {"S": "private"}},
    )
    assert (await register_answer(client, image_id))[1]["code"] == "unknown_image"
    # The registration it held from before is gone too.
    assert replica.notifier.registry.registration_count == 0
    assert await stack.connections.for_image(image_id) == []


# ---------------------------------------------------------------------------- re-authenticate


async def test_reauthenticating_with_a_fresh_token_keeps_the_registrations(
    stack: Stack, start_replica: StartReplica, open_client: OpenClient
) -> None:
    replica = await start_replica(auth_leeway_seconds=0)
    client = await open_client(replica.ws_url, token=expiring_token(stack.user, 2))
    image_id, token = await stack.processing_image()
    await register(client, image_id)
    assert await authenticate(client, refreshed_token(stack.user)) == {
        "type": "authenticated",
        "userId": stack.user.user_id,
    }
    # Past the first token's end: the connection lives on the fresh one.
    await assert_silent(client, 2.5)
    assert client.close_code is None
    record = await stack.complete(image_id, token)
    await stack.publish(NotificationEvent.terminal(record))
    assert (await recv_json(client))["type"] == "imageProcessed"
    assert sample(replica, "notifier_tokens_expired_total") == 0


async def test_a_refused_reauthentication_keeps_the_previous_token(
    stack: Stack, replica: Replica, open_client: OpenClient
) -> None:
    client = await open_client(replica.ws_url)
    image_id = await stack.new_image()
    await register(client, image_id)
    error = await authenticate(client, forge.expired(stack.user.access_token))
    assert (error["type"], error["code"]) == ("error", "unauthenticated")
    assert "expired" in error["message"]
    # Still authenticated as before, with its registration.
    assert replica.notifier.registry.registration_count == 1
    other = await stack.new_image()
    assert (await register(client, other))["status"] == "PENDING_UPLOAD"
    assert sample(replica, "notifier_authentication_refusals_total", via="frame", reason="expired")


async def test_reauthenticating_as_another_user_drops_every_registration(
    stack: Stack, replica: Replica, open_client: OpenClient, user_factory: UserFactory
) -> None:
    client = await open_client(replica.ws_url)
    mine, public = await stack.new_image(), await stack.new_image(visibility="public")
    await register(client, mine)
    await register(client, public)
    someone = await user_factory()
    await send_json(client, {"action": "authenticate", "token": someone.access_token})
    frames = [await recv_json(client) for _ in range(3)]
    assert frames == [
        *({"type": "unregistered", "imageId": image_id} for image_id in sorted([mine, public])),
        {"type": "authenticated", "userId": someone.user_id},
    ]
    assert replica.notifier.registry.registration_count == 0
    assert await stack.connections.for_image(mine) == []


async def test_a_token_without_the_admin_group_loses_what_only_admins_may_watch(
    stack: Stack, replica: Replica, open_client: OpenClient, user_factory: UserFactory
) -> None:
    admin = await user_factory(admin=True)
    client = await open_client(replica.ws_url, token=admin.access_token)
    others = await stack.new_image()
    own = await stack.new_image(owner=admin.user_id)
    await register(client, others)
    await register(client, own)
    demoted = forge.sign(
        forge.with_claims(admin.access_token, cognito__groups=[], exp=int(time.time()) + 3600)
    )
    await send_json(client, {"action": "authenticate", "token": demoted})
    assert await recv_json(client) == {"type": "unregistered", "imageId": others}
    assert await recv_json(client) == {"type": "authenticated", "userId": admin.user_id}
    assert replica.notifier.registry.registration_count == 1
    assert [row.image_id for row in await stack.connections.for_image(own)] == [own]
    assert await stack.connections.for_image(others) == []


# ---------------------------------------------------------------------------- expiry


@pytest.mark.parametrize("auth", ["frame", "header"])
async def test_an_expired_token_closes_the_connection_with_4001(
    stack: Stack, start_replica: StartReplica, open_client: OpenClient, auth: str
) -> None:
    replica = await start_replica(auth_leeway_seconds=0)
    bystander = await open_client(replica.ws_url)
    shared = await stack.new_image()
    await register(bystander, shared)
    client = await open_client(replica.ws_url, auth=auth, token=expiring_token(stack.user, 2))
    await register(client, shared)
    error = await recv_json(client, within=5)
    assert error["type"] == "error"
    assert error["code"] == "token_expired"
    assert error["message"]
    await asyncio.wait_for(client.wait_closed(), 5)
    assert client.close_code == 4001
    assert client.close_reason == "token expired"

    async def only_the_bystander() -> bool:
        return len(await stack.connections.for_image(shared)) == 1

    await eventually(only_the_bystander)
    assert sample(replica, "notifier_tokens_expired_total") == 1
    assert sample(replica, "notifier_authenticated_connections") == 1
    # Nobody else noticed.
    await stack.publish(NotificationEvent.progress(shared, ImageStatus.PROCESSING))
    assert (await recv_json(bystander))["status"] == "PROCESSING"


async def test_an_expired_idle_connection_is_closed_too(
    stack: Stack, start_replica: StartReplica, open_client: OpenClient
) -> None:
    replica = await start_replica(auth_leeway_seconds=0)
    client = await open_client(replica.ws_url, token=expiring_token(stack.user, 2))
    assert (await recv_json(client, within=5))["code"] == "token_expired"
    await asyncio.wait_for(client.wait_closed(), 5)
    assert client.close_code == 4001


async def test_expiry_counts_the_leeway(
    stack: Stack, start_replica: StartReplica, open_client: OpenClient
) -> None:
    """A token is good until the verifier would refuse it: its exp plus the leeway."""
    replica = await start_replica(auth_leeway_seconds=3)
    client = await open_client(replica.ws_url, token=expiring_token(stack.user, 0))
    await assert_silent(client, 1.0)
    assert (await recv_json(client, within=5))["code"] == "token_expired"
    await asyncio.wait_for(client.wait_closed(), 5)
    assert client.close_code == 4001


# ---------------------------------------------------------------------------- imageDeleted


async def test_image_deleted_reaches_every_registered_socket_and_drops_the_registration(
    stack: Stack, start_replica: StartReplica, open_client: OpenClient, user_factory: UserFactory
) -> None:
    a, b = await start_replica(), await start_replica()
    admin = await user_factory(admin=True)
    image_id, token = await stack.processing_image()
    kept = await stack.new_image()
    sockets = [
        await open_client(a.ws_url),
        await open_client(a.ws_url, token=admin.access_token),
        await open_client(b.ws_url),
    ]
    for client in sockets:
        await register(client, image_id)
    await register(sockets[0], kept)
    assert await stack.publish(NotificationEvent.deleted(image_id)) == 2
    for client in sockets:
        assert await recv_json(client) == {"type": "imageDeleted", "imageId": image_id}

    async def rows_gone() -> bool:
        return await stack.connections.for_image(image_id) == []

    await eventually(rows_gone)
    assert a.notifier.registry.clients_for(image_id) == []
    assert b.notifier.registry.clients_for(image_id) == []
    assert a.notifier.registry.registration_count == 1
    # Nothing more for it reaches anyone, even sent straight to a replica's queue.
    record = await stack.complete(image_id, token)
    await stack.clients.sqs.send_message(
        QueueUrl=a.queue_url, MessageBody=NotificationEvent.terminal(record).to_json()
    )
    await asyncio.gather(*(assert_silent(client, 1.0) for client in sockets))
    # The other registration is untouched.
    await stack.publish(NotificationEvent.progress(kept, ImageStatus.PROCESSING))
    assert (await recv_json(sockets[0]))["imageId"] == kept
    assert sample(a, "notifier_events_delivered_total", type="imageDeleted") == 2
    assert sample(a, "notifier_registrations") == 1


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Identity:
    """A way to present oneself, and whether registering the owner's private image works."""

    name: str
    allowed: bool | None  # None: the token itself is refused


async def token_for(name: str, stack: Stack, user_factory: UserFactory) -> str | None:
    owner = stack.user
    now = int(time.time())
    match name:
        case "anonymous":
            return None
        case "owner":
            return owner.access_token
        case "other user":
            return (await user_factory()).access_token
        case "admin":
            return (await user_factory(admin=True)).access_token
        case "expired":
            return forge.expired(owner.access_token)
        case "unknown key":
            return forge.sign(forge.claims_of(owner.access_token), forge.fresh_key(), kid="gone")
        case "alg none":
            return forge.alg_none(forge.claims_of(owner.access_token))
        case "HS256 with the public key":
            return forge.hs256_with_public_key(forge.claims_of(owner.access_token))
        case "wrong client id":
            claims = forge.with_claims(owner.access_token, client_id="another-app", exp=now + 600)
            return forge.sign(claims)
        case "id token":
            return owner.id_token
        case "garbage":
            return "eyJhbGciOiJSUzI1NiJ9.garbage.garbage"
    raise AssertionError(name)


IDENTITIES = [
    Identity("anonymous", allowed=False),
    Identity("owner", allowed=True),
    Identity("other user", allowed=False),
    Identity("admin", allowed=True),
    Identity("expired", allowed=None),
    Identity("unknown key", allowed=None),
    Identity("alg none", allowed=None),
    Identity("HS256 with the public key", allowed=None),
    Identity("wrong client id", allowed=None),
    Identity("id token", allowed=None),
    Identity("garbage", allowed=None),
]


@pytest.mark.parametrize("auth", ["frame", "header"])
@pytest.mark.parametrize("identity", IDENTITIES, ids=[identity.name for identity in IDENTITIES])
async def test_who_may_register_for_a_private_image(
    stack: Stack,
    replica: Replica,
    open_client: OpenClient,
    user_factory: UserFactory,
    identity: Identity,
    auth: str,
) -> None:
    image_id = await stack.new_image()
    token = await token_for(identity.name, stack, user_factory)
    if token is None:
        client = await open_client(replica.ws_url, auth=None)
        await send_json(client, {"action": "registerImage", "imageId": image_id})
        assert (await recv_json(client))["code"] == "unauthenticated"
    elif identity.allowed is None and auth == "header":
        with pytest.raises(InvalidStatus) as refused:
            await open_client(replica.ws_url, auth="header", token=token)
        assert refused.value.response.status_code == 401
    elif identity.allowed is None:
        client = await open_client(replica.ws_url, auth=None)
        error = await authenticate(client, token)
        assert (error["type"], error["code"]) == ("error", "unauthenticated")
        await send_json(client, {"action": "registerImage", "imageId": image_id})
        assert (await recv_json(client))["code"] == "unauthenticated"
    else:
        client = await open_client(replica.ws_url, auth=auth, token=token)
        frames = await register_answer(client, image_id)
        assert frames[0] == {"type": "registered", "imageId": image_id}
        if identity.allowed:
            assert frames[1] == {"type": "status", "imageId": image_id, "status": "PENDING_UPLOAD"}
        else:
            assert frames[1]["code"] == "unknown_image"
    rows = await stack.connections.for_image(image_id)
    assert len(rows) == (1 if identity.allowed else 0)
