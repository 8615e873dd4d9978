"""``snapqueue``: upload, inspect and fetch images from the command line (docs/client.md)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from snapqueue_client import render
from snapqueue_client.client import DEFAULT_WAIT_SECONDS, AsyncSnapQueue
from snapqueue_client.content_types import IMAGE_TYPES, is_image_filename
from snapqueue_client.credentials import CredentialsError, CredentialStore, StoredLogin
from snapqueue_client.errors import (
    ApiError,
    InvalidCredentials,
    NetworkError,
    NotSignedIn,
    SnapQueueError,
    Unauthenticated,
    UploadFailed,
    UserNotConfirmed,
    WaitTimeout,
)
from snapqueue_client.models import ImageRecord, Status, Tokens, Visibility
from snapqueue_client.version import __version__

DEFAULT_API_URL = "http://127.0.0.1:8000"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_AUTH = 4

# Answers that mean "sign in (again)", whatever the command.
AUTH_API_ERRORS = (Unauthenticated, InvalidCredentials, UserNotConfirmed)

EPILOG = """\
signing in:
  `snapqueue login` stores a refresh token for the API URL in
  $XDG_CONFIG_HOME/snapqueue/credentials.json (else ~/.config/snapqueue/credentials.json;
  file mode 0600, directory 0700); every command then uses it, refreshing the access
  token as needed, until `snapqueue logout`. --token / SNAPQUEUE_TOKEN (an access token)
  take precedence over the stored sign-in.

