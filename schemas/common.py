"""Enums and field building blocks shared by the documented payloads (API 7.9)."""

import re

from marshmallow import ValidationError, fields, validate

USER_ROLES = ("ADMIN", "PARTNER", "USER", "BOT")
SERVICES = ("UNIVERSAL", "ROUTING", "ACCOUNT", "ADMIN", "STUDIO", "MONITOR", "PACKER", "AGRO")
PROCESS_TYPES = ("NOTRACE", "TRACE", "PLAN", "ACTUALIZE", "CONVERT", "VALIDATE", "ROUTE", "MATRIX")
CALCULATION_STATUSES = (
    "WAITING",
    "IN_PROGRESS",
    "FINISHED_IN_TIME",
    "FINISHED_OUT_OF_TIME",
    "CANCELED",
    "CANCELED_BY_TIMEOUT",
    "CANCELED_BY_QUOTA",
    "FAILED",
)
FLOW_TYPES = ("INPUT", "OUTPUT")
FLOW_STAGES = ("RAW",)

# The documented pattern, with the documented (search) semantics of the reference client.
WORD_PATTERN = r"\w+"


def unique_items(items):
    seen = []
    for item in items:
        if item in seen:
            raise ValidationError("Items must be unique.")
        seen.append(item)


def enum_field(values, **kwargs):
    return fields.String(validate=validate.OneOf(values), **kwargs)


def username_field(**kwargs):
    return fields.String(
        validate=[validate.Length(2, 256), validate.Regexp(WORD_PATTERN)],
        metadata={"example": "username_for_login", "description": "Unique username for login."},
        **kwargs,
    )


def company_field(**kwargs):
    return fields.String(
        validate=[validate.Length(3, 256), validate.Regexp(WORD_PATTERN)],
        metadata={"example": "smart_company", "description": "Unique company key."},
        **kwargs,
    )


def password_field(**kwargs):
    return fields.String(
        validate=validate.Length(10, 256),
        load_only=True,
        metadata={"format": "password", "example": "long_strong_password", "description": "Password."},
        **kwargs,
    )


def roles_field(**kwargs):
    return fields.List(
        enum_field(USER_ROLES),
        validate=[validate.Length(0, 2), unique_items],
        metadata={"description": "List of user roles.", "uniqueItems": True},
        **kwargs,
    )


def integer(minimum, maximum, **kwargs):
    return fields.Integer(strict=True, validate=validate.Range(minimum, maximum), **kwargs)


class QueryInteger(fields.Integer):
    """An integer from a query string: plain ASCII digits only. Python's int() would also
    take "1_000", " 5 " and non-ASCII digits, which no client means."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,12}", value):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


def query_integer(minimum, maximum, **kwargs):
    return QueryInteger(validate=validate.Range(minimum, maximum), **kwargs)
