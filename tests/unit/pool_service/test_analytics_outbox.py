"""The analytics writer's outbox (issue 15): filled in the rows' transaction only when a forwarder ships them."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3

from pool_service.analytics import AnalyticsStore
from pool_service.migrations import OUTBOX_TABLE


def outbox(path: pathlib.Path) -> list[str]:
    with sqlite3.connect(path) as database:
        return [request_id for (request_id,) in database.execute(f"select request_id from {OUTBOX_TABLE} "
                                                                  "order by rowid")]


def test_rows_go_to_the_outbox_and_wake_the_forwarder_only_when_asked(tmp_path: pathlib.Path) -> None:
    woken: list[None] = []
    shipping = AnalyticsStore(tmp_path / "shipping.db", retention_days=None, outbox=True,
                              on_written=lambda: woken.append(None))
    local = AnalyticsStore(tmp_path / "local.db", retention_days=None)
    rows = [{"request_id": f"r{index}", "started_at": 1.0, "status": 200} for index in range(3)]
    try:
        for store in (shipping, local):
            asyncio.run(store.write(rows))
            asyncio.run(store.write(rows[:1]))  # sent again: one row, one outbox entry
    finally:
        shipping.close()
        local.close()
    assert outbox(tmp_path / "shipping.db") == ["r0", "r1", "r2"]
    assert outbox(tmp_path / "local.db") == [], "without a cluster nothing waits to be shipped"
    assert len(woken) == 2
    assert shipping.totals().requests == local.totals().requests == 3
