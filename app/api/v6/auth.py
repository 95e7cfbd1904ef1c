"""Tokens and passwords (6.20): the 7.9 code behind the 6.20 bounds (passwords 1..1000)."""

from app.api import auth as auth79
from app.api.v6 import PREFIX, implementation, operation
from app.auth import login_required
from app.errors import ApiError
from app.extensions import Blueprint
from schemas.v6 import TOKEN_JSON_SCHEMA, TOKEN_MAX, TOKEN_MIN, PasswordRequest, TokenRequest, TokenValidationResult

blp = Blueprint("v6_auth", __name__, url_prefix=PREFIX, description="Tokens and passwords.")

_TOKEN_RESPONSE = {"content": {"application/json": {"schema": TOKEN_JSON_SCHEMA}}, "description": "Token (JWT)."}
# A password set through 6.20 must also log in through 7.9: a new one keeps the 7.9 bounds.
NEW_PASSWORD_MIN, NEW_PASSWORD_MAX = 10, 256


@blp.route("/token/generation", methods=["POST"])
@operation(blp, 400, 401, 415, 429, 500)
@blp.arguments(TokenRequest)
@blp.doc(responses={"200": _TOKEN_RESPONSE})
def run_token_generation(data):
    """Get a token for a username and password (the same token as 7.9's).

    Wrong username and wrong password give the same 401; failures are throttled as in 7.9.
    """
    return implementation(auth79.run_token_generation)(data)


@blp.route("/token/validation", methods=["POST"])
@operation(blp, 400, 415, 500)
@blp.response(200, TokenValidationResult)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": TOKEN_JSON_SCHEMA}}})
def run_token_validation():
    """Validate a token (of either dialect).

    Expired, forged, revoked and malformed tokens are not an error: they are `valid: false`.
    """
    return auth79.validation_result(auth79.token_from_body(TOKEN_MIN, TOKEN_MAX))


@blp.route("/password", methods=["POST"])
@login_required()
@operation(blp, 400, 401, 403, 415, 429, 500)
@blp.arguments(PasswordRequest)
@blp.doc(responses={"200": _TOKEN_RESPONSE})
def change_password(data):
    """Change the password and get a new token; every earlier token stops being valid.

    The new password must also meet the 7.9 bounds (10..256 characters), so that it logs
    in through both dialects.
    """
    if not NEW_PASSWORD_MIN <= len(data["new_password"]) <= NEW_PASSWORD_MAX:
        raise ApiError(
            400,
            f"Invalid request: new_password: length must be between {NEW_PASSWORD_MIN} and {NEW_PASSWORD_MAX}"
            " (so that it also logs in through API 7.9).",
        )
    return implementation(auth79.change_password)(data)
