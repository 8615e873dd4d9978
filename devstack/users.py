"""Users of the emulator's Cognito for tests and benchmarks: signed up, confirmed, signed in.

Real tokens, over the emulator's Cognito API (SignUp, AdminConfirmSignUp, InitiateAuth), the
way the upload-service's own ``/auth`` endpoints get them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiobotocore.session import get_session

from snapqueue_core.user_pool import ADMIN_GROUP

if TYPE_CHECKING:
    from .stack import Stack

# The emulator accepts any credentials; these are not secrets.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class SignedInUser:
    """A confirmed user and the tokens its sign-in returned."""

    email: str
    password: str
    user_id: str
    access_token: str
    id_token: str
    refresh_token: str
    admin: bool = False

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def sign_up_user(
    cognito: Any, user_pool_id: str, client_id: str, *, admin: bool = False
) -> SignedInUser:
    """A fresh user (random e-mail and password); ``admin`` puts it in the admins group."""
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    password = f"Pw-{uuid.uuid4().hex[:12]}-A1!"
    signed_up = await cognito.sign_up(ClientId=client_id, Username=email, Password=password)
    await cognito.admin_confirm_sign_up(UserPoolId=user_pool_id, Username=email)
    if admin:
        await cognito.admin_add_user_to_group(
            UserPoolId=user_pool_id, Username=email, GroupName=ADMIN_GROUP
        )
    signed_in = await cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    tokens = signed_in["AuthenticationResult"]
    return SignedInUser(
        email=email,
        password=password,
        user_id=signed_up["UserSub"],
        access_token=tokens["AccessToken"],
        id_token=tokens["IdToken"],
        refresh_token=tokens["RefreshToken"],
        admin=admin,
    )


def emulator_cognito(endpoint_url: str, region: str) -> Any:
    """An async context manager for a cognito-idp client of the emulator at ``endpoint_url``."""
    return get_session().create_client(
        "cognito-idp", endpoint_url=endpoint_url, region_name=region, **EMULATOR_CREDENTIALS
    )


async def new_user(
    endpoint_url: str, user_pool_id: str, client_id: str, *, region: str, admin: bool = False
) -> SignedInUser:
    """:func:`sign_up_user` with a client of its own, for callers that hold none."""
    async with emulator_cognito(endpoint_url, region) as cognito:
        return await sign_up_user(cognito, user_pool_id, client_id, admin=admin)


async def stack_user(stack: Stack, *, admin: bool = False) -> SignedInUser:
    """A fresh user of ``stack``'s user pool (the one its emulator's bootstrap created)."""
    return await new_user(
        stack.emulator_url,
        stack.user_pool["userPoolId"],
        stack.user_pool["clientId"],
        region=stack.env["AWS_REGION"],
        admin=admin,
    )
