"""A PostgreSQL schema of its own for one test (the machine's real server, trust auth, database `test`).

Each schema has a random name and is dropped afterwards, so parallel runs never meet. The vault's tables land in
it through the URL's search_path option, exactly as a deployment would choose a schema.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import urllib.parse
from collections.abc import Iterator

import psycopg

SERVER = os.environ.get("DARIO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def schema_url(schema: str) -> str:
    return f"{SERVER}?options={urllib.parse.quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def fresh_schema(stem: str = "vault") -> Iterator[str]:
    """Yields the URL of a new, empty schema; drops it (and everything in it) at the end."""
    schema = f"test_{stem}_{secrets.token_hex(6)}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema_url(schema)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
