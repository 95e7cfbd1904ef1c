"""The caller's account information (6.20)."""

from marshmallow import Schema, fields, validate

from schemas.common import company_field, integer, username_field
from schemas.user import _email, _phone


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
