"""The committed gRPC stubs must match proto/; regenerate with `python scripts/gen_proto.py`."""

import subprocess
import sys

from dario.testing.processes import REPO


def test_committed_stubs_match_the_proto_files() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_proto.py", "--check"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "match" in result.stdout
