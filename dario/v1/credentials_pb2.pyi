from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BackendKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKEND_KIND_UNSPECIFIED: _ClassVar[BackendKind]
    BACKEND_KIND_OPENAI: _ClassVar[BackendKind]
    BACKEND_KIND_ANTHROPIC: _ClassVar[BackendKind]
    BACKEND_KIND_OPENAI_RESPONSES: _ClassVar[BackendKind]

class CredentialKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_KIND_UNSPECIFIED: _ClassVar[CredentialKind]
    CREDENTIAL_KIND_API_KEY: _ClassVar[CredentialKind]
    CREDENTIAL_KIND_OAUTH: _ClassVar[CredentialKind]
    CREDENTIAL_KIND_CLIENT_CREDENTIALS: _ClassVar[CredentialKind]

class CredentialState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_STATE_UNSPECIFIED: _ClassVar[CredentialState]
    CREDENTIAL_STATE_OK: _ClassVar[CredentialState]
    CREDENTIAL_STATE_FAILING: _ClassVar[CredentialState]
    CREDENTIAL_STATE_PENDING: _ClassVar[CredentialState]
    CREDENTIAL_STATE_NEEDS_LOGIN: _ClassVar[CredentialState]
    CREDENTIAL_STATE_MISSING_KEY: _ClassVar[CredentialState]

class ProbeVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROBE_VERDICT_UNSPECIFIED: _ClassVar[ProbeVerdict]
    PROBE_VERDICT_OK: _ClassVar[ProbeVerdict]
    PROBE_VERDICT_KEY_REFUSED: _ClassVar[ProbeVerdict]
    PROBE_VERDICT_NOT_FOUND: _ClassVar[ProbeVerdict]
    PROBE_VERDICT_ERROR: _ClassVar[ProbeVerdict]
    PROBE_VERDICT_REDIRECT: _ClassVar[ProbeVerdict]
    PROBE_VERDICT_UNREACHABLE: _ClassVar[ProbeVerdict]
BACKEND_KIND_UNSPECIFIED: BackendKind
BACKEND_KIND_OPENAI: BackendKind
BACKEND_KIND_ANTHROPIC: BackendKind
BACKEND_KIND_OPENAI_RESPONSES: BackendKind
CREDENTIAL_KIND_UNSPECIFIED: CredentialKind
CREDENTIAL_KIND_API_KEY: CredentialKind
CREDENTIAL_KIND_OAUTH: CredentialKind
CREDENTIAL_KIND_CLIENT_CREDENTIALS: CredentialKind
CREDENTIAL_STATE_UNSPECIFIED: CredentialState
CREDENTIAL_STATE_OK: CredentialState
CREDENTIAL_STATE_FAILING: CredentialState
CREDENTIAL_STATE_PENDING: CredentialState
CREDENTIAL_STATE_NEEDS_LOGIN: CredentialState
CREDENTIAL_STATE_MISSING_KEY: CredentialState
PROBE_VERDICT_UNSPECIFIED: ProbeVerdict
PROBE_VERDICT_OK: ProbeVerdict
PROBE_VERDICT_KEY_REFUSED: ProbeVerdict
PROBE_VERDICT_NOT_FOUND: ProbeVerdict
PROBE_VERDICT_ERROR: ProbeVerdict
PROBE_VERDICT_REDIRECT: ProbeVerdict
PROBE_VERDICT_UNREACHABLE: ProbeVerdict

class CredentialInfo(_message.Message):
    __slots__ = ("name", "kind", "hint", "created_at", "revision", "state", "expires_at", "last_refresh", "last_error", "token_url", "client_id", "scope", "key_env")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_REFRESH_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    TOKEN_URL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    KEY_ENV_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: CredentialKind
    hint: str
    created_at: float
    revision: int
    state: CredentialState
    expires_at: float
    last_refresh: float
    last_error: str
    token_url: str
    client_id: str
    scope: str
    key_env: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[CredentialKind, str]] = ..., hint: _Optional[str] = ..., created_at: _Optional[float] = ..., revision: _Optional[int] = ..., state: _Optional[_Union[CredentialState, str]] = ..., expires_at: _Optional[float] = ..., last_refresh: _Optional[float] = ..., last_error: _Optional[str] = ..., token_url: _Optional[str] = ..., client_id: _Optional[str] = ..., scope: _Optional[str] = ..., key_env: _Optional[str] = ...) -> None: ...

