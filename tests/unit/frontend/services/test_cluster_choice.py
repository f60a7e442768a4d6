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


async def test_a_request_sent_once_more_to_its_local_choice_awaits_one_answer_again(tmp_path: pathlib.Path) -> None:
    """The thinking-signature retry (frontend.upstream.thinking_retry) sends to the same credential twice: each
    answer is one fewer awaited, so the second send counts as awaited again and the count ends where it began."""
    client = PoolClient(str(tmp_path / "pool.sock"), 1.0, journal_folder=tmp_path / "journal")
    client.unavailable = {}
    try:
        chosen = client.choose_locally("pool", ("k1", "k2"), [])
        assert chosen is not None and client.pending[("pool", chosen)] == 1
        client.answered("pool", chosen, True, 400, {})
        client.resent("pool", chosen)
        assert client.pending[("pool", chosen)] == 1
        client.answered("pool", chosen, True, 200, {})
        assert client.pending[("pool", chosen)] == 0
    finally:
        await client.channel.close()
