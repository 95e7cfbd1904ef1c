"""Usage statistics payloads."""

from marshmallow import Schema, fields, validate

from schemas.common import PROCESS_TYPES, SERVICES, enum_field, integer, username_field


class ProcessStatistics(Schema):
    process_type = enum_field(PROCESS_TYPES, required=True)
    unique_points_per_day = integer(0, 10**8, required=True)
    points_per_day = integer(0, 10**8, required=True)
    elements_per_day = integer(0, 10**8, required=True)
    processes_per_day = integer(0, 10**8, required=True)


class ServiceStatistics(Schema):
    service = enum_field(SERVICES, required=True)
    processes = fields.List(fields.Nested(ProcessStatistics), required=True, validate=validate.Length(1, 100))


class DateStatistics(Schema):
    date = fields.Date(required=True)
    services = fields.List(fields.Nested(ServiceStatistics), required=True, validate=validate.Length(0, 8))


class UserStatistics(Schema):
    """Usage statistics of one user per day."""

    username = username_field(required=True)
    dates = fields.List(fields.Nested(DateStatistics), required=True, validate=validate.Length(0, 3653))