class Backend(_message.Message):
    __slots__ = ("name", "kind", "base_url", "credentials", "created_at", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: BackendKind
    base_url: str
    credentials: _containers.RepeatedCompositeFieldContainer[CredentialInfo]
    created_at: float
    source: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[BackendKind, str]] = ..., base_url: _Optional[str] = ..., credentials: _Optional[_Iterable[_Union[CredentialInfo, _Mapping]]] = ..., created_at: _Optional[float] = ..., source: _Optional[str] = ...) -> None: ...

class AddBackendRequest(_message.Message):
    __slots__ = ("name", "kind", "base_url", "credential_name", "api_key", "no_credential", "probe")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_NAME_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    NO_CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: BackendKind
    base_url: str
    credential_name: str
    api_key: str
    no_credential: bool
    probe: bool
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[BackendKind, str]] = ..., base_url: _Optional[str] = ..., credential_name: _Optional[str] = ..., api_key: _Optional[str] = ..., no_credential: _Optional[bool] = ..., probe: _Optional[bool] = ...) -> None: ...

class OAuthParams(_message.Message):
    __slots__ = ("token_url", "client_id", "client_secret", "scope", "access_token", "refresh_token", "expires_in")
    TOKEN_URL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    token_url: str
    client_id: str
    client_secret: str
    scope: str
    access_token: str
    refresh_token: str
    expires_in: float
    def __init__(self, token_url: _Optional[str] = ..., client_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., scope: _Optional[str] = ..., access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., expires_in: _Optional[float] = ...) -> None: ...

class AddCredentialRequest(_message.Message):
    __slots__ = ("backend", "name", "kind", "api_key", "oauth", "replace")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    OAUTH_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    backend: str
    name: str
    kind: CredentialKind
    api_key: str
    oauth: OAuthParams
    replace: bool
    def __init__(self, backend: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[CredentialKind, str]] = ..., api_key: _Optional[str] = ..., oauth: _Optional[_Union[OAuthParams, _Mapping]] = ..., replace: _Optional[bool] = ...) -> None: ...

class AddCredentialResponse(_message.Message):
    __slots__ = ("backend",)
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    backend: Backend
    def __init__(self, backend: _Optional[_Union[Backend, _Mapping]] = ...) -> None: ...

class RemoveCredentialRequest(_message.Message):
    __slots__ = ("backend", "name")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    backend: str
    name: str
    def __init__(self, backend: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RemoveCredentialResponse(_message.Message):
    __slots__ = ("remaining",)
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    remaining: int
    def __init__(self, remaining: _Optional[int] = ...) -> None: ...

class CompleteLoginRequest(_message.Message):
    __slots__ = ("backend", "name", "oauth", "code", "code_verifier", "redirect_uri")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OAUTH_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CODE_VERIFIER_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    backend: str
    name: str
    oauth: OAuthParams
    code: str
    code_verifier: str
    redirect_uri: str
    def __init__(self, backend: _Optional[str] = ..., name: _Optional[str] = ..., oauth: _Optional[_Union[OAuthParams, _Mapping]] = ..., code: _Optional[str] = ..., code_verifier: _Optional[str] = ..., redirect_uri: _Optional[str] = ...) -> None: ...

class CompleteLoginResponse(_message.Message):
    __slots__ = ("backend",)
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    backend: Backend
    def __init__(self, backend: _Optional[_Union[Backend, _Mapping]] = ...) -> None: ...

class RefreshRequest(_message.Message):
    __slots__ = ("backend", "credential", "force", "stale_revision")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    STALE_REVISION_FIELD_NUMBER: _ClassVar[int]
    backend: str
    credential: str
    force: bool
    stale_revision: int
    def __init__(self, backend: _Optional[str] = ..., credential: _Optional[str] = ..., force: _Optional[bool] = ..., stale_revision: _Optional[int] = ...) -> None: ...

class RefreshResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RefreshResult]
    def __init__(self, results: _Optional[_Iterable[_Union[RefreshResult, _Mapping]]] = ...) -> None: ...

