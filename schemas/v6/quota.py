"""Quotas (6.20): per service and method group."""

from marshmallow import Schema, fields, validate

from schemas.common import enum_field, integer
from schemas.v6.common import METHOD_GROUPS, SERVICE_NAMES


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
