"""Load: N uploads at concurrency C through the whole stack; 0 lost, 0 5xx, figures recorded.

Modest: 100 uploads at concurrency 20. ``--full``: 500 at concurrency 50.
"""

from __future__ import annotations

import pytest

from devstack.stack import Stack
from tests.reliability.figures import RssSampler, run_figures, write_figures
from tests.reliability.harness import (
    ALLOWED_ORIGIN,
    SERVICES,
    Inspector,
    WsPool,
    jpeg_items,
    pool_size,
    run_uploads,
    tails,
)
from tests.reliability.invariants import settle, summarize


@pytest.mark.timeout(900)
async def test_load_loses_nothing_and_records_figures(stack: Stack, full_size: bool) -> None:
    uploads, concurrency = (500, 50) if full_size else (100, 20)
    items = jpeg_items(uploads)
    async with (
        Inspector(stack) as inspector,
        WsPool(stack.ws_url, pool_size(uploads), origin=ALLOWED_ORIGIN) as pool,
        RssSampler(stack, SERVICES) as rss,
    ):
        run = await run_uploads(stack.url("upload"), pool, items, concurrency)
        assert not run.failures(), [o.error for o in run.failures()][:10]
        settled = await settle(
            inspector,
            pool,
            run.image_ids,
            events_within=120 if not full_size else 400,
            records_within=10,
        )

    statuses = settled.statuses
    figures = run_figures(
        "load",
        run,
        pool,
        dict(statuses),
        full=full_size,
        concurrency=concurrency,
        rss=rss,
    )
    write_figures(figures)

    assert run.server_errors == 0, run.statuses
    assert not settled.missing, (
        f"{len(settled.missing)} terminal events never arrived\n{tails(stack)}"
    )
    assert not settled.problems, summarize(settled.problems) + "\n" + tails(stack)
    assert statuses == {"COMPLETED": uploads}, statuses
