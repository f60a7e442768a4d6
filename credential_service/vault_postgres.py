"""The vault in PostgreSQL ([cluster] postgres, issue 15 item 3): a Storage for Vault shared by several hosts.

Tables (created by MIGRATIONS, recorded in dario_vault_migrations) live in the first schema of the connection's
search_path. Non-secret fields are plain columns/JSON; each credential's secrets (key or access token, refresh
token, client secret) are one value sealed by sealing.py, bound to its backend and credential name. Every write
is one transaction: the state row is locked (SELECT … FOR UPDATE, so writers on all hosts take turns), the rows
are rewritten, and the revision moves by compare-and-swap (UPDATE … WHERE revision = old); then a NOTIFY on
CHANNEL tells the other hosts to reload.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from credential_service.sealing import Sealer
from credential_service.vault import Corrupt, Credential, Stale, StoredBackend, VaultError

CHANNEL = "dario_vault"
SECRET_FIELDS = ("secret", "refresh_token", "client_secret")
MIGRATION_LOCK = 0x6461_7269_6f76  # pg_advisory_xact_lock key: one host migrates at a time
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
        CREATE TABLE dario_vault_state (
            id integer PRIMARY KEY CHECK (id = 1),
            revision bigint NOT NULL
        );
        INSERT INTO dario_vault_state (id, revision) VALUES (1, 0);
        CREATE TABLE dario_vault_backends (
            name text PRIMARY KEY,
            position integer NOT NULL,
            kind text NOT NULL,
            base_url text NOT NULL,
            created_at double precision NOT NULL
        );
        CREATE TABLE dario_vault_credentials (
            backend text NOT NULL REFERENCES dario_vault_backends (name) ON DELETE CASCADE,
            name text NOT NULL,
            position integer NOT NULL,
            fields jsonb NOT NULL,
            sealed bytea NOT NULL,
            PRIMARY KEY (backend, name)
        );
    """),
)

Row = tuple[Any, ...]
Returned = TypeVar("Returned")


class Unreachable(VaultError):
    """PostgreSQL did not answer (the message names the error type, never the URL's password)."""


