from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApiFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    API_FORMAT_UNSPECIFIED: _ClassVar[ApiFormat]
    API_FORMAT_OPENAI: _ClassVar[ApiFormat]
    API_FORMAT_ANTHROPIC: _ClassVar[ApiFormat]
    API_FORMAT_RESPONSES: _ClassVar[ApiFormat]
    API_FORMAT_EMBEDDINGS: _ClassVar[ApiFormat]

class AccountStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_STATUS_UNSPECIFIED: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_OK: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_COOLDOWN: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_QUARANTINED: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_EXHAUSTED: _ClassVar[AccountStatus]
API_FORMAT_UNSPECIFIED: ApiFormat
API_FORMAT_OPENAI: ApiFormat
API_FORMAT_ANTHROPIC: ApiFormat
API_FORMAT_RESPONSES: ApiFormat
API_FORMAT_EMBEDDINGS: ApiFormat
ACCOUNT_STATUS_UNSPECIFIED: AccountStatus
ACCOUNT_STATUS_OK: AccountStatus
ACCOUNT_STATUS_COOLDOWN: AccountStatus
ACCOUNT_STATUS_QUARANTINED: AccountStatus
ACCOUNT_STATUS_EXHAUSTED: AccountStatus

class AcquireRequest(_message.Message):
    __slots__ = ("backend", "candidates", "request_id", "model", "tried")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TRIED_FIELD_NUMBER: _ClassVar[int]
    backend: str
    candidates: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    model: str
    tried: _containers.RepeatedCompositeFieldContainer[Attempt]
    def __init__(self, backend: _Optional[str] = ..., candidates: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ..., model: _Optional[str] = ..., tried: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("credential", "status", "headers", "error_type", "local")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    credential: str
    status: int
    headers: _containers.ScalarMap[str, str]
    error_type: str
    local: bool
    def __init__(self, credential: _Optional[str] = ..., status: _Optional[int] = ..., headers: _Optional[_Mapping[str, str]] = ..., error_type: _Optional[str] = ..., local: _Optional[bool] = ...) -> None: ...

class AcquireResponse(_message.Message):
    __slots__ = ("credential", "queued_ms")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    credential: str
    queued_ms: float
    def __init__(self, credential: _Optional[str] = ..., queued_ms: _Optional[float] = ...) -> None: ...

class Outcome(_message.Message):
    __slots__ = ("request_id", "started_at", "api_format", "backend", "credential", "model", "status", "error_type", "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens", "stream", "acquired", "served_model", "rate_limit_headers", "attempts", "failover", "fallback_from", "queued_ms", "cache_write_tokens", "local", "usage_estimated", "counted_tokens", "bytes_sent", "client", "session", "project", "tags")
    class RateLimitHeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    API_FORMAT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    TTFB_MS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    ACQUIRED_FIELD_NUMBER: _ClassVar[int]
    SERVED_MODEL_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_HEADERS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FAILOVER_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FROM_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    USAGE_ESTIMATED_FIELD_NUMBER: _ClassVar[int]
    COUNTED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    started_at: float
    api_format: ApiFormat
    backend: str
    credential: str
    model: str
    status: int
    error_type: str
    latency_ms: float
    ttfb_ms: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    stream: bool
    acquired: bool
    served_model: str
    rate_limit_headers: _containers.ScalarMap[str, str]
    attempts: int
    failover: str
    fallback_from: str
    queued_ms: float
    cache_write_tokens: int
    local: bool
    usage_estimated: bool
    counted_tokens: int
    bytes_sent: int
    client: str
    session: str
    project: str
    tags: str
    def __init__(self, request_id: _Optional[str] = ..., started_at: _Optional[float] = ..., api_format: _Optional[_Union[ApiFormat, str]] = ..., backend: _Optional[str] = ..., credential: _Optional[str] = ..., model: _Optional[str] = ..., status: _Optional[int] = ..., error_type: _Optional[str] = ..., latency_ms: _Optional[float] = ..., ttfb_ms: _Optional[float] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., reasoning_tokens: _Optional[int] = ..., stream: _Optional[bool] = ..., acquired: _Optional[bool] = ..., served_model: _Optional[str] = ..., rate_limit_headers: _Optional[_Mapping[str, str]] = ..., attempts: _Optional[int] = ..., failover: _Optional[str] = ..., fallback_from: _Optional[str] = ..., queued_ms: _Optional[float] = ..., cache_write_tokens: _Optional[int] = ..., local: _Optional[bool] = ..., usage_estimated: _Optional[bool] = ..., counted_tokens: _Optional[int] = ..., bytes_sent: _Optional[int] = ..., client: _Optional[str] = ..., session: _Optional[str] = ..., project: _Optional[str] = ..., tags: _Optional[str] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("sequence", "outcomes")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    outcomes: _containers.RepeatedCompositeFieldContainer[Outcome]
    def __init__(self, sequence: _Optional[int] = ..., outcomes: _Optional[_Iterable[_Union[Outcome, _Mapping]]] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("sequence",)
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    def __init__(self, sequence: _Optional[int] = ...) -> None: ...

class SummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SummaryResponse(_message.Message):
    __slots__ = ("requests", "input_tokens", "output_tokens", "errors")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    requests: int
    input_tokens: int
    output_tokens: int
    errors: int
    def __init__(self, requests: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., errors: _Optional[int] = ...) -> None: ...

class AccountsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RateWindow(_message.Message):
    __slots__ = ("name", "limit", "remaining", "reset_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESET_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    limit: float
    remaining: float
    reset_at: float
    def __init__(self, name: _Optional[str] = ..., limit: _Optional[float] = ..., remaining: _Optional[float] = ..., reset_at: _Optional[float] = ...) -> None: ...

class AccountState(_message.Message):
    __slots__ = ("backend", "credential", "headroom", "status", "cooldown_until", "in_flight", "windows", "chosen", "last_status")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    HEADROOM_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    backend: str
    credential: str
    headroom: float
    status: AccountStatus
    cooldown_until: float
    in_flight: int
    windows: _containers.RepeatedCompositeFieldContainer[RateWindow]
    chosen: int
    last_status: int
    def __init__(self, backend: _Optional[str] = ..., credential: _Optional[str] = ..., headroom: _Optional[float] = ..., status: _Optional[_Union[AccountStatus, str]] = ..., cooldown_until: _Optional[float] = ..., in_flight: _Optional[int] = ..., windows: _Optional[_Iterable[_Union[RateWindow, _Mapping]]] = ..., chosen: _Optional[int] = ..., last_status: _Optional[int] = ...) -> None: ...

class AccountsResponse(_message.Message):
    __slots__ = ("accounts", "queue_depth", "queue_depth_here", "queue_depth_by_instance")
    class QueueDepthByInstanceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_HERE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_BY_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[AccountState]
    queue_depth: int
    queue_depth_here: int
    queue_depth_by_instance: _containers.ScalarMap[str, int]
    def __init__(self, accounts: _Optional[_Iterable[_Union[AccountState, _Mapping]]] = ..., queue_depth: _Optional[int] = ..., queue_depth_here: _Optional[int] = ..., queue_depth_by_instance: _Optional[_Mapping[str, int]] = ...) -> None: ...

class AnalyticsRequest(_message.Message):
    __slots__ = ("window_seconds", "by", "session", "project", "client", "instance")
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    window_seconds: float
    by: _containers.RepeatedScalarFieldContainer[str]
    session: str
    project: str
    client: str
    instance: str
    def __init__(self, window_seconds: _Optional[float] = ..., by: _Optional[_Iterable[str]] = ..., session: _Optional[str] = ..., project: _Optional[str] = ..., client: _Optional[str] = ..., instance: _Optional[str] = ...) -> None: ...

class AnalyticsResponse(_message.Message):
    __slots__ = ("generated_at", "window_seconds", "window", "all_time", "by_backend", "by_credential", "by_model", "burn_rate", "forecast", "by_session", "by_project", "by_client", "by_instance", "source")
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    ALL_TIME_FIELD_NUMBER: _ClassVar[int]
    BY_BACKEND_FIELD_NUMBER: _ClassVar[int]
    BY_CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    BY_MODEL_FIELD_NUMBER: _ClassVar[int]
    BURN_RATE_FIELD_NUMBER: _ClassVar[int]
    FORECAST_FIELD_NUMBER: _ClassVar[int]
    BY_SESSION_FIELD_NUMBER: _ClassVar[int]
    BY_PROJECT_FIELD_NUMBER: _ClassVar[int]
    BY_CLIENT_FIELD_NUMBER: _ClassVar[int]
    BY_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    generated_at: float
    window_seconds: float
    window: AnalyticsTotals
    all_time: AnalyticsTotals
    by_backend: _containers.RepeatedCompositeFieldContainer[AnalyticsGroup]
    by_credential: _containers.RepeatedCompositeFieldContainer[AnalyticsGroup]
    by_model: _containers.RepeatedCompositeFieldContainer[AnalyticsGroup]
    burn_rate: BurnRate
    forecast: _containers.RepeatedCompositeFieldContainer[Forecast]
    by_session: _containers.RepeatedCompositeFieldContainer[AnalyticsGroup]
    by_project: _containers.RepeatedCompositeFieldContainer[AnalyticsGroup]
    by_client: _containers.RepeatedCompositeFieldContainer[AnalyticsGroup]
    by_instance: _containers.RepeatedCompositeFieldContainer[AnalyticsGroup]
    source: str
    def __init__(self, generated_at: _Optional[float] = ..., window_seconds: _Optional[float] = ..., window: _Optional[_Union[AnalyticsTotals, _Mapping]] = ..., all_time: _Optional[_Union[AnalyticsTotals, _Mapping]] = ..., by_backend: _Optional[_Iterable[_Union[AnalyticsGroup, _Mapping]]] = ..., by_credential: _Optional[_Iterable[_Union[AnalyticsGroup, _Mapping]]] = ..., by_model: _Optional[_Iterable[_Union[AnalyticsGroup, _Mapping]]] = ..., burn_rate: _Optional[_Union[BurnRate, _Mapping]] = ..., forecast: _Optional[_Iterable[_Union[Forecast, _Mapping]]] = ..., by_session: _Optional[_Iterable[_Union[AnalyticsGroup, _Mapping]]] = ..., by_project: _Optional[_Iterable[_Union[AnalyticsGroup, _Mapping]]] = ..., by_client: _Optional[_Iterable[_Union[AnalyticsGroup, _Mapping]]] = ..., by_instance: _Optional[_Iterable[_Union[AnalyticsGroup, _Mapping]]] = ..., source: _Optional[str] = ...) -> None: ...

class AnalyticsTotals(_message.Message):
    __slots__ = ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_usd", "unpriced_requests", "failovers", "fallbacks", "estimated_requests", "latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    UNPRICED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    FAILOVERS_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P95_MS_FIELD_NUMBER: _ClassVar[int]
    TTFB_P50_MS_FIELD_NUMBER: _ClassVar[int]
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float
    unpriced_requests: int
    failovers: int
    fallbacks: int
    estimated_requests: int
    latency_p50_ms: float
    latency_p95_ms: float
    ttfb_p50_ms: float
    def __init__(self, requests: _Optional[int] = ..., errors: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ..., reasoning_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., unpriced_requests: _Optional[int] = ..., failovers: _Optional[int] = ..., fallbacks: _Optional[int] = ..., estimated_requests: _Optional[int] = ..., latency_p50_ms: _Optional[float] = ..., latency_p95_ms: _Optional[float] = ..., ttfb_p50_ms: _Optional[float] = ...) -> None: ...

class AnalyticsGroup(_message.Message):
    __slots__ = ("backend", "credential", "model", "totals", "served_models", "session", "project", "client", "instance")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    SERVED_MODELS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    backend: str
    credential: str
    model: str
    totals: AnalyticsTotals
    served_models: str
    session: str
    project: str
    client: str
    instance: str
    def __init__(self, backend: _Optional[str] = ..., credential: _Optional[str] = ..., model: _Optional[str] = ..., totals: _Optional[_Union[AnalyticsTotals, _Mapping]] = ..., served_models: _Optional[str] = ..., session: _Optional[str] = ..., project: _Optional[str] = ..., client: _Optional[str] = ..., instance: _Optional[str] = ...) -> None: ...

class BurnRate(_message.Message):
    __slots__ = ("tokens_per_minute", "input_tokens_per_minute", "output_tokens_per_minute", "requests_per_minute", "cost_per_hour")
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    COST_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    tokens_per_minute: float
    input_tokens_per_minute: float
    output_tokens_per_minute: float
    requests_per_minute: float
    cost_per_hour: float
    def __init__(self, tokens_per_minute: _Optional[float] = ..., input_tokens_per_minute: _Optional[float] = ..., output_tokens_per_minute: _Optional[float] = ..., requests_per_minute: _Optional[float] = ..., cost_per_hour: _Optional[float] = ...) -> None: ...

class Forecast(_message.Message):
    __slots__ = ("backend", "window", "unit", "credentials", "limit", "remaining", "burn_per_second", "seconds_left", "exhausts_at", "reset_at", "before_reset")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    BURN_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    SECONDS_LEFT_FIELD_NUMBER: _ClassVar[int]
    EXHAUSTS_AT_FIELD_NUMBER: _ClassVar[int]
    RESET_AT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_RESET_FIELD_NUMBER: _ClassVar[int]
    backend: str
    window: str
    unit: str
    credentials: int
    limit: float
    remaining: float
    burn_per_second: float
    seconds_left: float
    exhausts_at: float
    reset_at: float
    before_reset: bool
    def __init__(self, backend: _Optional[str] = ..., window: _Optional[str] = ..., unit: _Optional[str] = ..., credentials: _Optional[int] = ..., limit: _Optional[float] = ..., remaining: _Optional[float] = ..., burn_per_second: _Optional[float] = ..., seconds_left: _Optional[float] = ..., exhausts_at: _Optional[float] = ..., reset_at: _Optional[float] = ..., before_reset: _Optional[bool] = ...) -> None: ...

class WatchAvailabilityRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Unavailable(_message.Message):
    __slots__ = ("backend", "credential", "until")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    backend: str
    credential: str
    until: float
    def __init__(self, backend: _Optional[str] = ..., credential: _Optional[str] = ..., until: _Optional[float] = ...) -> None: ...

class WatchAvailabilityResponse(_message.Message):
    __slots__ = ("unavailable",)
    UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    unavailable: _containers.RepeatedCompositeFieldContainer[Unavailable]
    def __init__(self, unavailable: _Optional[_Iterable[_Union[Unavailable, _Mapping]]] = ...) -> None: ...

class TimelineRequest(_message.Message):
    __slots__ = ("window_seconds", "bucket_seconds", "by")
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    window_seconds: float
    bucket_seconds: float
    by: str
    def __init__(self, window_seconds: _Optional[float] = ..., bucket_seconds: _Optional[float] = ..., by: _Optional[str] = ...) -> None: ...

class TimelineSeries(_message.Message):
    __slots__ = ("key", "requests", "input_tokens", "output_tokens", "cost_usd")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    key: str
    requests: _containers.RepeatedScalarFieldContainer[int]
    input_tokens: _containers.RepeatedScalarFieldContainer[int]
    output_tokens: _containers.RepeatedScalarFieldContainer[int]
    cost_usd: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, key: _Optional[str] = ..., requests: _Optional[_Iterable[int]] = ..., input_tokens: _Optional[_Iterable[int]] = ..., output_tokens: _Optional[_Iterable[int]] = ..., cost_usd: _Optional[_Iterable[float]] = ...) -> None: ...

class TimelineErrors(_message.Message):
    __slots__ = ("status", "requests")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    status: int
    requests: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, status: _Optional[int] = ..., requests: _Optional[_Iterable[int]] = ...) -> None: ...

class TimelineResponse(_message.Message):
    __slots__ = ("generated_at", "window_seconds", "bucket_seconds", "by", "starts", "series", "errors", "latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms", "ttfb_p95_ms")
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    STARTS_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P95_MS_FIELD_NUMBER: _ClassVar[int]
    TTFB_P50_MS_FIELD_NUMBER: _ClassVar[int]
    TTFB_P95_MS_FIELD_NUMBER: _ClassVar[int]
    generated_at: float
    window_seconds: float
    bucket_seconds: float
    by: str
    starts: _containers.RepeatedScalarFieldContainer[float]
    series: _containers.RepeatedCompositeFieldContainer[TimelineSeries]
    errors: _containers.RepeatedCompositeFieldContainer[TimelineErrors]
    latency_p50_ms: _containers.RepeatedScalarFieldContainer[float]
    latency_p95_ms: _containers.RepeatedScalarFieldContainer[float]
    ttfb_p50_ms: _containers.RepeatedScalarFieldContainer[float]
    ttfb_p95_ms: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, generated_at: _Optional[float] = ..., window_seconds: _Optional[float] = ..., bucket_seconds: _Optional[float] = ..., by: _Optional[str] = ..., starts: _Optional[_Iterable[float]] = ..., series: _Optional[_Iterable[_Union[TimelineSeries, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[TimelineErrors, _Mapping]]] = ..., latency_p50_ms: _Optional[_Iterable[float]] = ..., latency_p95_ms: _Optional[_Iterable[float]] = ..., ttfb_p50_ms: _Optional[_Iterable[float]] = ..., ttfb_p95_ms: _Optional[_Iterable[float]] = ...) -> None: ...

class RecentRequestsRequest(_message.Message):
    __slots__ = ("limit", "offset", "backend", "model", "status", "client", "session", "project")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    offset: int
    backend: str
    model: str
    status: int
    client: str
    session: str
    project: str
    def __init__(self, limit: _Optional[int] = ..., offset: _Optional[int] = ..., backend: _Optional[str] = ..., model: _Optional[str] = ..., status: _Optional[int] = ..., client: _Optional[str] = ..., session: _Optional[str] = ..., project: _Optional[str] = ...) -> None: ...

class RecordedRequest(_message.Message):
    __slots__ = ("request_id", "started_at", "api_format", "backend", "credential", "model", "served_model", "status", "error_type", "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd", "stream", "attempts", "failover", "fallback_from", "queued_ms", "client", "session", "project", "tags", "reasoning_tokens")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    API_FORMAT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SERVED_MODEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    TTFB_MS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FAILOVER_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FROM_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    started_at: float
    api_format: str
    backend: str
    credential: str
    model: str
    served_model: str
    status: int
    error_type: str
    latency_ms: float
    ttfb_ms: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    stream: bool
    attempts: int
    failover: str
    fallback_from: str
    queued_ms: float
    client: str
    session: str
    project: str
    tags: str
    reasoning_tokens: int
    def __init__(self, request_id: _Optional[str] = ..., started_at: _Optional[float] = ..., api_format: _Optional[str] = ..., backend: _Optional[str] = ..., credential: _Optional[str] = ..., model: _Optional[str] = ..., served_model: _Optional[str] = ..., status: _Optional[int] = ..., error_type: _Optional[str] = ..., latency_ms: _Optional[float] = ..., ttfb_ms: _Optional[float] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., stream: _Optional[bool] = ..., attempts: _Optional[int] = ..., failover: _Optional[str] = ..., fallback_from: _Optional[str] = ..., queued_ms: _Optional[float] = ..., client: _Optional[str] = ..., session: _Optional[str] = ..., project: _Optional[str] = ..., tags: _Optional[str] = ..., reasoning_tokens: _Optional[int] = ...) -> None: ...

class RecentRequestsResponse(_message.Message):
    __slots__ = ("requests", "total")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[RecordedRequest]
    total: int
    def __init__(self, requests: _Optional[_Iterable[_Union[RecordedRequest, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class PricesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PriceEntry(_message.Message):
    __slots__ = ("pattern", "source", "input", "output", "cache_read", "cache_write", "input_includes_cache_read")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_FIELD_NUMBER: _ClassVar[int]
    INPUT_INCLUDES_CACHE_READ_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    source: str
    input: float
    output: float
    cache_read: float
    cache_write: float
    input_includes_cache_read: bool
    def __init__(self, pattern: _Optional[str] = ..., source: _Optional[str] = ..., input: _Optional[float] = ..., output: _Optional[float] = ..., cache_read: _Optional[float] = ..., cache_write: _Optional[float] = ..., input_includes_cache_read: _Optional[bool] = ...) -> None: ...

class PricesResponse(_message.Message):
    __slots__ = ("prices",)
    PRICES_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[PriceEntry]
    def __init__(self, prices: _Optional[_Iterable[_Union[PriceEntry, _Mapping]]] = ...) -> None: ...
