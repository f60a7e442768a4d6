"""credential_service starts without aiohttp (about 9 MB of RSS): it is imported at the first probe or token
request only. A fresh interpreter, since this one has aiohttp already."""

from __future__ import annotations

import subprocess
import sys

from dario.testing.processes import REPO


def test_the_service_imports_no_aiohttp_until_it_calls_out() -> None:
    script = ("import sys, credential_service.__main__, credential_service.probe, credential_service.refresher; "
              "print(sorted(name for name in sys.modules if name.split('.')[0] == 'aiohttp'))")
    answer = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "[]"
