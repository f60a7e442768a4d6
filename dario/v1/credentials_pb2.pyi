from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CredentialInfo(_message.Message):
    __slots__ = ("name", "kind", "hint", "created_at", "revision")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    hint: str
    created_at: float
    revision: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., hint: _Optional[str] = ..., created_at: _Optional[float] = ..., revision: _Optional[int] = ...) -> None: ...

class Backend(_message.Message):
    __slots__ = ("name", "kind", "base_url", "credentials", "created_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    base_url: str
    credentials: _containers.RepeatedCompositeFieldContainer[CredentialInfo]
    created_at: float
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., base_url: _Optional[str] = ..., credentials: _Optional[_Iterable[_Union[CredentialInfo, _Mapping]]] = ..., created_at: _Optional[float] = ...) -> None: ...

class AddBackendRequest(_message.Message):
    __slots__ = ("name", "kind", "base_url", "credential_name", "api_key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_NAME_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    base_url: str
    credential_name: str
    api_key: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., base_url: _Optional[str] = ..., credential_name: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class AddBackendResponse(_message.Message):
    __slots__ = ("backend",)
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    backend: Backend
    def __init__(self, backend: _Optional[_Union[Backend, _Mapping]] = ...) -> None: ...

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

class LeaseResponse(_message.Message):
    __slots__ = ("header_name", "header_value", "expires_at", "revision")
    HEADER_NAME_FIELD_NUMBER: _ClassVar[int]
    HEADER_VALUE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    header_name: str
    header_value: str
    expires_at: float
    revision: int
    def __init__(self, header_name: _Optional[str] = ..., header_value: _Optional[str] = ..., expires_at: _Optional[float] = ..., revision: _Optional[int] = ...) -> None: ...
