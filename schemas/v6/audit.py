"""User actions (6.20): the audit of processes, in the 6.20 shape."""

from marshmallow import Schema, fields, validate

from schemas.common import company_field, enum_field, integer, query_integer, username_field
from schemas.processes import DURATION_PATTERN, _EmptyMeansAll
from schemas.v6.common import MAX_POINTS, METHOD_GROUPS, SERVICE_NAMES
from schemas.v6.errors import Tracedata


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
