"""Following the vault in PostgreSQL (issue 15 item 3): every committed write sends a notification on
vault_postgres.CHANNEL; each credential_service LISTENs, reloads the vault and announces the change, so its watch
streams (and so every frontend's leases) follow writes made on other hosts, typically within milliseconds.

A lost connection is retried every second; after each (re)connection the vault is reloaded once, so a
notification missed while not listening is never a change missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

from credential_service.backends import Backends
from credential_service.vault import VaultError
from credential_service.vault_postgres import CHANNEL

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0  # how long one wait for notifications lasts before stopping is looked at again


async def follow(url: str, backends: Backends, stopping: asyncio.Event) -> None:
    """Until stopping: LISTEN on the vault's channel and reload at each notification."""
    failing = False
    while not stopping.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10) as connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                if failing:
                    log.info("listening to the vault's changes in PostgreSQL again")
                failing = False
                await backends.reload_vault()
                while not stopping.is_set():
                    notified = False
                    async for _ in connection.notifies(timeout=POLL_SECONDS):
                        notified = True
                        break  # one reload takes in every write committed before it
                    if notified:
                        await backends.reload_vault()
        except (psycopg.Error, VaultError, OSError) as error:
            if not failing:
                log.warning("the vault's changes in PostgreSQL are not followed (%s): retrying every second",
                            type(error).__name__)
            failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), POLL_SECONDS)
