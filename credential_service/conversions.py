"""credential_service's proto ↔ domain conversions: the vault's backends, credentials, leases and probes as the
Credentials contract carries them (never a secret, except a lease's header value)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from credential_service import config_backends
from credential_service.backends import Login, Refreshed, Standing
from credential_service.probe import Probe
from credential_service.vault import Credential, LeaseGrant, StoredBackend
from dario.enums import BACKEND_KINDS, CREDENTIAL_KINDS, CREDENTIAL_STATES, PROBE_VERDICTS
from dario.v1 import credentials_pb2


def credential_to_proto(credential: Credential, standing: Standing, source: str = "") -> credentials_pb2.CredentialInfo:
    """The public view of a credential: never a secret (nor a hint of a key config.toml names)."""
    return credentials_pb2.CredentialInfo(
        name=credential.name, kind=CREDENTIAL_KINDS.value(credential.kind),
        hint="" if source == config_backends.SOURCE else credential.hint, created_at=credential.created_at,
        revision=credential.revision, state=CREDENTIAL_STATES.value(standing.state), expires_at=credential.expires_at,
        last_refresh=credential.last_refresh, last_error=standing.last_error, token_url=credential.token_url,
        client_id=credential.client_id, scope=credential.scope, key_env=standing.key_env,
    )


def backend_to_proto(backend: StoredBackend, source: str, standings: Sequence[Standing]) -> credentials_pb2.Backend:
    """The public view of a backend: every credential's name, hint and state (standings, in order)."""
    return credentials_pb2.Backend(
        name=backend.name, kind=BACKEND_KINDS.value(backend.kind), base_url=backend.base_url,
        created_at=backend.created_at,
        credentials=[credential_to_proto(credential, standing, source)
                     for credential, standing in zip(backend.credentials, standings, strict=True)],
        source=source,
    )


def credential_from_proto(request: credentials_pb2.AddCredentialRequest) -> Credential:
    """The credential an AddCredential stores (an access token given with an OAuth one expires as it says)."""
    oauth, kind = request.oauth, CREDENTIAL_KINDS.name(request.kind) or "api_key"
    return Credential(
        name=request.name or "default", kind=kind, secret=request.api_key if kind == "api_key" else oauth.access_token,
        refresh_token=oauth.refresh_token, client_secret=oauth.client_secret, token_url=oauth.token_url,
        client_id=oauth.client_id, scope=oauth.scope,
        expires_at=time.time() + oauth.expires_in if oauth.access_token and oauth.expires_in > 0 else 0.0,
    )


def login_from_proto(request: credentials_pb2.CompleteLoginRequest) -> tuple[Credential, Login]:
    """The oauth credential a login will store (its tokens still to come), and the code to redeem for them."""
    oauth = request.oauth
    draft = Credential(name=request.name or "default", secret="", kind="oauth", refresh_token="pending",
                       client_secret=oauth.client_secret, token_url=oauth.token_url, client_id=oauth.client_id,
                       scope=oauth.scope)
    return draft, Login(request.code, request.code_verifier, request.redirect_uri)


def lease_to_proto(grant: LeaseGrant, credential: Credential) -> credentials_pb2.Lease:
    return credentials_pb2.Lease(header_name=grant.header_name, header_value=grant.header_value,
                                 expires_at=grant.expires_at, revision=grant.revision,
                                 kind=CREDENTIAL_KINDS.value(credential.kind))


def refreshed_to_proto(refreshed: Refreshed) -> credentials_pb2.RefreshResult:
    return credentials_pb2.RefreshResult(
        backend=refreshed.backend, credential=credential_to_proto(refreshed.credential, refreshed.standing),
        refreshed=refreshed.result.refreshed, error=refreshed.result.error,
    )


def probe_to_proto(found: Probe) -> credentials_pb2.ProbeResult:
    return credentials_pb2.ProbeResult(url=found.url, status=found.status, verdict=PROBE_VERDICTS.value(found.verdict),
                                       message=found.message, credential=found.credential, base_url=found.base_url,
                                       models=found.models)
