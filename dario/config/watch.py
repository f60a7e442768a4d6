"""Keeps a process's Config current: config.toml is parsed again, by the same parser as at start, within a second
of a change. A file that does not parse is refused (logged, kept in .error) and the last good Config stays."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from dario.config.environment import file_signature
from dario.config.errors import ConfigError
from dario.config.parse import read_config
from dario.config.sections import Config

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class ConfigWatcher:
    """Polls config.toml's (mtime, size); on_change gets each new Config once it is current.

    keeps says, in the log line of a refused file, what stays in force (each process reloads other sections)."""

    def __init__(self, config: Config, keeps: str,
                 on_change: Callable[[Config], Awaitable[None]] | None = None) -> None:
        self.current = config
        self.error = ""  # why the file on disk is not in force, if it is not
        self.keeps = keeps
        self._on_change = on_change
        self._signature = config.signature
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> bool:
        """Parses the file again if it changed since it was last read; True when a new Config took effect."""
        signature = file_signature(self.current.paths.config)
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            config = read_config(self.current.paths, self.current.environment)
        except ConfigError as error:
            self.error = str(error)
            log.error("%s; %s", error, self.keeps)
            return False
        self._signature, self.error, self.current = config.signature, "", config
        if self._on_change is not None:
            await self._on_change(config)
        return True

    def start(self) -> None:
        """Checks at once (the file may have changed since the process read it), then every POLL_SECONDS."""
        self._task = asyncio.create_task(self._poll())

    async def close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _poll(self) -> None:
        while not self._stopping.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), POLL_SECONDS)
