"""The embedded stack's and compose's sign-in settings name the pool the bootstrap creates.

The emulator derives Cognito ids from the pool's name and settings (moto's HASH strategy), so
.env.embedded and the compose files can carry them before anything runs; these tests fail when
the declaration changes and the ids written there go stale.
"""

from __future__ import annotations

import yaml

from devstack.stack import ROOT
from snapqueue_core.user_pool import UserPoolIds


def embedded() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.embedded").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_embedded_env_names_the_bootstrapped_pool(user_pool: UserPoolIds) -> None:
    env = embedded()
    assert env["SNAPQUEUE_USER_POOL_NAME"] == "snapqueue-users"
    assert env["SNAPQUEUE_COGNITO_USER_POOL_ID"] == user_pool.user_pool_id
    assert env["SNAPQUEUE_COGNITO_CLIENT_ID"] == user_pool.client_id
    assert env["SNAPQUEUE_AUTH_CLIENT_IDS"] == user_pool.client_id
    assert env["SNAPQUEUE_AUTH_ISSUER"] == user_pool.issuer
    assert env["SNAPQUEUE_AUTH_JWKS_URL"] == user_pool.jwks_url("http://127.0.0.1:4566")
    assert env["SNAPQUEUE_AUTH_AUTO_CONFIRM"] == "true"


def test_compose_defaults_name_the_same_pool(user_pool: UserPoolIds) -> None:
    services = yaml.safe_load((ROOT / "infrastructure" / "compose" / "services.yml").read_text())
    upload = services["services"]["upload-service"]["environment"]
    notifier = services["services"]["notifier-service"]["environment"]
    assert services["services"]["bootstrap"]["environment"]["SNAPQUEUE_USER_POOL_NAME"] == (
        "snapqueue-users"
    )
    for environment in (upload, notifier):
        assert f":-{user_pool.user_pool_id}}}" in environment["SNAPQUEUE_AUTH_ISSUER"]
        assert f":-{user_pool.user_pool_id}}}" in environment["SNAPQUEUE_AUTH_JWKS_URL"]
        assert environment["SNAPQUEUE_AUTH_CLIENT_IDS"].endswith(f":-{user_pool.client_id}}}")
    assert upload["SNAPQUEUE_COGNITO_USER_POOL_ID"].endswith(f":-{user_pool.user_pool_id}}}")
    assert upload["SNAPQUEUE_COGNITO_CLIENT_ID"].endswith(f":-{user_pool.client_id}}}")
    assert "SNAPQUEUE_AUTH_AUTO_CONFIRM" not in notifier
