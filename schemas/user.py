"""User profile payloads."""

from marshmallow import Schema, fields, validate

from schemas.common import company_field, integer, password_field, roles_field, unique_items, username_field


class Attribute(Schema):
    """Attribute: service information attached to a user."""

    key = fields.String(required=True, validate=validate.Length(1, 100), metadata={"description": "Attribute's key."})
    value = fields.String(
        required=True, validate=validate.Length(0, 2000), metadata={"description": "Attribute's value."}
    )


def _specification(**kw):
    return fields.String(
        allow_none=True,
        validate=validate.Length(2, 256),
        metadata={"example": "User full name", "description": "User specification."},
        **kw,
    )


def _email(**kw):
    return fields.Email(
        allow_none=True,
        validate=validate.Length(5, 256),
        metadata={"example": "admin@company.com", "description": "User e-mail address."},
        **kw,
    )


def _phone(**kw):
    return fields.String(
        allow_none=True,
        validate=validate.Length(5, 32),
        metadata={"example": "+71112223333", "description": "User phone."},
        **kw,
    )


def _attributes(**kw):
    return fields.List(
        fields.Nested(Attribute),
        validate=[validate.Length(0, 1000), unique_items],
        metadata={"description": "Attributes. Used to add service information.", "uniqueItems": True},
        **kw,
    )


class User(Schema):
    """User. The password is accepted by the documented schema but never returned."""

    username = username_field(required=True)
    password = password_field(allow_none=True)
    specification = _specification()
    email = _email()
    phone = _phone()
    company_key = company_field(required=True)
    enabled = fields.Boolean(dump_default=True, metadata={"description": "User status."})
    roles = roles_field(required=True)
    timezone = integer(-12, 12, dump_default=0, metadata={"example": 3, "description": "Timezone."})
    edit_date = fields.AwareDateTime(allow_none=True, metadata={"description": "Last edit date and time (ISO 8601)."})
    creation_date = fields.AwareDateTime(
        allow_none=True, metadata={"description": "Creation date and time (ISO 8601)."}
    )
    attributes = _attributes()


class InfoChangeRequest(Schema):
    """Info change request: an absent field stays as it is, a field sent as null is cleared."""

    specification = _specification()
    email = _email()
    phone = _phone()
    attributes = _attributes(allow_none=True)
