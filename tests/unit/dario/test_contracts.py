"""The contracts' enums name every value once, with the very words the services' own vocabularies use, and
the messages the frontend and the CLI turn into JSON come out in the shapes users have always seen."""

from __future__ import annotations

import pytest

from credential_service import config_backends, probe, vault
from dario import enums, presets
from dario.conversions import account_to_json, catalog_from_proto, credential_status_to_json, lease_from_proto
from dario.v1 import credentials_pb2, pool_pb2
from frontend import dialects
from pool_service import conversions as pool_conversions
from pool_service.selection import Account, CredentialState


def test_each_enum_value_has_one_name_and_back() -> None:
    for names in (enums.BACKEND_KINDS, enums.CREDENTIAL_KINDS, enums.CREDENTIAL_STATES, enums.PROBE_VERDICTS,
                  enums.API_FORMATS, enums.ACCOUNT_STATUSES):
        assert len(set(names.names())) == len(names.names())
        for name in names.names():
            assert names.name(names.value(name)) == name
        assert names.name(0) == "" and names.value("") == 0
        assert names.name(999) == enums.UNKNOWN  # a value from a newer peer
        with pytest.raises(ValueError, match="is not one of"):
            names.value("no-such-name")


def test_a_value_added_to_the_proto_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="BACKEND_KIND_ANTHROPIC"):
        enums.Names(credentials_pb2.BackendKind, {credentials_pb2.BACKEND_KIND_OPENAI: "openai",
                                                  credentials_pb2.BACKEND_KIND_OPENAI_RESPONSES: "openai-responses"})


def test_the_names_are_the_services_own_words() -> None:
    assert enums.BACKEND_KINDS.names() == presets.KINDS
    assert enums.CREDENTIAL_KINDS.names() == vault.CREDENTIAL_KINDS
    assert {vault.OK, vault.FAILING, vault.NEEDS_LOGIN, "pending", config_backends.MISSING_KEY} \
        == set(enums.CREDENTIAL_STATES.names())
    assert {probe._verdict(status) for status in (200, 302, 401, 404, 500)} | {"unreachable"} \
        == set(enums.PROBE_VERDICTS.names())
    every_dialect = (dialects.OPENAI_CHAT, dialects.ANTHROPIC_MESSAGES, dialects.OPENAI_RESPONSES,
                     dialects.OPENAI_EMBEDDINGS)
    assert {dialect.api_format for dialect in every_dialect} == set(enums.API_FORMATS.names())
    state = CredentialState()
    statuses = {state.status(0.0)}
    for field in ("quarantine_until", "cooldown_until", "exhausted_until"):
        state = CredentialState(**{field: 10.0})
        statuses.add(state.status(0.0))
    assert statuses == set(enums.ACCOUNT_STATUSES.names())


def test_an_account_crosses_as_the_json_of_get_accounts() -> None:
    account = Account(backend="b", credential="c", headroom=0.123456, status="cooldown", cooldown_until=12.5,
                      in_flight=2, windows=(), chosen=7, last_status=429)
    message = pool_conversions.account_to_proto(account)
    assert message.status == pool_pb2.ACCOUNT_STATUS_COOLDOWN
    assert account_to_json(message) == {"backend": "b", "credential": "c", "status": "cooldown", "headroom": 0.1235,
                                        "cooldown_until": 12.5, "in_flight": 2, "chosen": 7, "last_status": 429,
                                        "windows": []}


def test_a_credential_crosses_as_the_json_of_get_status_and_into_the_catalog() -> None:
    credential = credentials_pb2.CredentialInfo(name="login", kind=credentials_pb2.CREDENTIAL_KIND_OAUTH,
                                                state=credentials_pb2.CREDENTIAL_STATE_NEEDS_LOGIN, revision=3)
    backend = credentials_pb2.Backend(name="b", kind=credentials_pb2.BACKEND_KIND_OPENAI_RESPONSES,
                                      base_url="https://x.test/v1", credentials=[credential])
    shown = credential_status_to_json(backend, credential, now=0.0)
    assert (shown["kind"], shown["state"], shown["expires_in"]) == ("oauth", "needs-login", None)
    catalog = catalog_from_proto(credentials_pb2.WatchBackendsResponse(backends=[backend], generation=4))
    [known] = catalog.backends
    assert (known.kind, known.states, known.usable(), catalog.generation) == ("openai-responses", ("needs-login",),
                                                                              (), 4)


def test_a_lease_keeps_its_kind_and_an_unnamed_kind_is_an_api_key() -> None:
    lease = lease_from_proto(credentials_pb2.Lease(header_name="authorization", header_value="Bearer sk-test-x",
                                                   revision=2, kind=credentials_pb2.CREDENTIAL_KIND_CLIENT_CREDENTIALS))
    assert (lease.kind, lease.refreshable, lease.revision) == ("client_credentials", True, 2)
    assert not lease_from_proto(credentials_pb2.Lease(header_name="x-api-key", header_value="k")).refreshable
