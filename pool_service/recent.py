"""The dashboard's latest requests (issue 14): recorded rows, newest first, filtered and paged in SQL (LIMIT /
OFFSET over the started_at index). Analytics rows hold no body and no secret; only named columns are read."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from pool_service.readonly import Database, columns, reading

TABLE = "requests"
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000
# What the table shows, in order; attribution columns (client, session, project, tags) once recorded.
SHOWN = ("request_id", "started_at", "api_format", "backend", "credential", "model", "served_model", "status",
         "error_type", "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cache_read_tokens",
         "cache_write_tokens", "reasoning_tokens", "cost_usd", "stream", "attempts", "failover", "fallback_from",
         "queued_ms", "client", "session", "project", "tags")
# Filters: equality on a column; model matches the model asked for or the one served.
FILTERS = ("backend", "model", "status", "client", "session", "project")


class RecentError(ValueError):
    """A page the query cannot give (a filter on a column this database does not record, a bad bound)."""


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int  # rows matching the filters


def recent(database: Database, filters: dict[str, str | int], limit: int = 50, offset: int = 0) -> Page:
    """The page of rows matching filters (the FILTERS given and not empty), newest first."""
    if not 0 < limit <= MAX_LIMIT:
        raise RecentError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise RecentError(f"offset must be between 0 and {MAX_OFFSET}, got {offset}")
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise RecentError(f"requests can be filtered by {', '.join(FILTERS)}, not {', '.join(sorted(unknown))}")
    with reading(database) as connection:
        if connection is None:
            return Page([], 0)
        present = columns(connection, TABLE)
        conditions, parameters = _where(filters, present)
        where = f" where {' and '.join(conditions)}" if conditions else ""
        shown = [name for name in SHOWN if name in present]
        query = (f"select {', '.join(shown)} from {TABLE}{where} order by started_at desc, request_id desc "
                 "limit ? offset ?")
        connection.row_factory = sqlite3.Row
        try:
            rows = [dict(row) for row in connection.execute(query, [*parameters, limit, offset])]
            total = connection.execute(f"select count(*) from {TABLE}{where}", parameters).fetchone()[0]
        finally:
            connection.row_factory = None
    return Page(rows, total)


def _where(filters: dict[str, str | int], present: set[str]) -> tuple[list[str], list[str | int]]:
    conditions: list[str] = []
    parameters: list[str | int] = []
    for name in FILTERS:
        value = filters.get(name)
        if value in (None, "", 0):
            continue
        if name not in present:
            raise RecentError(f"this analytics database records no {name} yet, so requests cannot be filtered by it")
        if name == "model":
            conditions.append("(model = ? or served_model = ?)")
            parameters += [value, value]
        else:
            conditions.append(f"{name} = ?")
            parameters.append(value)
    return conditions, parameters