environment:
  SNAPQUEUE_API_URL   default for --api-url (else http://127.0.0.1:8000)
  SNAPQUEUE_WS_URL    default for --ws-url (else derived from the API URL)
  SNAPQUEUE_TOKEN     default for --token (an access token)
  SNAPQUEUE_PASSWORD  the password for login and signup (else stdin, else a prompt)
  XDG_CONFIG_HOME     where the credentials file is kept (else ~/.config)

exit codes:
  0  everything succeeded
  1  an image failed, was refused by the API, or did not finish in time
  2  usage error (bad arguments, no such file, no image files found)
  3  API or network error (unreachable service, 5xx, unknown image id)
  4  not signed in, or the sign-in was refused (wrong password, expired session)
"""


class UsageError(Exception):
    """Bad arguments found after parsing (a path that does not exist)."""


def build_parser() -> argparse.ArgumentParser:
    # The shared options are accepted before or after the sub-command; SUPPRESS keeps a
    # sub-command's unset copy from overwriting the value given before it.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--api-url", default=argparse.SUPPRESS, help="the upload-service URL")
    shared.add_argument("--ws-url", default=argparse.SUPPRESS, help="the notifier's ws:// URL")
    shared.add_argument(
        "--token", default=argparse.SUPPRESS, help="access token (overrides the stored sign-in)"
    )
    shared.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )

    parser = argparse.ArgumentParser(
        prog="snapqueue",
        description="Upload images to SnapQueue, follow their processing, list and fetch them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--api-url",
        default=os.environ.get("SNAPQUEUE_API_URL", DEFAULT_API_URL),
        help="the upload-service URL (env SNAPQUEUE_API_URL; default %(default)s)",
    )
    parser.add_argument(
        "--ws-url",
        default=os.environ.get("SNAPQUEUE_WS_URL"),
        help="the notifier's WebSocket URL (env SNAPQUEUE_WS_URL; default: derived from "
        "--api-url, port 8000 -> ws://HOST:8001/ws, otherwise /ws on the same origin)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("SNAPQUEUE_TOKEN") or None,
        help="an access token, sent as 'Authorization: Bearer TOKEN' instead of the stored "
        "sign-in and never refreshed (env SNAPQUEUE_TOKEN)",
    )
    parser.add_argument(
        "--json", action="store_true", default=False, help="print JSON (for scripts)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    upload = commands.add_parser(
        "upload",
        parents=[shared],
        help="upload files and folders, wait for the results",
        description="Upload image files; folders are searched recursively for files with an "
        f"image extension ({', '.join(sorted(IMAGE_TYPES))}). Files named explicitly are "
        "sent whatever their extension. Shows a progress bar per file and overall, then a "
        "table: file, imageId, status, size and variants or the error code.",
        epilog="exit codes: 0 all COMPLETED, 1 some failed/refused/timed out, "
        "3 API or network error",
    )
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or folder")
    upload.add_argument(
        "-c", "--concurrency", type=_positive, default=4, help="uploads at once (default 4)"
    )
    upload.add_argument(
        "--no-wait",
        action="store_true",
        help="return once the files are sent (status PENDING_UPLOAD/PROCESSING)",
    )
    _visibility_options(upload, required=False, text="new images are private unless --public")
    _timeout_option(upload, "per image: how long to wait for the result")

    status = commands.add_parser(
        "status",
        parents=[shared],
        help="an image's status",
        description="Print an image's status (GET /status). With --wait, wait until it is "
        "COMPLETED or FAILED and print the record.",
        epilog="exit codes: 0 found (COMPLETED or still going), 1 FAILED or timed out, "
        "3 unknown id or API error",
    )
    status.add_argument("image_id", metavar="ID")
    status.add_argument("--wait", action="store_true", help="wait for a terminal status")
    _timeout_option(status, "with --wait: how long to wait")

    ls = commands.add_parser(
        "ls",
        parents=[shared],
        help="list the public gallery, or your own images with --mine",
        description="List images, newest first: one page, or every page with --all. Without "
        "options: the public gallery (COMPLETED public images), signed in or not. --mine: "
        "your own images, private and public, in any status (--status narrows it). --owner "
        "ID: that user's images (admins only).",
    )
    whose = ls.add_mutually_exclusive_group()
    whose.add_argument("--mine", action="store_true", help="your own images (needs sign-in)")
    whose.add_argument("--owner", default=None, metavar="USER_ID", help="admins: a user's images")
    ls.add_argument("--limit", type=_positive, default=None, help="page size, 1..100 (API: 24)")
    ls.add_argument("--cursor", default=None, help="start at this page (a previous nextCursor)")
    ls.add_argument("--all", action="store_true", help="follow nextCursor to the last page")
    ls.add_argument(
        "--status",
        type=Status,
        choices=list(Status),
        default=None,
        help="with --mine: only images in this status",
    )

    get = commands.add_parser(
        "get",
        parents=[shared],
        help="show an image's record and download its variants",
        description="Print an image's record (GET /image); with --out, download its variants "
        "there as {imageId}-{variant}{ext}.",
        epilog="exit codes: 0 ok, 1 FAILED or not finished, 3 unknown id or API error",
    )
    get.add_argument("image_id", metavar="ID")
    get.add_argument("--out", type=Path, default=None, metavar="DIR", help="download here")
    get.add_argument("--wait", action="store_true", help="wait for the image to finish first")
    _timeout_option(get, "with --wait: how long to wait")

    rm = commands.add_parser(
        "rm",
        parents=[shared],
        help="delete images (yours; admins: any)",
        description="Delete images: the record, the original and every variant (DELETE "
        "/image). Stops at the first that cannot be deleted.",
        epilog="exit codes: 0 all deleted, 3 unknown id or API error, 4 not signed in",
    )
    rm.add_argument("image_ids", nargs="+", metavar="ID")

    share = commands.add_parser(
        "share",
        parents=[shared],
        help="make an image public or private",
        description="Set an image's visibility (PATCH /image): --public puts a COMPLETED "
        "image in the public gallery, --private takes it out. Prints the record.",
    )
    share.add_argument("image_id", metavar="ID")
    _visibility_options(share, required=True, text="who may see the image")

    login = commands.add_parser(
        "login",
        parents=[shared],
        help="sign in and store the credentials",
        description="Sign in (POST /auth/sign-in) and store the refresh token and e-mail for "
        "this API URL in the credentials file (see 'signing in' in snapqueue --help). The "
        "e-mail comes from --email, else a prompt; the password from SNAPQUEUE_PASSWORD, "
        "else the first line of stdin when it is not a terminal, else a hidden prompt.",
        epilog="exit codes: 0 signed in, 2 no e-mail or password given, 4 wrong e-mail or "
        "password, or the account is not confirmed yet",
    )
    login.add_argument("--email", default=None, help="the account's e-mail address")

    logout = commands.add_parser(
        "logout",
        parents=[shared],
        help="forget the stored credentials",
        description="Remove this API URL's sign-in from the credentials file (--all: every "
        "API's, and the file).",
    )
    logout.add_argument("--all", action="store_true", help="forget the sign-ins of every API")

    signup = commands.add_parser(
        "signup",
        parents=[shared],
        help="create an account (and sign in when it needs no confirmation)",
        description="Create an account (POST /auth/sign-up); e-mail and password as for "
        "login. When the account is confirmed at once (the development stack), it is also "
        "signed in and stored as by login; otherwise confirm it with the e-mailed code "
        "(snapqueue confirm), then log in.",
        epilog="exit codes: 0 created, 2 no e-mail or password given, 3 refused "
        "(invalid_password, invalid_email, user_exists)",
    )
    signup.add_argument("--email", default=None, help="the account's e-mail address")

    confirm = commands.add_parser(
        "confirm",
        parents=[shared],
        help="confirm a new account with the e-mailed code",
        description="Confirm a sign-up (POST /auth/confirm) with the code sent by e-mail.",
    )
    confirm.add_argument("code", metavar="CODE")
    confirm.add_argument("--email", required=True, help="the account's e-mail address")

    commands.add_parser(
        "me",
        parents=[shared],
        help="who you are signed in as",
        description="Print the signed-in user's id, e-mail and groups (GET /me).",
        epilog="exit codes: 0 signed in, 4 not signed in or the session expired",
    )
    return parser


def _visibility_options(parser: argparse.ArgumentParser, *, required: bool, text: str) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--public",
        dest="visibility",
        action="store_const",
        const=Visibility.PUBLIC,
        default=None,
        help=f"everyone may see it ({text})",
    )
    group.add_argument(
        "--private",
        dest="visibility",
        action="store_const",
        const=Visibility.PRIVATE,
        help="only you (and admins) may see it",
    )


def _timeout_option(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"{text} (default {DEFAULT_WAIT_SECONDS:g})",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# -- upload ----------------------------------------------------------------------------


@dataclass
class Result:
    path: Path
    size: int
    record: ImageRecord | None = None
    image_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    # "ok", "failed" (the image or the request was refused), "error" (API or network).
    outcome: str = "ok"
    # Not signed in (or the session expired): the command exits EXIT_AUTH, not as a failure.
    auth_failed: bool = False


def collect_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and is_image_filename(p.name))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {path}")
    if not files:
        raise UsageError("no image files found in " + ", ".join(map(str, paths)))
    return list(dict.fromkeys(files))


async def upload_all(
    client: AsyncSnapQueue, files: list[Path], args: argparse.Namespace
) -> list[Result]:
    results = [Result(path, path.stat().st_size) for path in files]
    gate = asyncio.Semaphore(args.concurrency)
    with render.UploadProgress(files, [r.size for r in results], enabled=not args.json) as bars:

        async def one(index: int, result: Result) -> None:
            async with gate:
                try:
                    result.record = await client.upload(
                        result.path,
                        on_progress=lambda sent, total: bars.sent(index, sent, total),
                        on_status=lambda status: bars.status(index, status.value),
                        wait=not args.no_wait,
                        timeout=args.timeout,
                        visibility=args.visibility,
                    )
                    result.image_id = result.record.image_id
                except UploadFailed as exc:
                    result.record, result.image_id = exc.record, exc.record.image_id
                    result.outcome, result.error_code = "failed", exc.code
                    result.error_message = exc.error_message
                except WaitTimeout as exc:
                    result.image_id = exc.image_id
                    result.outcome, result.error_code = "failed", "timeout"
                    result.error_message = str(exc)
                except ApiError as exc:
                    # Not signed in is no fault of the file: every other one fails the same.
                    result.auth_failed = isinstance(exc, AUTH_API_ERRORS)
                    refused = exc.status < 500 and not result.auth_failed
                    result.outcome = "failed" if refused else "error"
                    result.error_code, result.error_message = exc.code, exc.message
                except (SnapQueueError, OSError) as exc:
                    result.outcome, result.error_code = "error", type(exc).__name__
                    result.error_message = str(exc)
                bars.finished(index, result.record.status.value if result.record else "ERROR")

        await asyncio.gather(*(one(i, r) for i, r in enumerate(results)))
    return results


def upload_exit_code(results: Sequence[Result], waited: bool) -> int:
    if any(r.auth_failed for r in results):
        return EXIT_AUTH
    if any(r.outcome == "error" for r in results):
        return EXIT_API
    if any(r.outcome == "failed" for r in results):
        return EXIT_FAILED
    if waited and any(r.record is None or r.record.status is not Status.COMPLETED for r in results):
        return EXIT_FAILED
    return EXIT_OK


# -- signing in ------------------------------------------------------------------------


def read_email(args: argparse.Namespace) -> str:
    if args.email:
        return str(args.email).strip()
    if not sys.stdin.isatty():
        raise UsageError("--email is required when stdin is not a terminal")
    sys.stderr.write("e-mail: ")
    sys.stderr.flush()
    email = sys.stdin.readline().strip()
    if not email:
        raise UsageError("no e-mail address given")
    return email


def read_password(*, confirm: bool = False) -> str:
    """``SNAPQUEUE_PASSWORD``, else stdin's first line when piped, else a hidden prompt."""
    from_env = os.environ.get("SNAPQUEUE_PASSWORD")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        # Only the line break goes: spaces may belong to the password.
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("no password on stdin (or set SNAPQUEUE_PASSWORD)")
        return password
    password = getpass.getpass("password: ")
    if not password:
        raise UsageError("no password given")
    if confirm and getpass.getpass("password again: ") != password:
        raise UsageError("the passwords differ")
    return password


def collect_secrets(args: argparse.Namespace) -> None:
    """Ask for what login and signup need before the event loop starts (prompts block)."""
    if args.command in ("login", "signup"):
        args.email = read_email(args)
        args.password = read_password(confirm=args.command == "signup")


class Session:
    """The credentials a command runs with: ``--token``, else the stored sign-in."""

    def __init__(self, args: argparse.Namespace, store: CredentialStore) -> None:
        self.api_url = args.api_url
        self.store = store
        self.token: str | None = args.token
        self.login: StoredLogin | None = None
        if self.token is None and args.command not in ("login", "signup", "logout", "confirm"):
            self.login = store.get(self.api_url)

    def client(self, args: argparse.Namespace) -> AsyncSnapQueue:
        if self.token is not None:
            return AsyncSnapQueue(self.api_url, args.ws_url, token=self.token)
        if self.login is None:
            return AsyncSnapQueue(self.api_url, args.ws_url, on_tokens=self.save)
        tokens = self.login.tokens()
        return AsyncSnapQueue(
            self.api_url,
            args.ws_url,
            tokens=tokens,
            refresh_token=None if tokens else self.login.refresh_token,
            on_tokens=self.save,
        )

    def save(self, tokens: Tokens) -> None:
        """Keep the refreshed access token (and a rotated refresh token) for the next run."""
        if self.login is None:
            return  # login stores its own, with the e-mail
        self.login = self.login.updated(tokens)
        try:
            self.store.put(self.api_url, self.login)
        except OSError as exc:
            # The command can go on; the next one just refreshes again.
            render.warning(f"could not update {self.store.path}: {exc}")

    def signed_in(self, tokens: Tokens, email: str) -> StoredLogin:
        self.login = StoredLogin.of(tokens, email)
        self.store.put(self.api_url, self.login)
        return self.login


# -- commands --------------------------------------------------------------------------


async def run(args: argparse.Namespace, store: CredentialStore | None = None) -> int:
    store = store or CredentialStore()
    if args.command == "logout":
        removed = store.clear() if args.all else store.remove(args.api_url)
        render.signed_out(args.api_url, store.path, removed, every=args.all, as_json=args.json)
        return EXIT_OK
    session = Session(args, store)
    async with session.client(args) as client:
        if args.command in ("login", "signup"):
            if args.command == "signup":
                created = await client.sign_up(args.email, args.password)
                if not created.confirmed:
                    render.signed_up(created, args.email, as_json=args.json)
                    return EXIT_OK
            tokens = await client.sign_in(args.email, args.password)
            session.signed_in(tokens, args.email)
            render.signed_in(args.email, store.path, tokens, as_json=args.json)
            return EXIT_OK
        if args.command == "confirm":
            await client.confirm(args.email, args.code)
            render.confirmed(args.email, as_json=args.json)
            return EXIT_OK
        if args.command == "me":
            render.me(await client.me(), as_json=args.json)
            return EXIT_OK
        if args.command == "rm":
            deleted: list[str] = []
            for image_id in args.image_ids:
                await client.delete(image_id)
                deleted.append(image_id)
            render.deleted(deleted, as_json=args.json)
            return EXIT_OK
        if args.command == "share":
            record = await client.set_visibility(args.image_id, args.visibility)
            render.record(record, as_json=args.json)
            return EXIT_OK
        if args.command == "upload":
            files = collect_files(args.paths)
            results = await upload_all(client, files, args)
            render.upload_results(results, as_json=args.json)
            return upload_exit_code(results, waited=not args.no_wait)
        if args.command == "status":
            if not args.wait:
                info = await client.status(args.image_id)
                render.status(info, as_json=args.json)
                return EXIT_FAILED if info.status is Status.FAILED else EXIT_OK
            record = await _wait_record(client, args.image_id, args.timeout)
            render.record(record, as_json=args.json)
            return EXIT_FAILED if record.status is Status.FAILED else EXIT_OK
        if args.command == "ls":
            await list_images(client, args)
            return EXIT_OK
        if args.command == "get":
            if args.wait:
                record = await _wait_record(client, args.image_id, args.timeout)
            else:
                record = await client.get(args.image_id)
            if args.out is None or record.status is not Status.COMPLETED:
                render.record(record, as_json=args.json)
                return EXIT_OK if record.status is Status.COMPLETED else EXIT_FAILED
            saved = await client.download_variants(record, args.out)
            render.downloaded(record, saved, as_json=args.json)
            return EXIT_OK
    raise UsageError(f"unknown command {args.command!r}")


async def list_images(client: AsyncSnapQueue, args: argparse.Namespace) -> None:
    if args.status is not None and not args.mine:
        raise UsageError("--status goes with --mine")
    items: list[ImageRecord] = []
    cursor: str | None = args.cursor
    while True:
        if args.mine:
            page = await client.my_images(args.limit, cursor, args.status)
        elif args.owner is not None:
            page = await client.admin_images(args.owner, args.limit, cursor)
        else:
            page = await client.list(args.limit, cursor)
        items += page.items
        cursor = page.next_cursor
        if not args.all or cursor is None:
            break
    render.listing(items, cursor, as_json=args.json)


async def _wait_record(client: AsyncSnapQueue, image_id: str, within: float) -> ImageRecord:
    try:
        return await client.wait(image_id, within)
    except UploadFailed as exc:
        return exc.record


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        collect_secrets(args)
        return asyncio.run(run(args))
    except UsageError as exc:
        render.failure("usage_error", str(exc), as_json=args.json)
        return EXIT_USAGE
    except CredentialsError as exc:
        render.failure("credentials_error", str(exc), as_json=args.json)
        return EXIT_USAGE
    except NotSignedIn as exc:
        render.failure("not_signed_in", f"{exc} (snapqueue login)", as_json=args.json)
        return EXIT_AUTH
    except AUTH_API_ERRORS as exc:
        hint = " (snapqueue login)" if isinstance(exc, Unauthenticated) else ""
        render.failure(exc.code, exc.message + hint, as_json=args.json, status=exc.status)
        return EXIT_AUTH
    except WaitTimeout as exc:
        render.failure("timeout", str(exc), as_json=args.json)
        return EXIT_FAILED
    except ApiError as exc:
        render.failure(exc.code, exc.message, as_json=args.json, status=exc.status)
        return EXIT_API
    except NetworkError as exc:
        render.failure("network_error", str(exc), as_json=args.json)
        return EXIT_API
    except SnapQueueError as exc:
        render.failure("client_error", str(exc), as_json=args.json)
        return EXIT_API
    except KeyboardInterrupt:
        render.failure("interrupted", "interrupted", as_json=args.json)
        return 130


if __name__ == "__main__":
    sys.exit(main())
