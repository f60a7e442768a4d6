"""dario/event_loop.py: uvloop unless DARIO_UVLOOP says otherwise (the processes' tests run on it by default)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from dario import event_loop
from dario.config import Environment


async def running_loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_the_default_loop_is_uvloop() -> None:
    assert event_loop.run(running_loop_type(), Environment.read({})) is uvloop.Loop


@pytest.mark.parametrize("value", ["0", "false", "No", " off "])
def test_dario_uvloop_off_runs_on_asyncio_s_own_loop(value: str) -> None:
    environment = Environment.read({"DARIO_UVLOOP": value})
    assert environment.uvloop is False and event_loop.loop_factory(environment) is None
    assert not issubclass(event_loop.run(running_loop_type(), environment), uvloop.Loop)


def test_any_other_value_keeps_uvloop() -> None:
    assert Environment.read({"DARIO_UVLOOP": "1"}).uvloop and Environment.read({"DARIO_UVLOOP": ""}).uvloop
