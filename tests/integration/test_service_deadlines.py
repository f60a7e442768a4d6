"""What the frontend's clients of dario's services make of a service that is there but does not answer in time
(a real process, stopped with SIGSTOP: its socket stays connected), and of one that is not there at all."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
from collections.abc import Iterator

import grpc
import pytest

from dario.testing.processes import running_module
from frontend.errors import ApiError, ServiceTimedOut, ServiceUnavailable
from frontend.services.credentials import CredentialsClient
from frontend.services.pool import PoolClient

pytestmark = pytest.mark.timeout(120)
DEADLINE_SECONDS = 0.5  # of each call here: the stopped service never answers, so every call ends by it


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_a_hung_pool_service_is_a_504_and_an_absent_one_a_503(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    socket_path = home / "run" / "pool.sock"
    with running_module("pool_service", home, socket_path) as process:
        pool = PoolClient(str(socket_path), DEADLINE_SECONDS / 2, queue_timeout=DEADLINE_SECONDS / 2,
                          journal_folder=tmp_path / "journal")
        try:
            granted = await pool.acquire("solo", ("default",), "req_before", "m")
            assert granted.credential == "default"  # connected: the channel is READY
            with stopped(process.pid), pytest.raises(ServiceTimedOut) as raised:
                await pool.acquire("solo", ("default",), "req_hung", "m")
            assert pool.channel.get_state() == grpc.ChannelConnectivity.READY
        finally:
            await pool.close(flush_seconds=0)
    assert (raised.value.status, raised.value.code) == (504, "service_timeout")
    assert "pool_service" in raised.value.message and str(socket_path) in raised.value.message
    absent = PoolClient(str(socket_path), DEADLINE_SECONDS, journal_folder=tmp_path / "journal")
    try:
        with pytest.raises(ServiceUnavailable) as gone:
            await absent.acquire("solo", ("default",), "req_after", "m")
    finally:
        await absent.close(flush_seconds=0)
    assert gone.value.status == 503 and "not running" in gone.value.message


async def test_a_lease_asked_of_a_hung_credential_service_is_a_504_and_of_an_absent_one_a_503(
        tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    socket_path = home / "run" / "credential.sock"
    with running_module("credential_service", home, socket_path) as process:
        credentials = CredentialsClient(str(socket_path), DEADLINE_SECONDS)
        try:
            with pytest.raises(ApiError) as missing:  # connected: the service answers (NOT_FOUND)
                await credentials.lease("nowhere", "default", 0)
            assert missing.value.status == 404
            with stopped(process.pid), pytest.raises(ServiceTimedOut) as raised:
                await credentials.lease("nowhere", "default", 0)
        finally:
            await credentials.close()
    assert (raised.value.status, raised.value.code) == (504, "service_timeout")
    absent = CredentialsClient(str(socket_path), DEADLINE_SECONDS)
    try:
        with pytest.raises(ServiceUnavailable) as gone:  # the call waits for the service, which never comes
            await absent.lease("nowhere", "default", 0)
    finally:
        await absent.close()
    assert (gone.value.status, gone.value.code) == (503, "service_unavailable")
