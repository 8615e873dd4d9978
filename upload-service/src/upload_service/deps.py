"""``Depends`` aliases: how routes reach the service, the metrics and the caller.

The service and the token verifier are built by the app's lifespan and kept on
``app.state``; nothing is created at import time.

Who calls:

- :data:`OptionalPrincipalDep`: the caller's principal, or ``None`` without a token. A token
  that was sent but is refused is a 401 even here: a client with a stale token learns that
  it must refresh, instead of silently seeing less.
- :data:`PrincipalDep`: a valid access token is required (401 otherwise).
- :data:`AdminDep`: the token's user must be in the admins group (403 otherwise).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from snapqueue_core.tokens import (
    InvalidTokenError,
    KeysUnavailableError,
    Principal,
    TokenExpiredError,
    TokenVerifier,
)

from .errors import DependencyUnavailableError, ForbiddenError, UnauthenticatedError
from .metrics import HttpMetrics
from .service import UploadService

log = logging.getLogger(__name__)

BEARER_SCHEME = "bearerAuth"

# Only reads the header: the token is checked below, so the answers stay this API's own.
bearer = HTTPBearer(
    scheme_name=BEARER_SCHEME,
    bearerFormat="JWT",
    description="The access token of `POST /auth/sign-in` (or `/auth/refresh`).",
    auto_error=False,
)


def get_service(request: Request) -> UploadService:
    service: UploadService = request.app.state.service
    return service


def get_metrics(request: Request) -> HttpMetrics:
    metrics: HttpMetrics = request.app.state.metrics
    return metrics


def get_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.verifier
    return verifier


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    if credentials is None:
        # A header that is there but not a bearer token is refused like a bad token:
        # the client meant to authenticate.
        if request.headers.get("authorization"):
            raise UnauthenticatedError(
                "Send the access token as 'Authorization: Bearer <token>'.", refused=True
            )
        return None
    try:
        return await get_verifier(request).verify(credentials.credentials, use="access")
    except TokenExpiredError as exc:
        raise UnauthenticatedError(
            "The access token has expired; refresh it.", refused=True
        ) from exc
    except InvalidTokenError as exc:
        log.info("token refused", extra={"reason": exc.reason, "path": request.url.path})
        raise UnauthenticatedError("The access token is not valid.", refused=True) from exc
    except KeysUnavailableError as exc:
        raise DependencyUnavailableError(
            "Sign-in cannot be checked right now; try again shortly."
        ) from exc


async def required_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise UnauthenticatedError("Sign in: this call needs an access token.")
    return principal


async def admin_principal(
    principal: Annotated[Principal, Depends(required_principal)],
) -> Principal:
    if not principal.is_admin:
        raise ForbiddenError("Administrators only.")
    return principal


ServiceDep = Annotated[UploadService, Depends(get_service)]
MetricsDep = Annotated[HttpMetrics, Depends(get_metrics)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]
PrincipalDep = Annotated[Principal, Depends(required_principal)]
AdminDep = Annotated[Principal, Depends(admin_principal)]
