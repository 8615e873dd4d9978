"""Accounts and ownership through the client, against the real stack: sign-up and sign-in,
private images, sharing, deletion, refreshing, admins."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from contextlib import aclosing

import httpx
import pytest

from snapqueue_client import (
    AsyncSnapQueue,
    Forbidden,
    ImageDeleted,
    InvalidCredentials,
    InvalidEmail,
    InvalidPassword,
    InvalidRefreshToken,
    NotFound,
    SnapQueue,
    Status,
    Tokens,
    Unauthenticated,
    UserExists,
    Visibility,
)
from tests.client.conftest import Account, image_bytes, new_account


class CountingTransport(httpx.AsyncBaseTransport):
    """The real transport, counting requests by path."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def fresh_credentials() -> tuple[str, str]:
    return f"own-{uuid.uuid4().hex[:12]}@example.com", f"Pw-{uuid.uuid4().hex[:12]}-A1!"


async def test_private_images_sharing_and_deletion(
    api_url: str, ws_url: str, other_account: Account
) -> None:
    email, password = fresh_credentials()
    async with (
        AsyncSnapQueue(api_url, ws_url) as owner,
        AsyncSnapQueue(api_url, ws_url, refresh_token=other_account.refresh_token) as other,
    ):
        created = await owner.sign_up(email, password)
        assert created.confirmed
        tokens = await owner.sign_in(email, password)
        assert tokens.refresh_token
        assert tokens.token_type == "Bearer"
        me = await owner.me()
        assert (me.user_id, me.email, me.is_admin) == (created.user_id, email, False)

        record = await owner.upload(image_bytes(300), filename="mine.jpg")
        assert record.status is Status.COMPLETED
        assert record.visibility is Visibility.PRIVATE
        assert record.owner_id == created.user_id
        mine = await owner.my_images()
        assert [item.image_id for item in mine.items] == [record.image_id]
        assert [i.image_id async for i in owner.iter_my_images(page_size=1)] == [record.image_id]
        assert (await owner.my_images(status=Status.FAILED)).items == []
        gallery = {item.image_id async for item in other.iter_images()}
        assert record.image_id not in gallery

        # Somebody else's private image is not found, not forbidden: its id tells nothing.
        with pytest.raises(NotFound):
            await other.get(record.image_id)
        with pytest.raises(NotFound):
            await other.status(record.image_id)
        with pytest.raises(NotFound):
            await other.set_visibility(record.image_id, "public")
        with pytest.raises(NotFound):
            await other.delete(record.image_id)

        shared = await owner.set_visibility(record.image_id, Visibility.PUBLIC)
        assert shared.visibility is Visibility.PUBLIC
        seen = await other.get(record.image_id)
        assert seen.variants.keys() == record.variants.keys()
        assert record.image_id in {item.image_id async for item in other.iter_images()}

        await owner.delete(record.image_id)
        with pytest.raises(NotFound):
            await owner.get(record.image_id)
        with pytest.raises(NotFound):
            await other.get(record.image_id)
        assert (await owner.my_images()).items == []
        with pytest.raises(NotFound):
            await owner.delete(record.image_id)


async def test_sign_up_and_sign_in_refusals_are_typed(api_url: str, account: Account) -> None:
    email, password = fresh_credentials()
    async with AsyncSnapQueue(api_url) as client:
        with pytest.raises(InvalidPassword) as weak:
            await client.sign_up(email, "short")
        assert weak.value.status == 422
        assert "characters" in weak.value.message  # the rule is stated
        with pytest.raises(InvalidEmail):
            await client.sign_up("not-an-address", password)
        with pytest.raises(UserExists) as exists:
            await client.sign_up(account.email, password)
        assert exists.value.status == 409
        with pytest.raises(InvalidCredentials) as wrong:
            await client.sign_in(account.email, account.password + "x")
        assert wrong.value.status == 401
        with pytest.raises(InvalidCredentials):
            await client.sign_in(email, password)  # no such user: the same answer
        assert client.token is None


async def test_calls_without_a_valid_token_are_unauthenticated(api_url: str, ws_url: str) -> None:
    async with AsyncSnapQueue(api_url, ws_url) as anonymous:
        with pytest.raises(Unauthenticated) as caught:
            await anonymous.me()
        assert caught.value.code == "unauthenticated"
        with pytest.raises(Unauthenticated):
            await anonymous.upload(image_bytes(301), filename="anon.jpg")
        with pytest.raises(Unauthenticated):
            await anonymous.my_images()
    async with AsyncSnapQueue(api_url, ws_url, token="not-a-token") as forged:
        with pytest.raises(Unauthenticated):
            await forged.me()
    async with AsyncSnapQueue(api_url, refresh_token="not-a-refresh-token") as revoked:
        with pytest.raises(InvalidRefreshToken):
            await revoked.me()


