"""What the CLI prints: rich tables and progress bars for people, JSON for scripts.

Progress goes to stderr, results to stdout, so ``snapqueue upload DIR --json > out.json``
keeps a clean document.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from snapqueue_client.models import ImageRecord, Me, SignUpResult, StatusInfo, Tokens

if TYPE_CHECKING:
    from snapqueue_client.cli import Result

out = Console(highlight=False, soft_wrap=False)
if not out.is_terminal and "COLUMNS" not in os.environ:
    # Piped to a file or a test: 80 columns would fold image ids and error codes.
    out.width = 160
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _record_json(record: ImageRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", by_alias=True)


class UploadProgress:
    """One bytes bar per file, and an overall one: all bytes, and how many files finished."""

    def __init__(self, files: Sequence[Path], sizes: Sequence[int], *, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not enabled or not err.is_terminal,
            transient=False,
        )
        self.names = [_short(path.name) for path in files]
        self.count = len(files)
        self.done = 0
        self.sent_so_far = [0] * len(files)
        self.overall = self.progress.add_task(self._overall_text(), total=sum(sizes))
        self.tasks: list[TaskID] = [
            self.progress.add_task(name, total=size, start=False)
            for name, size in zip(self.names, sizes, strict=True)
        ]

    def _overall_text(self) -> str:
        return f"all: {self.done}/{self.count} finished"

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def sent(self, index: int, sent: int, total: int) -> None:
        task = self.tasks[index]
        self.progress.start_task(task)
        self.progress.update(task, completed=sent, total=total)
        self.progress.advance(self.overall, sent - self.sent_so_far[index])
        self.sent_so_far[index] = sent

    def status(self, index: int, status: str) -> None:
        self.progress.update(self.tasks[index], description=f"{self.names[index]} {status}")

    def finished(self, index: int, status: str) -> None:
        self.status(index, status)
        self.done += 1
        self.progress.update(self.overall, description=self._overall_text())


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def _variants(record: ImageRecord) -> str:
    return ", ".join(f"{name} {v.width}×{v.height}" for name, v in sorted(record.variants.items()))


def upload_results(results: Sequence[Result], *, as_json: bool) -> None:
    if as_json:
        _print_json(
            {
                "results": [
                    {
                        "file": str(r.path),
                        "size": r.size,
                        "imageId": r.image_id,
                        "status": r.record.status.value if r.record else None,
                        "outcome": r.outcome,
                        "error": (
                            {"code": r.error_code, "message": r.error_message}
                            if r.error_code
                            else None
                        ),
                        "record": _record_json(r.record) if r.record else None,
                    }
                    for r in results
                ],
                "completed": sum(1 for r in results if r.outcome == "ok"),
                "failed": sum(1 for r in results if r.outcome != "ok"),
            }
        )
        return
    table = Table(title=f"{len(results)} file(s)")
    table.add_column("file", overflow="fold")
    table.add_column("imageId", no_wrap=True)
    table.add_column("status")
    table.add_column("size", justify="right")
    table.add_column("variants / error", overflow="fold")
    for r in results:
        status = r.record.status.value if r.record else "ERROR"
        detail = r.error_code or ""
        if r.record is not None and not detail:
            detail = _variants(r.record)
        style = "green" if r.outcome == "ok" else "red"
        table.add_row(
            str(r.path), r.image_id or "-", f"[{style}]{status}[/]", _size(r.size), detail
        )
    out.print(table)


def status(info: StatusInfo, *, as_json: bool) -> None:
    if as_json:
        _print_json(info.model_dump(mode="json", by_alias=True))
        return
    out.print(f"{info.image_id} {info.status.value} {info.updated_at or ''}".rstrip())


def record(item: ImageRecord, *, as_json: bool) -> None:
    if as_json:
        _print_json(_record_json(item))
        return
    table = Table(show_header=False, title=item.image_id)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    table.add_row("status", item.status.value)
    if item.visibility is not None:
        table.add_row("visibility", item.visibility.value)
    if item.owner_id is not None:
        table.add_row("owner", item.owner_id)
    table.add_row("file", item.original_filename or "")
    table.add_row("type", item.content_type or "")
    table.add_row("uploaded", item.upload_timestamp or "")
    table.add_row("updated", item.updated_at or "")
    if item.metadata:
        table.add_row("metadata", json.dumps(item.metadata, ensure_ascii=False))
    for name, variant in sorted(item.variants.items()):
        table.add_row(name, f"{variant.width}×{variant.height} {_size(variant.bytes)}")
    if item.error is not None:
        table.add_row("error", f"{item.error.code}: {item.error.message}")
    out.print(table)


def listing(items: Sequence[ImageRecord], next_cursor: str | None, *, as_json: bool) -> None:
    if as_json:
        _print_json({"items": [_record_json(i) for i in items], "nextCursor": next_cursor})
        return
    table = Table(title=f"{len(items)} image(s)")
    table.add_column("imageId", no_wrap=True)
    table.add_column("file", overflow="fold")
    table.add_column("status")
    table.add_column("visibility")
    table.add_column("updated")
    table.add_column("variants", overflow="fold")
    for item in items:
        table.add_row(
            item.image_id,
            item.original_filename or "",
            item.status.value,
            item.visibility.value if item.visibility else "",
            item.updated_at or "",
            _variants(item),
        )
    out.print(table)
    if next_cursor:
        out.print(f"more: --cursor {next_cursor}")


def downloaded(item: ImageRecord, files: dict[str, Path], *, as_json: bool) -> None:
    if as_json:
        _print_json({"record": _record_json(item), "files": {k: str(v) for k, v in files.items()}})
        return
    table = Table(title=f"{item.image_id} ({item.original_filename or ''})")
    table.add_column("variant")
    table.add_column("size", justify="right")
    table.add_column("bytes", justify="right")
    table.add_column("saved as", overflow="fold")
    for name, path in sorted(files.items()):
        variant = item.variants[name]
        table.add_row(name, f"{variant.width}×{variant.height}", _size(variant.bytes), str(path))
    out.print(table)


def failure(code: str, message: str, *, as_json: bool, status: int | None = None) -> None:
    if as_json:
        body: dict[str, Any] = {"error": code, "message": message}
        if status is not None:
            body["status"] = status
        _print_json(body)
        return
    where = f" ({status})" if status is not None else ""
    err.print(f"[red]error{where}[/]: {code}: {message}", markup=True, highlight=False)


# -- accounts ----------------------------------------------------------------------------


def _say(text: str, body: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        _print_json(body)
    else:
        out.print(text, markup=False)


def warning(text: str) -> None:
    err.print(f"[yellow]warning[/]: {text}", markup=True, highlight=False)


def signed_in(email: str, path: Path, tokens: Tokens, *, as_json: bool) -> None:
    # The tokens themselves are never printed: they stay in the owner-only file.
    _say(
        f"signed in as {email} (credentials in {path})",
        {"email": email, "credentials": str(path), "expiresAt": tokens.expires_at},
        as_json=as_json,
    )


def signed_up(created: SignUpResult, email: str, *, as_json: bool) -> None:
    _say(
        f"account {email} created ({created.user_id}); confirm it with the e-mailed code: "
        f"snapqueue confirm --email {email} CODE",
        {"userId": created.user_id, "email": email, "confirmed": created.confirmed},
        as_json=as_json,
    )


def confirmed(email: str, *, as_json: bool) -> None:
    _say(
        f"{email} confirmed; now: snapqueue login --email {email}",
        {"email": email, "confirmed": True},
        as_json=as_json,
    )


def signed_out(api_url: str, path: Path, removed: bool, *, every: bool, as_json: bool) -> None:
    where = "every API" if every else api_url
    text = f"signed out of {where}" if removed else f"not signed in to {where}"
    _say(text, {"signedOut": removed, "credentials": str(path)}, as_json=as_json)


def me(user: Me, *, as_json: bool) -> None:
    _say(
        f"{user.user_id} {user.email or ''} groups: {', '.join(user.groups) or '-'}",
        user.model_dump(mode="json", by_alias=True),
        as_json=as_json,
    )


def deleted(image_ids: Sequence[str], *, as_json: bool) -> None:
    _say(
        "\n".join(f"deleted {image_id}" for image_id in image_ids),
        {"deleted": list(image_ids)},
        as_json=as_json,
    )
