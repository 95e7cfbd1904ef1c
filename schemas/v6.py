"""The legacy API 6.20 dialect (served under /v6): its enums and payloads, with the names
and bounds of the 6.20 reference client (vrt-lss-account 6.20.2258).

Field building blocks of 7.9 are reused where 6.20 has the same bounds.
"""

from marshmallow import Schema, fields, validate

from schemas.common import (
    FLOW_TYPES,
    company_field,
    enum_field,
    integer,
    query_integer,
    roles_field,
    username_field,
)
from schemas.errors import Tracedata as Tracedata79
from schemas.processes import (
    DURATION_PATTERN,
    MAX_BATCH,
    ProcessRecord,
    _EmptyMeansAll,
)
from schemas.processes import (
    AuditActionStatistics as AuditActionStatistics79,
)
from schemas.user import _email, _phone

SERVICE_NAMES = (
    "UNIVERSAL",
    "ROUTING",
    "ACCOUNT",
    "ADMIN",
    "STUDIO",
    "MONITOR",
    "PACKER",
    "AGRO",
    "STOCK",
    "LONGHAUL",
    "CLUSTER",
    "CARGOTIMETABLE",
)
METHOD_GROUPS = (
    "NOTRACE",
    "TRACE",
    "PLAN",
    "ACTUALIZE",
    "REFINE",
    "CONVERT",
    "ANALYTICS",
    "PREDICT",
    "VALIDATE",
    "ROUTE",
    "MATRIX",
    "PACK",
)
FLOW_CONVERTS = ("ORIGIN", "JSON", "XLSX")
# 6.20 counts points up to 10^7 (7.9: 10^8).
MAX_POINTS = 10**7
PASSWORD_MIN, PASSWORD_MAX = 1, 1000
TOKEN_MIN, TOKEN_MAX = 1, 1000


def _password(**kwargs):
    return fields.String(
        required=True,
        validate=validate.Length(PASSWORD_MIN, PASSWORD_MAX),
        load_only=True,
        metadata={"format": "password", "example": "password", "description": "Password."},
        **kwargs,
    )


# Tokens and passwords


class TokenRequest(Schema):
    """Token obtaining data."""

    username = username_field(required=True)
    password = _password()
    ttl_seconds = integer(
        60, 31556926, load_default=86400, metadata={"example": 86400, "description": "Token validity time, in seconds."}
    )


class TokenValidationResult(Schema):
    """Token validation result."""

    valid = fields.Boolean(required=True, metadata={"description": "Token status."})
    roles = roles_field()


class PasswordRequest(Schema):
    """Password change data."""

    current_password = _password()
    new_password = _password()


TOKEN_JSON_SCHEMA = {
    "type": "string",
    "minLength": TOKEN_MIN,
    "maxLength": TOKEN_MAX,
    "description": "Token (JWT).",
    "example": "jwt",
}


# Account


class AccountInfo(Schema):
    """User information: the GET result and the whole PUT body. In a PUT, username and
    company_key must be the caller's; an absent name, email or phone is cleared and an
    absent timezone is 0, the documented defaults."""

    username = username_field(required=True)
    name = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(2, 256),
        metadata={"example": "my_visible_name", "description": "Full name of user."},
    )
    email = _email(load_default=None)
    phone = _phone(load_default=None)
    company_key = company_field(required=True)
    timezone = integer(
        -12,
        12,
        load_default=0,
        dump_default=0,
        metadata={"example": 3, "description": "Basic time zone for statistics."},
    )


# Statistics


class MethodStatistics(Schema):
    """Usage statistics of one method group."""

    method_group = enum_field(METHOD_GROUPS, required=True)
    unique_points_per_day = integer(0, MAX_POINTS, required=True)
    points_per_day = integer(0, MAX_POINTS, required=True)


class ServiceStatistics(Schema):
    """Usage statistics of all the methods of one service."""

    service = enum_field(SERVICE_NAMES, required=True)
    methods = fields.List(fields.Nested(MethodStatistics), required=True, validate=validate.Length(1, 100))


class DateStatistics(Schema):
    """Statistics of one date."""

    date = fields.Date(required=True)
    services = fields.List(fields.Nested(ServiceStatistics), required=True)


class UserStatistics(Schema):
    """Usage statistics of one user per day."""

    username = username_field(required=True)
    dates = fields.List(fields.Nested(DateStatistics), required=True, validate=validate.Length(0, 3653))


class StatisticsQuery(Schema):
    from_ = fields.Date(data_key="from", metadata={"example": "2024-02-22"})
    to = fields.Date(metadata={"example": "2024-02-22"})


# Errors and audit


class Tracedata(Schema):
    """Data for request tracing."""

    code = fields.String(required=True, metadata={"description": "Unique process identifier."})
    client = fields.String(
        required=True,
        validate=[validate.Length(2, 256), validate.Regexp(r"\w+")],
        metadata={"description": "company_key + '_|_' + username.", "example": "company_|_username"},
    )
    server = fields.String(
        required=True, validate=[validate.Length(2, 256), validate.Regexp(r"\w+")], metadata={"example": "server_name"}
    )
    service = enum_field(SERVICE_NAMES, required=True)
    operation = fields.String(required=True, validate=validate.Length(3, 256))
    time = fields.AwareDateTime(required=True)


class _Message(Schema):
    tracedata = fields.Nested(Tracedata, required=True)
    message = fields.String(allow_none=True)


class General400(_Message):
    """400 Error details."""


class General401(_Message):
    """401 Error details."""


class General402(_Message):
    """402 Error details."""


class General403(_Message):
    """403 Error details."""


