"""Quota payloads."""

from marshmallow import Schema, fields, validate

from schemas.common import PROCESS_TYPES, SERVICES, enum_field, integer


class ProcessQuota(Schema):
    """Quota for one type of process."""

    process_type = enum_field(PROCESS_TYPES, required=True)
    points_per_request = integer(0, 10**6, required=True)
    points_per_day = integer(0, 10**8, required=True)
    max_concurrent_execution = integer(0, 1000, required=True)


class ServiceQuota(Schema):
    """Quotas of one service."""

    service = enum_field(SERVICES, required=True)
    processes = fields.List(fields.Nested(ProcessQuota), required=True, validate=validate.Length(1, 100))


class QuotaBase(Schema):
    """Quota on all services."""

    services = fields.List(fields.Nested(ServiceQuota), required=True, validate=validate.Length(1, 8))


class QuotasResult(Schema):
    """Quotas of the user."""

    base = fields.Nested(QuotaBase, required=True)
