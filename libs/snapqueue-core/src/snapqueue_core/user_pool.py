"""The sign-in side of the declaration: a Cognito user pool, its SPA client and the admins group.

On AWS, Terraform creates them (infrastructure/terraform/modules/auth, with the same password
policy; a test compares the two). The emulators (``make run``, the tests, docker compose) get
them from :func:`ensure_user_pool`, run by the bootstrap. Idempotent: an existing pool, client or
group of the same name is reused, so every run yields the same ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .transient import error_code

log = logging.getLogger(__name__)

ADMIN_GROUP = "admins"
# Cognito's own wording of each rule, used to say which one a refused password broke.
PASSWORD_RULES = {
    "MinimumLength": "at least {} characters",
    "RequireUppercase": "an upper-case letter",
    "RequireLowercase": "a lower-case letter",
    "RequireNumbers": "a digit",
    "RequireSymbols": "a symbol",
}


@dataclass(frozen=True)
class PasswordPolicy:
    minimum_length: int = 12
    require_uppercase: bool = True
    require_lowercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = True

    def as_cognito(self) -> dict[str, Any]:
        return {
            "MinimumLength": self.minimum_length,
            "RequireUppercase": self.require_uppercase,
            "RequireLowercase": self.require_lowercase,
            "RequireNumbers": self.require_numbers,
            "RequireSymbols": self.require_symbols,
        }

    def describe(self) -> str:
        """The policy in words, for the 422 a weak password gets."""
        wanted = [PASSWORD_RULES["MinimumLength"].format(self.minimum_length)]
        wanted += [
            PASSWORD_RULES[rule]
            for rule, required in self.as_cognito().items()
            if rule != "MinimumLength" and required
        ]
        return "Passwords need " + ", ".join(wanted[:-1]) + " and " + wanted[-1] + "."


@dataclass(frozen=True)
class UserPoolSpec:
    pool_name: str
    client_name: str
    admin_group: str = ADMIN_GROUP
    password_policy: PasswordPolicy = PasswordPolicy()


@dataclass(frozen=True)
class UserPoolIds:
    user_pool_id: str
    client_id: str
    region: str

    @property
    def issuer(self) -> str:
        """The ``iss`` of the pool's tokens (the emulator signs with the same one)."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    def jwks_url(self, endpoint_url: str | None = None) -> str:
        """Where the pool's signing keys are: the issuer's, or an emulator's copy."""
        if endpoint_url:
            return f"{endpoint_url.rstrip('/')}/{self.user_pool_id}/.well-known/jwks.json"
        return f"{self.issuer}/.well-known/jwks.json"


async def ensure_user_pool(cognito: Any, spec: UserPoolSpec, region: str) -> UserPoolIds:
    """Create (or find) the pool, its SPA client and the admins group."""
    pool_id = await _find_pool(cognito, spec.pool_name)
    if pool_id is None:
        created = await cognito.create_user_pool(
            PoolName=spec.pool_name,
            Policies={"PasswordPolicy": spec.password_policy.as_cognito()},
            UsernameAttributes=["email"],
            UsernameConfiguration={"CaseSensitive": False},
            AutoVerifiedAttributes=["email"],
        )
        pool_id = str(created["UserPool"]["Id"])
        log.info("user pool created", extra={"userPoolId": pool_id})
    client_id = await _find_client(cognito, pool_id, spec.client_name)
    if client_id is None:
        client = await cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=spec.client_name,
            # A browser cannot keep a secret.
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
        )
        client_id = str(client["UserPoolClient"]["ClientId"])
    try:
        await cognito.create_group(GroupName=spec.admin_group, UserPoolId=pool_id)
    except ClientError as exc:
        if error_code(exc) != "GroupExistsException":
            raise
    return UserPoolIds(user_pool_id=pool_id, client_id=client_id, region=region)


async def _find_pool(cognito: Any, name: str) -> str | None:
    paginator = cognito.get_paginator("list_user_pools")
    async for page in paginator.paginate(MaxResults=60):
        for pool in page.get("UserPools", []):
            if pool["Name"] == name:
                return str(pool["Id"])
    return None


async def _find_client(cognito: Any, pool_id: str, name: str) -> str | None:
    paginator = cognito.get_paginator("list_user_pool_clients")
    async for page in paginator.paginate(UserPoolId=pool_id, MaxResults=60):
        for client in page.get("UserPoolClients", []):
            if client["ClientName"] == name:
                return str(client["ClientId"])
    return None