class General429(_Message):
    """429 Error details."""


class General500(_Message):
    """500 Error details."""


class General404Detail(Schema):
    """Resource details."""

    tracedata = fields.Nested(Tracedata, required=True)


class General404(Schema):
    """404 Error details."""

    resource_id = fields.String(allow_none=True)
    detail = fields.Nested(General404Detail, allow_none=True)


ERRORS_BY_STATUS = {
    400: General400,
    401: General401,
    402: General402,
    403: General403,
    404: General404,
    413: General400,
    415: General400,
    429: General429,
    500: General500,
}


class AuditActionStatistics(Schema):
    """Statistics of one user action."""

    points_count = integer(0, MAX_POINTS, dump_default=0)
    duration = fields.String(
        dump_default="PT0S",
        validate=[validate.Length(3, 16), validate.Regexp(DURATION_PATTERN)],
        metadata={"example": "PT1H45M", "description": "ISO 8601 duration."},
    )


class AuditAction(Schema):
    """One user action."""

    username = username_field(required=True)
    company_key = company_field(required=True)
    tracedata = fields.Nested(Tracedata, required=True)
    method_group = enum_field(METHOD_GROUPS, required=True)
    statistics = fields.Nested(AuditActionStatistics, required=True)


class AuditStatsDetail(Schema):
    total = integer(0, 10**8, required=True)


class AuditStats(Schema):
    """Counters of the records."""

    overall = fields.Nested(AuditStatsDetail, required=True)
    filter = fields.Nested(AuditStatsDetail, required=True)


class AccountAuditResult(Schema):
    """User actions request result."""

    actions = fields.List(fields.Nested(AuditAction), required=True, validate=validate.Length(0, 10**7))
    statistics = fields.Nested(AuditStats, required=True)


# The 6.20 sort fields and the stored columns they sort by.
SORT_FIELDS = {
    "time": "time",
    "code": "process_code",
    "service_name": "service",
    "method_group": "process_type",
    "username": "username",
    "company_key": "company",
}


class AuditQuery(_EmptyMeansAll):
    _ALL_WHEN_EMPTY = ("service_name", "method_group")

    offset = query_integer(0, 10**7, load_default=0)
    limit = query_integer(1, 10**7, load_default=100)
    from_ = fields.DateTime(data_key="from", metadata={"example": "2024-02-21T09:30:00+03:00"})
    to = fields.DateTime(metadata={"example": "2024-02-21T18:00:00+03:00"})
    service_name = enum_field(SERVICE_NAMES)
    operation_id = fields.String(validate=validate.Length(3, 256))
    method_group = enum_field(METHOD_GROUPS)
    sort_field = fields.String(
        validate=[validate.Length(1, 64), validate.OneOf(tuple(SORT_FIELDS))], metadata={"example": "time"}
    )
    sort_direction = fields.String(validate=validate.OneOf(("ASC", "DESC")), load_default="ASC")


# Data


class DataQuery(Schema):
    data_flow_type = enum_field(FLOW_TYPES, load_default="INPUT")
    data_flow_stage = query_integer(
        0, 3, load_default=0, metadata={"description": "0 is the raw data, the only stage stored."}
    )
    data_flow_convert = enum_field(
        FLOW_CONVERTS,
        load_default="ORIGIN",
        metadata={"deprecated": True, "description": "ORIGIN: the stored bytes; JSON or XLSX: converted."},
    )


class TracecodePath(Schema):
    tracecode = fields.UUID(required=True)


# Quotas


class MethodQuota(Schema):
    """Quota of one method group."""

    method_group = enum_field(METHOD_GROUPS, required=True)
    points_per_request = integer(0, 10**6, required=True)
    points_per_day = integer(0, 10**8, required=True)
    points_per_date_window = integer(0, 10**8, allow_none=True)
    max_concurrent_execution = integer(0, 1000, allow_none=True)


class ServiceQuota(Schema):
    """Quotas of one service."""

    service = enum_field(SERVICE_NAMES, required=True)
    methods = fields.List(fields.Nested(MethodQuota), required=True, validate=validate.Length(1, 100))


class QuotaBase(Schema):
    """All services quota."""

    services = fields.List(fields.Nested(ServiceQuota), required=True, validate=validate.Length(1, 100))


class QuotasResult(Schema):
    """Quota request result."""

    base = fields.Nested(QuotaBase, required=True)


# System


class VersionResult(Schema):
    """Service version."""

    major = integer(1, 100, required=True)
    minor = integer(0, 111, required=True)
    build = fields.String(required=True, validate=validate.Length(1, 64))


# Producer API (extension): the 7.9 record with the 6.20 names of services and groups.


class ProducerTracedata(Tracedata79):
    """A request of a process, as in 7.9, naming any 6.20 service."""

    service = enum_field(SERVICE_NAMES, required=True)


class ProducerStatistics(AuditActionStatistics79):
    """The statistics of a process, as in 7.9."""


class ProducerRecord(ProcessRecord):
    """A 7.9 producer record whose service and process_type may be any 6.20 ServiceName and
    MethodGroup (STOCK, PACK, ...)."""

    service = enum_field(SERVICE_NAMES, required=True)
    process_type = enum_field(METHOD_GROUPS, required=True)
    requests = fields.List(fields.Nested(ProducerTracedata), required=True)
    statistics = fields.Nested(ProducerStatistics, required=True)


class ProducerBatch(Schema):
    """A batch of process records (extension of the documented API)."""

    processes = fields.List(fields.Nested(ProducerRecord), required=True, validate=validate.Length(1, MAX_BATCH))
