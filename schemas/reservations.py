"""Quota reservation and usage payloads (an extension beside the documented API)."""

from marshmallow import Schema, fields, validate

from schemas.common import PROCESS_TYPES, SERVICES, enum_field, integer, username_field

DEFAULT_TTL_SECONDS = 600


class ReservationRequest(Schema):
    """May this user start this process now? Sent again with the same process_code, it
    renews the reservation's expiry (a heartbeat)."""

    username = username_field(required=True)
    service = enum_field(SERVICES, required=True)
    process_type = enum_field(PROCESS_TYPES, required=True)
    process_code = fields.UUID(required=True)
    points = integer(0, 10**8, required=True)
    ttl_seconds = integer(
        10,
        86400,
        load_default=DEFAULT_TTL_SECONDS,
        metadata={"description": "Seconds the reservation counts unless renewed or released."},
    )


class ReservationRemaining(Schema):
    """What the quota still allows once this reservation is counted."""

    points_per_day = fields.Integer(required=True)
    concurrent_executions = fields.Integer(required=True)


class Reservation(Schema):
    """A granted reservation."""

    process_code = fields.UUID(required=True)
    username = username_field(required=True)
    service = enum_field(SERVICES, required=True)
    process_type = enum_field(PROCESS_TYPES, required=True)
    points = fields.Integer(required=True)
    expires = fields.AwareDateTime(required=True)
    remaining = fields.Nested(ReservationRemaining, required=True)


class ProcessUsage(Schema):
    """One quota's limits and its use on the user's local day so far."""

    process_type = enum_field(PROCESS_TYPES, required=True)
    points_per_request = fields.Integer(required=True)
    points_per_day = fields.Integer(required=True)
    max_concurrent_execution = fields.Integer(required=True)
    points_per_date_window = fields.Integer(allow_none=True)
    points_used = fields.Integer(required=True, metadata={"description": "Points of the day's stored processes."})
    points_reserved = fields.Integer(
        required=True, metadata={"description": "Points held today by active reservations beyond their records'."}
    )
    active_reservations = fields.Integer(required=True)


class ServiceUsage(Schema):
    service = enum_field(SERVICES, required=True)
    processes = fields.List(fields.Nested(ProcessUsage), required=True)


class QuotaUsage(Schema):
    """The caller's quotas and their use today (the caller's local day)."""

    day = fields.Date(required=True)
    timezone = fields.Integer(required=True)
    services = fields.List(fields.Nested(ServiceUsage), required=True, validate=validate.Length(0, 8))
