"""Where the dashboard's files are: its own under frontend/ui/static, the charting library (uPlot) in the
package that ships it, installed from PyPI as a dependency (metaflow-card-uplot carries uPlot's built files as
package data), found through its installed file list without importing it."""

from __future__ import annotations

import functools
import pathlib
import re

STATIC = pathlib.Path(__file__).parent / "static"
VENDOR_DISTRIBUTION = "metaflow-card-uplot"
VENDOR_FILES = {"uPlot.iife.min.js": "application/javascript", "uPlot.min.css": "text/css"}
CONTENT_TYPES = {".js": "application/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
STATIC_NAME = re.compile(r"^[a-z][a-z0-9-]*\.(js|css|svg)$")


class MissingAsset(LookupError):
    """The charting library is not installed (pip install -e . installs it)."""


@functools.cache
def vendor_files() -> dict[str, pathlib.Path]:
    """uPlot's files by name, from the installed distribution's file list (importlib.metadata, with the csv and zip
    readers it brings, is imported at the dashboard's first page, not by every frontend)."""
    import importlib.metadata

    try:
        files = importlib.metadata.files(VENDOR_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    found = {}
    for file in files:
        if file.name in VENDOR_FILES:
            found[file.name] = pathlib.Path(str(file.locate()))
    missing = set(VENDOR_FILES) - set(found)
    if missing:
        raise MissingAsset(f"the dashboard's charting library is missing ({', '.join(sorted(missing))} of the "
                           f"{VENDOR_DISTRIBUTION} package): reinstall dario with `pip install -e .`")
    return found


def static_file(name: str) -> pathlib.Path | None:
    """One of the dashboard's own files (a plain name: no folder, no traversal), or None."""
    if not STATIC_NAME.match(name):
        return None
    path = STATIC / name
    return path if path.is_file() else None
