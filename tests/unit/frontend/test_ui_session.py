"""The dashboard's login cookie and file lookup (issue 14): a signed expiry that only the key can make."""

from __future__ import annotations

from frontend.ui import assets
from frontend.ui.session import LIFETIME_SECONDS, new_token, valid_token

KEY = "dario-key-0123456789"
NOW = 1_800_000_000.0


def test_a_token_is_valid_for_its_key_until_it_expires() -> None:
    token = new_token(KEY, NOW)
    assert valid_token(token, KEY, NOW)
    assert valid_token(token, KEY, NOW + LIFETIME_SECONDS - 1)
    assert not valid_token(token, KEY, NOW + LIFETIME_SECONDS + 1)


def test_a_token_holds_no_key_and_is_refused_under_another_key() -> None:
    token = new_token(KEY, NOW)
    assert KEY not in token
    assert not valid_token(token, "another-key", NOW)


def test_an_extended_or_mangled_token_is_refused() -> None:
    expires, _, signature = new_token(KEY, NOW).partition(".")
    assert not valid_token(f"{int(expires) + 86_400}.{signature}", KEY, NOW)
    for mangled in ("", ".", "abc.def", f"{expires}.", f"{expires}.{signature[:-1]}", "9" * 40 + "." + signature):
        assert not valid_token(mangled, KEY, NOW)


def test_only_the_dashboards_own_files_are_served() -> None:
    assert assets.static_file("app.js") == assets.STATIC / "app.js"
    for name in ("../pages.py", "index.html", "..", "app.js/..", "App.js", ".hidden.js", "missing.js"):
        assert assets.static_file(name) is None


def test_the_charting_library_is_found_in_its_installed_package() -> None:
    files = assets.vendor_files()
    assert set(files) == set(assets.VENDOR_FILES)
    assert all(path.is_file() for path in files.values())
    assert b"uPlot" in files["uPlot.iife.min.js"].read_bytes()[:200]
