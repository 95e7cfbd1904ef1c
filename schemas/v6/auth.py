"""Token and password payloads (6.20): passwords and tokens of 1..1000 characters."""

from marshmallow import Schema, fields, validate

from schemas.auth import token_json_schema
from schemas.common import integer, roles_field, username_field

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


TOKEN_JSON_SCHEMA = token_json_schema(TOKEN_MIN, TOKEN_MAX, "jwt")
