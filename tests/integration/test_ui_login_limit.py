"""The dashboard login's attempt limit through the real frontend and services (DARIO_API_KEY set): wrong keys are
refused with 401 up to [limits] login_attempts, then every post, the right key's too, gets the form with 429 and
retry-after, until the window has passed; then the right key logs in and clears the count."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.config import LoginLimits
from dario.testing.stack import Services, running_frontend, with_limits, with_server
from frontend.ui.pages import ATTEMPTS

pytestmark = pytest.mark.timeout(120)
KEY = "dario-ui-limit-key-0123456789"
WRONG = "wrong-key-that-must-not-be-echoed"


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Answer:
    status: int
    text: str
    headers: dict[str, str]
    cookies: list[str]


async def post_key(server: TestServer, key: str) -> Answer:
    async with aiohttp.ClientSession() as session, session.post(
            server.make_url("/ui/login"), data={"key": key}, allow_redirects=False) as answer:
        return Answer(answer.status, await answer.text(), {k.lower(): v for k, v in answer.headers.items()},
                      [morsel.key for morsel in answer.cookies.values()])


async def get_login(server: TestServer) -> Answer:
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/ui/login")) as answer:
        return Answer(answer.status, await answer.text(), dict(answer.headers), [])


@pytest.fixture
async def keyed(services: Services) -> AsyncIterator[TestServer]:
    async with running_frontend(with_server(services.config, api_key=KEY)) as server:
        yield server


def assert_refused_as_limited(answer: Answer, seconds: int) -> None:
    assert answer.status == 429 and answer.headers["retry-after"] == str(seconds)
    assert f"try again in {seconds} s" in answer.text and "the right one too" in answer.text
    assert 'id="login"' in answer.text  # the form, to try again later
    assert WRONG not in answer.text and KEY not in answer.text
    assert answer.cookies == []


async def test_five_wrong_keys_then_429_for_every_key_until_the_window_passes(keyed: TestServer) -> None:
    clock = Clock()
    keyed.app[ATTEMPTS].clock = clock
    for _ in range(5):
        answer = await post_key(keyed, WRONG)
        assert answer.status == 401 and "not the key" in answer.text and WRONG not in answer.text
    assert_refused_as_limited(await post_key(keyed, WRONG), 60)
    clock.now += 15
    assert_refused_as_limited(await post_key(keyed, KEY), 45)  # the right key is refused too, and not counted
    shown = await get_login(keyed)
    assert shown.status == 200 and "try again in 45 s" in shown.text
    clock.now += 44.5
    assert_refused_as_limited(await post_key(keyed, KEY), 1)
    clock.now += 0.5  # the window has passed
    logged_in = await post_key(keyed, KEY)
    assert logged_in.status == 303 and logged_in.headers["location"] == "/ui" and logged_in.cookies == ["dario_ui"]
    for _ in range(5):  # the success cleared this address's failures: five more wrong keys before the limit
        assert (await post_key(keyed, WRONG)).status == 401
    assert_refused_as_limited(await post_key(keyed, WRONG), 60)


async def test_a_configured_window_passes_on_the_real_clock(services: Services) -> None:
    limits = dataclasses.replace(services.config.limits.login, attempts=2, window_seconds=4.0)
    config = with_limits(with_server(services.config, api_key=KEY), login=limits)
    assert config.limits.login == LoginLimits(attempts=2, total_attempts=50, window_seconds=4.0, addresses=4096)
    async with running_frontend(config) as server:
        assert [(await post_key(server, WRONG)).status for _ in range(2)] == [401, 401]
        limited = await post_key(server, KEY)
        assert limited.status == 429 and 1 <= int(limited.headers["retry-after"]) <= 4
        await asyncio.sleep(int(limited.headers["retry-after"]))  # the window, on the real clock
        logged_in = await post_key(server, KEY)
        assert logged_in.status == 303 and logged_in.cookies == ["dario_ui"]