def migrate(connection: psycopg.Connection[Row]) -> list[int]:
    """Applies the migrations not yet recorded, in one transaction; returns the versions applied."""
    applied: list[int] = []
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        connection.execute("CREATE TABLE IF NOT EXISTS dario_vault_migrations ("
                           "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        done = {row[0] for row in connection.execute("SELECT version FROM dario_vault_migrations").fetchall()}
        for version, statements in MIGRATIONS:
            if version in done:
                continue
            connection.execute(statements.encode())  # several statements: sent as one simple query
            connection.execute("INSERT INTO dario_vault_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied


def connect(url: str) -> psycopg.Connection[Row]:
    try:
        return psycopg.connect(url, connect_timeout=10, autocommit=True)  # transactions are explicit
    except psycopg.Error as error:
        raise Unreachable(f"PostgreSQL for the vault does not answer ({type(error).__name__})") from None


class PostgresStorage:
    """One connection, used by one thread at a time; reconnects when the previous connection broke."""

    def __init__(self, url: str, sealer: Sealer) -> None:
        self.url = url
        self.sealer = sealer
        self._lock = threading.RLock()
        self._connection: psycopg.Connection[Row] | None = None
        self._through = threading.local()  # a RefreshLock's connection, while its write runs on this thread
        with self._lock:
            try:
                migrate(self._connect())
            except psycopg.Error as error:
                problem = type(error).__name__
                raise Unreachable(f"the vault's tables in PostgreSQL cannot be set up ({problem})") from None

    def __repr__(self) -> str:
        return "PostgresStorage(<url hidden>)"

    def _connect(self) -> psycopg.Connection[Row]:
        if self._connection is None or self._connection.closed or self._connection.broken:
            self._connection = connect(self.url)
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _current(self) -> psycopg.Connection[Row]:
        through: psycopg.Connection[Row] | None = getattr(self._through, "connection", None)
        return through if through is not None else self._connect()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Row]]:
        """A transaction on the storage's connection, or a savepoint in a RefreshLock's transaction."""
        with self._lock:
            connection = self._current()
            try:
                with connection.transaction():
                    yield connection
            except psycopg.Error as error:
                raise Unreachable(f"PostgreSQL for the vault failed ({type(error).__name__})") from None

    def read(self) -> tuple[tuple[StoredBackend, ...], int]:
        with self._transaction() as connection:
            return self._load(connection, lock=False)

    @contextlib.contextmanager
    def writing(self) -> Iterator[tuple[tuple[StoredBackend, ...], int]]:
        with self._transaction() as connection:
            yield self._load(connection, lock=True)

    def write(self, backends: tuple[StoredBackend, ...], revision: int, previous: int) -> None:
        """Inside writing(): its transaction commits when the Vault's change returns."""
        connection = self._current()
        changed = connection.execute("UPDATE dario_vault_state SET revision = %s WHERE id = 1 AND revision = %s",
                                     (revision, previous)).rowcount
        if changed != 1:
            raise Stale("the vault changed in PostgreSQL since it was read; retry")
        connection.execute("DELETE FROM dario_vault_backends")  # the credentials go with them (ON DELETE CASCADE)
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO dario_vault_backends (name, position, kind, base_url, created_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(b.name, position, b.kind, b.base_url, b.created_at) for position, b in enumerate(backends)])
            cursor.executemany(
                "INSERT INTO dario_vault_credentials (backend, name, position, fields, sealed) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(backend.name, credential.name, position, *self._seal(backend.name, credential))
                 for backend in backends for position, credential in enumerate(backend.credentials)])
        connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(revision)))  # sent when it commits

    def refresh_lock(self, backend: str, credential: str) -> RefreshLock:
        """Waits until no other host refreshes this credential, then holds that right (see RefreshLock)."""
        return RefreshLock(self, backend, credential)

    def _seal(self, backend: str, credential: Credential) -> tuple[Jsonb, bytes]:
        fields = asdict(credential)
        secrets = {name: fields.pop(name) for name in SECRET_FIELDS}
        fields.pop("name")
        sealed = self.sealer.seal(json.dumps(secrets).encode(), backend, credential.name)
        return Jsonb(fields), sealed

    def _load(self, connection: psycopg.Connection[Row], lock: bool) -> tuple[tuple[StoredBackend, ...], int]:
        state = connection.execute("SELECT revision FROM dario_vault_state WHERE id = 1"
                                   + (" FOR UPDATE" if lock else "")).fetchone()
        if state is None:
            raise Corrupt("the vault's state row is missing in PostgreSQL; restore it from a backup")
        credentials: dict[str, list[Credential]] = {}
        for backend, name, fields, sealed in connection.execute(
                "SELECT backend, name, fields, sealed FROM dario_vault_credentials ORDER BY backend, position"):
            try:
                secrets = json.loads(self.sealer.open(bytes(sealed), backend, name))
                credential = Credential(name=name, **fields, **secrets)
            except (ValueError, TypeError):
                raise Corrupt(f"the vault row {backend}/{name} in PostgreSQL is damaged") from None
            credentials.setdefault(backend, []).append(credential)
        backends = tuple(
            StoredBackend(name=name, kind=kind, base_url=base_url, created_at=created_at,
                          credentials=tuple(credentials.get(name, ())))
            for name, kind, base_url, created_at in connection.execute(
                "SELECT name, kind, base_url, created_at FROM dario_vault_backends ORDER BY position"))
        return backends, int(state[0])


class RefreshLock:
    """The right to refresh one credential across every host sharing the vault (issue 15 item 4).

    A transaction on a connection of its own holds pg_advisory_xact_lock on a hash of backend/credential; `current`
    is the credential as stored once the lock was granted (None when it was removed), so a host that waited sees
    the tokens another host stored meanwhile and uses them instead of spending the refresh token again. The
    rotated pair is written by store() in this same transaction (a savepoint), and the lock ends with it."""

    def __init__(self, storage: PostgresStorage, backend: str, credential: str) -> None:
        self._storage = storage
        self._connection = connect(storage.url)
        try:
            self._connection.execute("BEGIN")
            self._connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                                     (f"dario-vault-refresh {backend} {credential}",))
            backends, _ = storage._load(self._connection, lock=False)
        except psycopg.Error as error:
            self._connection.close()
            raise Unreachable(f"the refresh lock in PostgreSQL failed ({type(error).__name__})") from None
        except BaseException:
            self._connection.close()
            raise
        found = next((b for b in backends if b.name == backend), None)
        self.current = next((c for c in found.credentials if c.name == credential), None) if found else None

    def store(self, write: Callable[[], Returned]) -> Returned:
        """Runs a Vault write inside this lock's transaction and commits it (which also releases the lock)."""
        self._storage._through.connection = self._connection
        try:
            written = write()
        finally:
            self._storage._through.connection = None
        try:
            self._connection.execute("COMMIT")
        except psycopg.Error as error:
            raise Unreachable(f"the refreshed tokens could not be committed ({type(error).__name__})") from None
        return written

    def release(self) -> None:
        """Ends the transaction (rolling back whatever store() did not commit) and the lock with it."""
        with contextlib.suppress(psycopg.Error):
            self._connection.execute("ROLLBACK")
        self._connection.close()
