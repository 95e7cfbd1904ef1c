"""Tokens and passwords (6.20): the account service behind the 6.20 bounds (passwords 1..1000)."""

from flask import g

from app.api.common import token_from_body, token_response, validation_result
from app.api.v6 import PREFIX, operation
from app.auth import login_required
from app.extensions import Blueprint
from app.services import accounts
from schemas.v6 import TOKEN_JSON_SCHEMA, TOKEN_MAX, TOKEN_MIN, PasswordRequest, TokenRequest, TokenValidationResult

blp = Blueprint("v6_auth", __name__, url_prefix=PREFIX, description="Tokens and passwords.")

_TOKEN_RESPONSE = {"content": {"application/json": {"schema": TOKEN_JSON_SCHEMA}}, "description": "Token (JWT)."}


@blp.route("/token/generation", methods=["POST"])
@operation(blp, 400, 401, 415, 429, 500)
@blp.arguments(TokenRequest)
@blp.doc(responses={"200": _TOKEN_RESPONSE})
def run_token_generation(data):
    """Get a token for a username and password (the same token as 7.9's).

    Wrong username and wrong password give the same 401; failures are throttled as in 7.9.
    """
    g.user, token = accounts.log_in(data["username"], data["password"], data["ttl_seconds"])
    return token_response(token)


@blp.route("/token/validation", methods=["POST"])
@operation(blp, 400, 415, 500)
@blp.response(200, TokenValidationResult)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": TOKEN_JSON_SCHEMA}}})
def run_token_validation():
    """Validate a token (of either dialect).

    Expired, forged, revoked and malformed tokens are not an error: they are `valid: false`.
    """
    return validation_result(token_from_body(TOKEN_MIN, TOKEN_MAX))


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
    accounts.check_new_password_bounds(data["new_password"])
    return token_response(accounts.change_password(g.user, data["current_password"], data["new_password"]))
