"""``snapqueue``: upload, inspect and fetch images from the command line (docs/client.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from snapqueue_client import render
from snapqueue_client.client import DEFAULT_WAIT_SECONDS, AsyncSnapQueue
from snapqueue_client.content_types import IMAGE_TYPES, is_image_filename
from snapqueue_client.errors import (
    ApiError,
    NetworkError,
    SnapQueueError,
    UploadFailed,
    WaitTimeout,
)
from snapqueue_client.models import ImageRecord, Status
from snapqueue_client.version import __version__

DEFAULT_API_URL = "http://127.0.0.1:8000"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_API = 3

EPILOG = """\
environment:
  SNAPQUEUE_API_URL   default for --api-url (else http://127.0.0.1:8000)
  SNAPQUEUE_WS_URL    default for --ws-url (else derived from the API URL)
  SNAPQUEUE_TOKEN     default for --token

exit codes:
  0  everything succeeded
  1  an image failed, was refused by the API, or did not finish in time
  2  usage error (bad arguments, no such file, no image files found)
  3  API or network error (unreachable service, 5xx, unknown image id)
"""


class UsageError(Exception):
    """Bad arguments found after parsing (a path that does not exist)."""


def build_parser() -> argparse.ArgumentParser:
    # The shared options are accepted before or after the sub-command; SUPPRESS keeps a
    # sub-command's unset copy from overwriting the value given before it.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--api-url", default=argparse.SUPPRESS, help="the upload-service URL")
    shared.add_argument("--ws-url", default=argparse.SUPPRESS, help="the notifier's ws:// URL")
    shared.add_argument("--token", default=argparse.SUPPRESS, help="bearer token for the API")
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
        default=os.environ.get("SNAPQUEUE_TOKEN"),
        help="sent as 'Authorization: Bearer TOKEN' (env SNAPQUEUE_TOKEN)",
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
        help="list the gallery (COMPLETED images, newest first)",
        description="List gallery images, newest first: one page, or every page with --all.",
    )
    ls.add_argument("--limit", type=_positive, default=None, help="page size, 1..100 (API: 24)")
    ls.add_argument("--cursor", default=None, help="start at this page (a previous nextCursor)")
    ls.add_argument("--all", action="store_true", help="follow nextCursor to the last page")

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
    return parser


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
                    result.outcome = "error" if exc.status >= 500 else "failed"
                    result.error_code, result.error_message = exc.code, exc.message
                except (SnapQueueError, OSError) as exc:
                    result.outcome, result.error_code = "error", type(exc).__name__
                    result.error_message = str(exc)
                bars.finished(index, result.record.status.value if result.record else "ERROR")

        await asyncio.gather(*(one(i, r) for i, r in enumerate(results)))
    return results


def upload_exit_code(results: Sequence[Result], waited: bool) -> int:
    if any(r.outcome == "error" for r in results):
        return EXIT_API
    if any(r.outcome == "failed" for r in results):
        return EXIT_FAILED
    if waited and any(r.record is None or r.record.status is not Status.COMPLETED for r in results):
        return EXIT_FAILED
    return EXIT_OK


# -- commands --------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    async with AsyncSnapQueue(args.api_url, args.ws_url, token=args.token) as client:
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
            if args.all:
                items = [item async for item in client.iter_images(args.limit)]
                render.listing(items, None, as_json=args.json)
            else:
                page = await client.list(args.limit, args.cursor)
                render.listing(page.items, page.next_cursor, as_json=args.json)
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


async def _wait_record(client: AsyncSnapQueue, image_id: str, within: float) -> ImageRecord:
    try:
        return await client.wait(image_id, within)
    except UploadFailed as exc:
        return exc.record


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except UsageError as exc:
        render.failure("usage_error", str(exc), as_json=args.json)
        return EXIT_USAGE
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
