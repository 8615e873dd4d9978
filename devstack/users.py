"""Users of the emulator's Cognito for tests and benchmarks: signed up, confirmed, signed in.

Real tokens, over the emulator's Cognito API (SignUp, AdminConfirmSignUp, InitiateAuth), the
way the upload-service's own ``/auth`` endpoints get them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from snapqueue_core.user_pool import ADMIN_GROUP


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
