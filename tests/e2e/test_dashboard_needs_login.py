"""The Pools page shows a credential whose login was revoked as needs-login, live (issue 14): in the browser of
tests/e2e/conftest.py, against the dashboard's supervised stack with an OAuth credential "login" in the "pool"
backend, refreshed from the scripted token server every few seconds. The token server revokes the grant, the next
refresh is refused with invalid_grant, and the open page turns that row needs-login (its text and its red badge)
without a reload, while alpha and beta stay ok."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from dario.testing.dashboard import DashboardStack, dashboard_stack
from dario.testing.oauth_server import OAuthServer, ThreadedOAuthServer
from tests.e2e.conftest import open_page

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
CLIENT_ID = "dario-dashboard-client"
CLIENT_SECRET = "client-secret-dashboard-0123456789"
# Tokens live 6 s and are refreshed 3 s before they expire: a refused refresh comes within seconds of the revocation.
TOKEN_SECONDS = 6
CONFIG = """
[credentials]
refresh_ahead_seconds = 3
refresh_retry_seconds = 0.1
refresh_retry_max_seconds = 0.5
"""
STATE_SECONDS = 30  # a deadline for what the services report, not a timing promise


@pytest.fixture(scope="module")
def oauth() -> Iterator[OAuthServer]:
    with ThreadedOAuthServer(expires_in=TOKEN_SECONDS) as server:
        server.add_client(CLIENT_ID, CLIENT_SECRET)
        yield server


@pytest.fixture(scope="module")
def with_oauth(tmp_path_factory: pytest.TempPathFactory, oauth: OAuthServer) -> Iterator[DashboardStack]:
    with dashboard_stack(tmp_path_factory.mktemp("needs-login") / "home", config=CONFIG) as stack:
        seed = oauth.issue(CLIENT_ID, "api")
        stack.stack.env.update({"E2E_CLIENT_SECRET": CLIENT_SECRET, "E2E_REFRESH_TOKEN": seed["refresh_token"]})
        added = stack.stack.dario("accounts", "add", "pool", "login", "--oauth", "--token-url", oauth.token_url,
                                  "--client-id", CLIENT_ID, "--scope", "api", "--client-secret-env",
                                  "E2E_CLIENT_SECRET", "--refresh-token-env", "E2E_REFRESH_TOKEN")
        assert added.returncode == 0, added.stdout + added.stderr
        yield stack


def login_state(stack: DashboardStack) -> dict:
    status = stack.get_json("/status")
    return next(c for c in status["credentials"] if (c["backend"], c["name"]) == ("pool", "login"))


def color_of(page: Page, selector: str) -> str:
    return str(page.locator(selector).evaluate("element => getComputedStyle(element).color"))


def test_a_refused_refresh_shows_as_needs_login_without_a_reload(with_oauth: DashboardStack, oauth: OAuthServer,
                                                                  page: Page) -> None:
    open_page(page, with_oauth, "pools")
    card = page.locator("article[data-backend=pool]")
    login = card.locator("tr[data-credential=login]")
    expect(login).to_have_attribute("data-status", "ok", timeout=STATE_SECONDS * 1000)  # its first token came
    assert login_state(with_oauth)["state"] == "ok"
    assert oauth.refresh_count >= 1
    page.evaluate("window.__notReloaded = true")
    ok_color = color_of(page, "article[data-backend=pool] tr[data-credential=login] [data-field=status]")

    oauth.revoke_all()  # the user revoked dario's access at the provider: the next refresh gets invalid_grant

    expect(login).to_have_attribute("data-status", "needs-login", timeout=STATE_SECONDS * 1000)
    badge = login.locator("[data-field=status]")
    expect(badge).to_have_text("needs-login")
    expect(badge).to_have_class("badge status-needs-login")
    bad_color = page.evaluate("""() => {
        const probe = document.createElement("span");
        probe.style.color = "var(--bad)";
        document.body.append(probe);
        const color = getComputedStyle(probe).color;
        probe.remove();
        return color;
    }""")
    assert color_of(page, "article[data-backend=pool] tr[data-credential=login] [data-field=status]") == bad_color
    assert bad_color != ok_color
    assert page.evaluate("window.__notReloaded") is True  # the same document: followed live
    for other in ("alpha", "beta"):
        expect(card.locator(f"tr[data-credential={other}]")).to_have_attribute("data-status", "ok")
    state = login_state(with_oauth)
    assert state["state"] == "needs-login" and "invalid_grant" in state["last_error"]
    content = page.content()
    assert not [secret[:6] for secret in oauth.issued_secrets() if secret in content]
    assert page.problems == []  # type: ignore[attr-defined]