class RefreshResult(_message.Message):
    __slots__ = ("backend", "credential", "refreshed", "error")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    REFRESHED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    backend: str
    credential: CredentialInfo
    refreshed: bool
    error: str
    def __init__(self, backend: _Optional[str] = ..., credential: _Optional[_Union[CredentialInfo, _Mapping]] = ..., refreshed: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class AddBackendResponse(_message.Message):
    __slots__ = ("backend", "probe")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    backend: Backend
    probe: ProbeResult
    def __init__(self, backend: _Optional[_Union[Backend, _Mapping]] = ..., probe: _Optional[_Union[ProbeResult, _Mapping]] = ...) -> None: ...

class ProbeResult(_message.Message):
    __slots__ = ("url", "status", "verdict", "message", "credential", "base_url", "models")
    URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    url: str
    status: int
    verdict: ProbeVerdict
    message: str
    credential: str
    base_url: str
    models: int
    def __init__(self, url: _Optional[str] = ..., status: _Optional[int] = ..., verdict: _Optional[_Union[ProbeVerdict, str]] = ..., message: _Optional[str] = ..., credential: _Optional[str] = ..., base_url: _Optional[str] = ..., models: _Optional[int] = ...) -> None: ...

class ProbeBackendRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ProbeBackendResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ProbeResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ProbeResult, _Mapping]]] = ...) -> None: ...

class ListBackendsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBackendsResponse(_message.Message):
    __slots__ = ("backends",)
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    backends: _containers.RepeatedCompositeFieldContainer[Backend]
    def __init__(self, backends: _Optional[_Iterable[_Union[Backend, _Mapping]]] = ...) -> None: ...

class RemoveBackendRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RemoveBackendResponse(_message.Message):
    __slots__ = ("credentials_removed",)
    CREDENTIALS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    credentials_removed: int
    def __init__(self, credentials_removed: _Optional[int] = ...) -> None: ...

class WatchBackendsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchBackendsResponse(_message.Message):
    __slots__ = ("backends", "generation")
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    backends: _containers.RepeatedCompositeFieldContainer[Backend]
    generation: int
    def __init__(self, backends: _Optional[_Iterable[_Union[Backend, _Mapping]]] = ..., generation: _Optional[int] = ...) -> None: ...

class LeaseRequest(_message.Message):
    __slots__ = ("backend", "credential")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    backend: str
    credential: str
    def __init__(self, backend: _Optional[str] = ..., credential: _Optional[str] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ("header_name", "header_value", "expires_at", "revision", "kind")
    HEADER_NAME_FIELD_NUMBER: _ClassVar[int]
    HEADER_VALUE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    header_name: str
    header_value: str
    expires_at: float
    revision: int
    kind: CredentialKind
    def __init__(self, header_name: _Optional[str] = ..., header_value: _Optional[str] = ..., expires_at: _Optional[float] = ..., revision: _Optional[int] = ..., kind: _Optional[_Union[CredentialKind, str]] = ...) -> None: ...

class LeaseResponse(_message.Message):
    __slots__ = ("lease",)
    LEASE_FIELD_NUMBER: _ClassVar[int]
    lease: Lease
    def __init__(self, lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class WatchLeasesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LeaseEntry(_message.Message):
    __slots__ = ("backend", "credential", "lease")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    backend: str
    credential: str
    lease: Lease
    def __init__(self, backend: _Optional[str] = ..., credential: _Optional[str] = ..., lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class WatchLeasesResponse(_message.Message):
    __slots__ = ("leases", "generation")
    LEASES_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[LeaseEntry]
    generation: int
    def __init__(self, leases: _Optional[_Iterable[_Union[LeaseEntry, _Mapping]]] = ..., generation: _Optional[int] = ...) -> None: ...
