"""Token and password payloads."""

from marshmallow import Schema, fields

from schemas.common import integer, password_field, roles_field, username_field

TOKEN_MIN, TOKEN_MAX = 10, 1000


class TokenRequest(Schema):
    """Token request."""

    username = username_field(required=True)
    password = password_field(required=True)
    ttl_seconds = integer(
        60, 31556926, load_default=86400, metadata={"example": 86400, "description": "Token validity time, in seconds."}
    )


class TokenValidationResult(Schema):
    """Token validation result."""

    valid = fields.Boolean(required=True, metadata={"description": "Token status."})
    roles = roles_field(required=True)


class PasswordChangeRequest(Schema):
    """Password change request."""

    current_password = password_field(required=True)
    new_password = password_field(required=True)


def token_json_schema(minimum, maximum, example):
    """A JWT travels as a bare JSON string, documented so in the OpenAPI document."""
    return {
        "type": "string",
        "minLength": minimum,
        "maxLength": maximum,
        "description": "Token (JWT).",
        "example": example,
    }


TOKEN_JSON_SCHEMA = token_json_schema(TOKEN_MIN, TOKEN_MAX, "new.jwt.token")
