"""Where the CLI keeps a sign-in between runs (docs/client.md, "Signing in").

``$XDG_CONFIG_HOME/snapqueue/credentials.json`` (else ``~/.config/snapqueue/...``), readable
by its owner only: the file ``0600``, its directory ``0700``. One entry per API URL, so a
refresh token issued by one deployment is never sent to another::

    {"version": 1, "logins": {"http://127.0.0.1:8000": {"email": ..., "refreshToken": ...,
     "accessToken": ..., "expiresAt": ..., "savedAt": ...}}}

The access token is kept with its expiry so that a command run within its lifetime needs
no refresh call first. The library itself never reads or writes this file; the CLI does.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from snapqueue_client.errors import SnapQueueError
from snapqueue_client.models import Model, Tokens

FILE_NAME = "credentials.json"
FILE_MODE = 0o600
DIR_MODE = 0o700
FORMAT_VERSION = 1


class CredentialsError(SnapQueueError):
    """The credentials file exists but cannot be read as one (edited by hand, truncated)."""


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/snapqueue``, or ``~/.config/snapqueue``.

    The XDG spec says a relative ``XDG_CONFIG_HOME`` is invalid and to be ignored: it would
    put credentials wherever the command happens to run.
    """
    values = os.environ if env is None else env
    base = values.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "snapqueue"


def normalize_api_url(api_url: str) -> str:
    return api_url.rstrip("/")


class StoredLogin(Model):
    """One API's sign-in: enough to get an access token again without the password."""

    email: str | None = None
    refresh_token: str
    access_token: str | None = None
    expires_at: float | None = None
    saved_at: str | None = None

    @classmethod
    def of(cls, tokens: Tokens, email: str | None) -> StoredLogin:
        if tokens.refresh_token is None:
            raise SnapQueueError("the sign-in answer carried no refresh token to store")
        return cls(
            email=email,
            refresh_token=tokens.refresh_token,
            access_token=tokens.access_token,
            expires_at=tokens.expires_at,
            saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def tokens(self) -> Tokens | None:
        """The stored tokens when an access token is kept, else ``None`` (refresh first)."""
        if self.access_token is None or self.expires_at is None:
            return None
        return Tokens(
            access_token=self.access_token,
            refresh_token=self.refresh_token,
            expires_at=self.expires_at,
        )

    def updated(self, tokens: Tokens) -> StoredLogin:
        """After a refresh: the new access token, and the new refresh token if one came."""
        return StoredLogin.of(tokens.with_refresh_token(self.refresh_token), self.email)


class CredentialStore:
    """The credentials file; every write replaces it atomically with a ``0600`` file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / FILE_NAME

    def get(self, api_url: str) -> StoredLogin | None:
        return self._read().get(normalize_api_url(api_url))

    def put(self, api_url: str, login: StoredLogin) -> None:
        logins = self._read()
        logins[normalize_api_url(api_url)] = login
        self._write(logins)

    def remove(self, api_url: str) -> bool:
        """Forget ``api_url``'s sign-in; the file goes once it holds no other. Returns
        whether there was one. An unreadable file is removed: logging out must work."""
        try:
            logins = self._read()
        except CredentialsError:
            self.path.unlink(missing_ok=True)
            return True
        if logins.pop(normalize_api_url(api_url), None) is None:
            return False
        if logins:
            self._write(logins)
        else:
            self.path.unlink(missing_ok=True)
        return True

    def clear(self) -> bool:
        """Forget every sign-in; returns whether the file existed."""
        existed = self.path.exists()
        self.path.unlink(missing_ok=True)
        return existed

    def _read(self) -> dict[str, StoredLogin]:
        try:
            text = self.path.read_text(encoding="utf-8")
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CredentialsError(f"cannot read {self.path}: {exc}") from exc
        if mode & 0o077:
            # Copied around or restored from a backup: the tokens in it are still secrets.
            os.chmod(self.path, FILE_MODE)
        try:
            data: Any = json.loads(text)
            entries = data["logins"] if isinstance(data, dict) else None
            if not isinstance(entries, dict):
                raise TypeError("no logins object")
            return {url: StoredLogin.model_validate(entry) for url, entry in entries.items()}
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise CredentialsError(
                f"{self.path} is not a credentials file ({exc}); `snapqueue logout` removes it"
            ) from exc

    def _write(self, logins: Mapping[str, StoredLogin]) -> None:
        directory = self.path.parent
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        # mkdir's mode is reduced by the umask, and an existing directory keeps its own.
        os.chmod(directory, DIR_MODE)
        document = {
            "version": FORMAT_VERSION,
            "logins": {
                url: login.model_dump(mode="json", by_alias=True, exclude_none=True)
                for url, login in sorted(logins.items())
            },
        }
        # mkstemp creates the file owner-only from the start: the tokens are never readable by
        # others, not even for a moment before a chmod.
        handle, temporary = tempfile.mkstemp(prefix=".credentials-", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, FILE_MODE)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
