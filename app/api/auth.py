"""Tokens and passwords."""

from flask import g

from app.api import operation
from app.api.common import TOKEN_RESPONSE, token_from_body, token_response, validation_result
from app.auth import login_required
from app.extensions import Blueprint
from app.services import accounts
from schemas.auth import TOKEN_JSON_SCHEMA, PasswordChangeRequest, TokenRequest, TokenValidationResult

blp = Blueprint("auth", __name__, url_prefix="/account", description="Tokens and passwords.")


@blp.route("/token/generation", methods=["POST"])
@operation(blp, 400, 401, 415, 429, 500)
@blp.arguments(TokenRequest)
@blp.doc(responses={"200": TOKEN_RESPONSE})
def run_token_generation(data):
    """Get a token for a username and password.

    Wrong username and wrong password give the same 401; a disabled user gets no token.
    Past the configured number of failures the username (and the client address) is
    refused with a 429 and Retry-After, the correct password included.
    """
    g.user, token = accounts.log_in(data["username"], data["password"], data["ttl_seconds"])
    return token_response(token)


@blp.route("/token/validation", methods=["POST"])
@operation(blp, 400, 415, 500)
@blp.response(200, TokenValidationResult)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": TOKEN_JSON_SCHEMA}}})
def run_token_validation():
    """Validate a token.

    Expired, forged, revoked and malformed tokens are not an error: they are `valid: false`.
    """
    return validation_result(token_from_body())


@blp.route("/password", methods=["POST"])
@login_required()
@operation(blp, 400, 401, 403, 415, 429, 500)
@blp.arguments(PasswordChangeRequest)
@blp.doc(responses={"200": TOKEN_RESPONSE})
def change_password(data):
    """Change the password and get a new token.

    Every token issued before the change stops being valid at once.
    """
    return token_response(accounts.change_password(g.user, data["current_password"], data["new_password"]))
