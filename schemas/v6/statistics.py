"""Usage statistics (6.20): per day, service and method group."""

from marshmallow import Schema, fields, validate

from schemas.common import enum_field, integer, username_field
from schemas.v6.common import MAX_POINTS, METHOD_GROUPS, SERVICE_NAMES


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
