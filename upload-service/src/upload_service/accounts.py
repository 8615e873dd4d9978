"""Accounts: sign-up, confirmation, sign-in, refresh and ``/me``, relayed to Cognito.

The SPA's app client has no secret, so every call here is one of Cognito's public,
unauthenticated APIs (no IAM grant needed), except ``AdminConfirmSignUp``, used only when
``auth_auto_confirm`` is set (the embedded emulator).

Cognito's refusals become this API's error codes. A wrong password and an unknown e-mail
get the very same answer, so the API never tells whether an address has an account.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from botocore.exceptions import ClientError

from snapqueue_core.tokens import Principal
from snapqueue_core.transient import error_code
from snapqueue_core.user_pool import PasswordPolicy

from .errors import (
    ApiError,
    ChallengeRequiredError,
    DependencyUnavailableError,
    ExpiredCodeError,
    InvalidCodeError,
    InvalidCredentialsError,
    InvalidEmailError,
    InvalidPasswordError,
    InvalidRefreshTokenError,
    InvalidRequestError,
    UnauthenticatedError,
    UserExistsError,
    UserNotConfirmedError,
)
from .models import MeOut, SignUpOut, TokensOut
from .settings import UploadServiceSettings

log = logging.getLogger(__name__)

# Deliberately simple: one "@", a dot in the domain, no spaces. Cognito and the mail that
# carries the confirmation code are the real test of an address.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
EMAIL_MAX_LENGTH = 254
# Cognito refuses longer passwords itself; the bound keeps a huge body from reaching it.
PASSWORD_MAX_LENGTH = 256
SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")

CREDENTIALS_MESSAGE = "Wrong e-mail address or password."
# Throttled by Cognito: the caller may try again shortly.
COGNITO_THROTTLING = frozenset({"TooManyRequestsException", "LimitExceededException"})


def normalize_email(raw: str) -> str:
    """The address as the pool stores it: trimmed, lower-case (the pool ignores case)."""
    email = raw.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH or not EMAIL_RE.fullmatch(email):
        raise InvalidEmailError("Enter a valid e-mail address.")
    return email


def breaks_policy(password: str, policy: PasswordPolicy) -> bool:
    """Whether ``password`` breaks ``policy``: checked here so a weak one never reaches
    Cognito, and the answer can name every rule at once."""
    return (
        len(password) < policy.minimum_length
        or len(password) > PASSWORD_MAX_LENGTH
        or (policy.require_uppercase and not any(c.isupper() for c in password))
        or (policy.require_lowercase and not any(c.islower() for c in password))
        or (policy.require_numbers and not any(c.isdigit() for c in password))
        or (policy.require_symbols and not any(c in SYMBOLS for c in password))
    )


def refusal(exc: ClientError, policy: PasswordPolicy) -> ApiError:
    """This API's error for a Cognito refusal that is the caller's (4xx) doing."""
    code = error_code(exc)
    if code == "InvalidPasswordException":
        return InvalidPasswordError(policy.describe())
    if code == "UsernameExistsException" or code == "AliasExistsException":
        return UserExistsError("An account with this e-mail address exists; sign in.")
    if code == "CodeMismatchException":
        return InvalidCodeError("The confirmation code is not right.")
    if code == "ExpiredCodeException":
        return ExpiredCodeError("The confirmation code has expired; request a new one.")
    if code in ("NotAuthorizedException", "UserNotFoundException"):
        return InvalidCredentialsError(CREDENTIALS_MESSAGE)
    if code == "UserNotConfirmedException":
        return UserNotConfirmedError("Confirm the e-mail address first.")
    if code == "PasswordResetRequiredException":
        return ChallengeRequiredError("This account must reset its password first.")
    if code in COGNITO_THROTTLING:
        return DependencyUnavailableError("Too many sign-in attempts right now; try again.")
    if code == "InvalidParameterException":
        return InvalidRequestError("The request was refused by the identity provider.")
    return DependencyUnavailableError("Sign-in is unavailable; try again shortly.")


def tokens_out(result: dict[str, Any], refresh_token: str | None = None) -> TokensOut:
    return TokensOut(
        access_token=result["AccessToken"],
        id_token=result["IdToken"],
        refresh_token=result.get("RefreshToken") or refresh_token,
        expires_in=int(result.get("ExpiresIn", 3600)),
    )


class Accounts:
    def __init__(
        self,
        settings: UploadServiceSettings,
        cognito: Any,
        policy: PasswordPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._cognito = cognito
        # The declared policy: the same as the Terraform pool's (a deploy test compares
        # them); a pool made stricter still refuses with invalid_password.
        self._policy = policy or PasswordPolicy()

    @property
    def policy(self) -> PasswordPolicy:
        return self._policy

    async def sign_up(self, raw_email: str, password: str) -> SignUpOut:
        email = normalize_email(raw_email)
        if breaks_policy(password, self._policy):
            raise InvalidPasswordError(self._policy.describe())
        settings = self._settings
        try:
            created = await self._cognito.sign_up(
                ClientId=settings.cognito_client_id,
                Username=email,
                Password=password,
                UserAttributes=[{"Name": "email", "Value": email}],
            )
            confirmed = bool(created.get("UserConfirmed"))
            if settings.auth_auto_confirm and not confirmed:
                await self._cognito.admin_confirm_sign_up(
                    UserPoolId=settings.cognito_user_pool_id, Username=email
                )
                confirmed = True
        except ClientError as exc:
            raise refusal(exc, self._policy) from exc
        log.info("user signed up", extra={"userId": created["UserSub"], "confirmed": confirmed})
        return SignUpOut(user_id=created["UserSub"], confirmed=confirmed)

    async def confirm(self, raw_email: str, code: str) -> None:
        email = normalize_email(raw_email)
        try:
            await self._cognito.confirm_sign_up(
                ClientId=self._settings.cognito_client_id,
                Username=email,
                ConfirmationCode=code,
            )
        except ClientError as exc:
            error = refusal(exc, self._policy)
            # Confirming an unknown (or already confirmed) address: say no more than that
            # the code does not fit, as sign-in does not tell which addresses exist.
            if isinstance(error, InvalidCredentialsError):
                raise InvalidCodeError("The confirmation code is not right.") from exc
            raise error from exc

    async def sign_in(self, raw_email: str, password: str) -> TokensOut:
        try:
            email = normalize_email(raw_email)
        except InvalidEmailError as exc:
            # An address that cannot exist is answered like any unknown one.
            raise InvalidCredentialsError(CREDENTIALS_MESSAGE) from exc
        try:
            answer = await self._cognito.initiate_auth(
                ClientId=self._settings.cognito_client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
        except ClientError as exc:
            raise refusal(exc, self._policy) from exc
        result = answer.get("AuthenticationResult")
        if not result:
            raise ChallengeRequiredError(
                f"Sign-in needs a step this API does not offer ({answer.get('ChallengeName')})."
            )
        return tokens_out(result)

    async def refresh(self, refresh_token: str) -> TokensOut:
        try:
            answer = await self._cognito.initiate_auth(
                ClientId=self._settings.cognito_client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except ClientError as exc:
            error = refusal(exc, self._policy)
            if isinstance(error, InvalidCredentialsError | UserNotConfirmedError):
                raise InvalidRefreshTokenError(
                    "The refresh token is not valid any more; sign in again."
                ) from exc
            raise error from exc
        result = answer.get("AuthenticationResult")
        if not result:
            raise InvalidRefreshTokenError("The refresh token is not valid any more.")
        return tokens_out(result)

    async def me(self, principal: Principal, access_token: str) -> MeOut:
        try:
            user = await self._cognito.get_user(AccessToken=access_token)
        except ClientError as exc:
            if error_code(exc) in ("NotAuthorizedException", "UserNotFoundException"):
                # Signed out everywhere, or the account was deleted, since the token was
                # issued: the token is no good any more.
                raise UnauthenticatedError(
                    "The access token is not valid any more.", refused=True
                ) from exc
            raise refusal(exc, self._policy) from exc
        attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
        return MeOut(
            user_id=principal.user_id,
            email=attributes.get("email"),
            groups=sorted(principal.groups),
        )