async def test_a_refresh_token_is_enough_and_refreshes_are_shared(
    api_url: str, account: Account
) -> None:
    transport = CountingTransport()
    saved: list[Tokens] = []
    async with AsyncSnapQueue(
        api_url, refresh_token=account.refresh_token, transport=transport, on_tokens=saved.append
    ) as client:
        users = await asyncio.gather(*(client.me() for _ in range(6)))
        assert {user.user_id for user in users} == {account.user_id}
        assert transport.paths["/auth/refresh"] == 1
        first = client.tokens
        assert first is not None
        assert first.refresh_token == account.refresh_token  # kept: refresh gives none
        assert not first.expires_within(60)
        again = await client.refresh()
        assert again.access_token
        assert again.refresh_token == account.refresh_token
        assert transport.paths["/auth/refresh"] == 2
        assert (await client.me()).user_id == account.user_id
    assert len(saved) == 2


async def test_an_expiring_token_is_refreshed_before_it_is_sent(
    api_url: str, account: Account
) -> None:
    transport = CountingTransport()
    # The account's real access token, but the client believes it expires in a moment.
    expiring = Tokens(
        access_token=account.access_token, refresh_token=account.refresh_token, expires_in=10
    )
    async with AsyncSnapQueue(api_url, tokens=expiring, transport=transport) as client:
        await asyncio.gather(client.me(), client.my_images(), client.me())
        # One refresh for the three calls, before any was sent: none needed a retry.
        assert transport.paths["/auth/refresh"] == 1
        assert transport.paths["/me"] == 2
        assert transport.paths["/me/images"] == 1
        assert client.tokens is not None
        assert not client.tokens.expires_within(60)


async def test_a_wait_on_an_image_deleted_meanwhile_raises_image_deleted(
    api_url: str, ws_url: str, account: Account
) -> None:
    async with AsyncSnapQueue(api_url, ws_url, refresh_token=account.refresh_token) as client:
        ticket = await client.request_upload("gone.jpg", "image/jpeg", 1000)
        async with aclosing(client.watch(ticket.image_id, timeout=30)) as events:
            first = await anext(events)
            assert first.status is Status.PENDING_UPLOAD
            assert client.socket_connects == 1
            # A refresh re-authenticates the open socket (a later `authenticate` frame); the
            # socket stays the one that was opened.
            await client.refresh()
            await client.delete(ticket.image_id)
            with pytest.raises(ImageDeleted) as caught:
                await anext(events)
        assert client.socket_connects == 1
    # Only the notifier's imageDeleted frame gives this error (polling would say NotFound).
    assert caught.value.image_id == ticket.image_id
    assert isinstance(caught.value, NotFound)


async def test_admins_see_any_users_images(
    api_url: str, account: Account, admin_account: Account
) -> None:
    async with (
        AsyncSnapQueue(api_url, refresh_token=account.refresh_token) as user,
        AsyncSnapQueue(api_url, refresh_token=admin_account.refresh_token) as admin,
    ):
        record = await user.upload(image_bytes(302), filename="watched.jpg", wait=False)
        assert (await admin.me()).is_admin
        listed = await admin.admin_images(owner_id=account.user_id)
        assert record.image_id in {item.image_id for item in listed.items}
        assert (await admin.get(record.image_id)).owner_id == account.user_id
        with pytest.raises(Forbidden):
            await user.admin_images(owner_id=admin_account.user_id)


def test_the_sync_facade_signs_in_too(api_url: str, ws_url: str) -> None:
    user = new_account(api_url)
    with SnapQueue(api_url, ws_url) as client:
        tokens = client.sign_in(user.email, user.password)
        assert client.tokens == tokens
        assert client.me().user_id == user.user_id
        record = client.upload(image_bytes(303), filename="sync.jpg", visibility="public")
        assert record.visibility is Visibility.PUBLIC
        assert [i.image_id for i in client.iter_my_images()] == [record.image_id]
        assert client.my_images(limit=1).items[0].image_id == record.image_id
        assert client.set_visibility(record.image_id, "private").visibility is Visibility.PRIVATE
        assert client.refresh().access_token
        client.delete(record.image_id)
        with pytest.raises(NotFound):
            client.get(record.image_id)
