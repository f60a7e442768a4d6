"""With pools shared by several hosts the frontend leaves a pool's choice to pool_service (whose view is every
host's), and still takes a lone credential without a round trip."""

from __future__ import annotations

import pathlib

from frontend.services.pool import PoolClient


async def test_a_clustered_frontend_chooses_only_lone_credentials_itself(tmp_path: pathlib.Path) -> None:
    for local_pools, expected in ((True, "k1"), (False, None)):
        client = PoolClient(str(tmp_path / "pool.sock"), 1.0, journal_folder=tmp_path / "journal",
                            local_pools=local_pools)
        client.unavailable = {}  # the first push arrived: nothing against any credential
        try:
            assert client.choose_locally("pool", ("k1", "k2"), []) == expected
            assert client.choose_locally("solo", ("only",), []) == "only"
        finally:
            await client.channel.close()
