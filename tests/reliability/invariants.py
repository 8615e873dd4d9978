"""The invariants every reliability run must keep, checked against the stack's real resources.

:func:`pipeline_problems` returns a list of human-readable violations (empty when all hold),
so a failing test says exactly which image broke which rule.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from snapqueue_core.schemas import VARIANT_NAMES, ImageRecord
from tests.reliability.harness import (
    TERMINAL_STATUSES,
    Inspector,
    WsPool,
    wait_records_terminal,
)

VARIANT_KEY = re.compile(r"^processed/([0-9a-f]{32})/([a-z]+)\.([a-z0-9]+)$")
TYPE_FOR_STATUS = {"COMPLETED": "imageProcessed", "FAILED": "imageFailed"}


def record_problems(records: dict[str, ImageRecord | None]) -> list[str]:
    problems = []
    for image_id, record in sorted(records.items()):
        if record is None:
            problems.append(f"{image_id}: no record")
        elif record.status.value not in TERMINAL_STATUSES:
            problems.append(f"{image_id}: left {record.status.value}")
        elif record.status.value == "COMPLETED" and set(record.variants) != set(VARIANT_NAMES):
            problems.append(f"{image_id}: COMPLETED with variants {sorted(record.variants)}")
        elif record.status.value == "FAILED" and (
            record.error is None or not record.error.code or not record.error.message
        ):
            problems.append(f"{image_id}: FAILED without a code and message")
    return problems


def delivery_problems(pool: WsPool, records: dict[str, ImageRecord | None]) -> list[str]:
    """Each registered client got its terminal event; every copy agrees with the record."""
    problems = []
    for image_id, record in sorted(records.items()):
        seen = pool.terminal.get(image_id, [])
        for owner in sorted(pool.owners.get(image_id, frozenset()) - pool.seen_by(image_id)):
            problems.append(f"{image_id}: client {owner} never got a terminal event")
        if record is None or record.status.value not in TYPE_FOR_STATUS:
            continue
        expected = TYPE_FOR_STATUS[record.status.value]
        wrong = sorted({kind for _, kind, _ in seen if kind != expected})
        if wrong:
            problems.append(f"{image_id}: record {record.status.value} but clients saw {wrong}")
    return problems


def variant_problems(
    records: dict[str, ImageRecord | None], keys: Iterable[str], *, owned: bool
) -> list[str]:
    """Exactly one variant set per COMPLETED image, under the fixed key names.

    ``owned``: the run owns the processed bucket, so a key of any other image is extra.
    """
    by_image: dict[str, list[str]] = defaultdict(list)
    problems = []
    for key in keys:
        match = VARIANT_KEY.match(key)
        if match is None:
            problems.append(f"unexpected key in processed bucket: {key}")
            continue
        by_image[match.group(1)].append(key)
    for image_id, image_keys in sorted(by_image.items()):
        if image_id not in records:
            if owned:
                problems.append(f"{image_id}: variants of an image nobody uploaded: {image_keys}")
            continue
        record = records[image_id]
        if record is None or record.status.value != "COMPLETED":
            status = record.status.value if record else "no record"
            problems.append(f"{image_id}: {status} but has variants {sorted(image_keys)}")
            continue
        names = [VARIANT_KEY.match(k).group(2) for k in image_keys]  # type: ignore[union-attr]
        if sorted(names) != sorted(VARIANT_NAMES):
            problems.append(f"{image_id}: variant keys {sorted(image_keys)}")
        recorded = {v.key for v in record.variants.values()}
        if recorded != set(image_keys):
            problems.append(
                f"{image_id}: record names {sorted(recorded)}, bucket holds {sorted(image_keys)}"
            )
    for image_id, record in sorted(records.items()):
        if record is not None and record.status.value == "COMPLETED" and image_id not in by_image:
            problems.append(f"{image_id}: COMPLETED but no variant in the bucket")
    return problems


async def pipeline_problems(
    inspector: Inspector,
    pool: WsPool | None,
    image_ids: Iterable[str],
    *,
    owned_bucket: bool = True,
    records: dict[str, ImageRecord | None] | None = None,
) -> list[str]:
    """Every invariant of a run: records, deliveries, variants, the dead-letter queue."""
    ids = list(image_ids)
    if records is None:
        records = await inspector.records(ids)
    problems = record_problems(records)
    if pool is not None:
        problems += delivery_problems(pool, records)
        problems += [f"protocol: {p}" for p in pool.protocol_errors]
    problems += variant_problems(records, await inspector.processed_keys(), owned=owned_bucket)
    depth = await inspector.dlq_depth()
    if depth:
        problems.append(f"dead-letter queue holds {depth} message(s)")
    return problems


@dataclass(frozen=True)
class Settled:
    """How a run ended: clients still waiting, the records, every broken invariant."""

    missing: set[str]
    records: dict[str, ImageRecord | None]
    problems: list[str]

    @property
    def statuses(self) -> Counter[str]:
        return Counter(r.status.value if r else "MISSING" for r in self.records.values())


async def settle(
    inspector: Inspector,
    pool: WsPool,
    image_ids: Iterable[str],
    *,
    events_within: float,
    records_within: float = 15,
) -> Settled:
    """Wait for every client's terminal event and every terminal record, then check the
    invariants (on a bucket other runs share, so only these images' variants count)."""
    ids = list(image_ids)
    missing = await pool.wait_terminal(ids, within=events_within)
    records = await wait_records_terminal(inspector, ids, within=records_within)
    problems = await pipeline_problems(inspector, pool, ids, records=records, owned_bucket=False)
    return Settled(missing, records, problems)


def summarize(problems: list[str], limit: int = 30) -> str:
    shown = problems[:limit]
    more = f"\n… and {len(problems) - limit} more" if len(problems) > limit else ""
    return "\n".join(shown) + more
