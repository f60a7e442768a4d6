"""The compatibility profile of one request's target (dario.compat): the backend's preset (declared in config.toml,
else the preset its URL is on) with config.toml's overrides, and the capabilities of the model sent upstream; and
what a native request needs of it (a clamped output limit, Claude Code's billing header off Anthropic's API)."""

from __future__ import annotations

from dario.catalog import Backend
from dario.compat import Profile, compat_for, preset_of
from dario.config import Config
from frontend.translate.anthropic_to_chat import without_billing_header
from frontend.translate.limits import CLAMPED_HEADER, clamp_output


def profile_for(config: Config, backend: Backend, model: str) -> Profile:
    declared = next((item.preset for item in config.backends if item.name == backend.name and item.preset), "")
    compat = compat_for(declared or preset_of(backend.base_url, backend.kind), config.compat.get(backend.name, {}))
    return Profile(compat, config.models.capabilities(model))


def adjust_native(document: dict, api_format: str, profile: Profile) -> tuple[dict | None, dict[str, str]]:
    """(the body to send instead, or None when the client's goes unchanged; dario's headers for the client)."""
    changed, headers = dict(document), {}  # a shallow copy: the client's document is never modified
    clamped = clamp_output(changed, api_format, profile)
    if clamped:
        headers[CLAMPED_HEADER] = clamped
    dropped = False
    if api_format == "anthropic" and not profile.compat.billing_header and changed.get("system"):
        system = without_billing_header(changed["system"])
        if system != changed["system"]:
            dropped = True
            changed["system"] = system
            if not system:
                del changed["system"]
    return (changed if clamped or dropped else None), headers
