"""Keeps the routing rules current: config.toml is re-read when it changes; a bad file keeps the last good rules."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pathlib

from dario.routes import RoutingConfig, parse_routing
from dario.settings import ConfigError, Settings

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class RoutingWatcher:
    def __init__(self, settings: Settings) -> None:
        self.path: pathlib.Path = settings.paths.config
        self.settings = settings
        self.current = RoutingConfig(default_backend=settings.default_backend, forced_model=settings.forced_model)
        self.error = ""  # why the file on disk is not in force, if it is not
        self._signature: tuple[float, int] | None = None
        self._task: asyncio.Task | None = None
        self.reload()

    def reload(self) -> bool:
        """Reads the file if it changed; returns True when new rules took effect."""
        try:
            stat = self.path.stat()
            signature = (stat.st_mtime, stat.st_size)
        except FileNotFoundError:
            signature = (0.0, -1)
        if signature == self._signature:
            return False
        self._signature = signature
        text = self.path.read_text(encoding="utf-8") if signature[1] >= 0 else ""
        try:
            self.current = parse_routing(text, self.settings.default_backend, self.settings.forced_model)
        except ConfigError as error:
            self.error = str(error)
            log.error("%s; the previous routing rules stay in force", error)
            return False
        self.error = ""
        log.info("routing: %d rule(s), %d alias(es)", len(self.current.rules), len(self.current.aliases))
        return True

    async def start(self) -> None:
        self._task = asyncio.create_task(self._poll())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                self.reload()
            except OSError as error:
                log.warning("could not read %s: %s", self.path, error)
