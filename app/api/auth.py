"""Tokens and passwords."""

import json

from flask import current_app, g, jsonify, request

from app import db, jsonbody, metrics, throttle
from app.actions import record_own_action
from app.api import operation
from app.auth import login_required, roles_for_token
from app.db import users as user_queries
from app.errors import ApiError
from app.extensions import Blueprint
from app.security import check_password, dummy_check, hash_password, issue_token, unquote_token
from schemas.auth import (
    TOKEN_JSON_SCHEMA,
    TOKEN_MAX,
    TOKEN_MIN,
    PasswordChangeRequest,
    TokenRequest,
    TokenValidationResult,
)

blp = Blueprint("auth", __name__, url_prefix="/account", description="Tokens and passwords.")

_BAD_CREDENTIALS = "Wrong username or password"
_TOKEN_RESPONSE = {"content": {"application/json": {"schema": TOKEN_JSON_SCHEMA}}, "description": "Token (JWT)."}


def _token_response(token):
    # Exactly the JSON string, no trailing newline (jsonify adds one): the reference client
    # returns the body verbatim and sends it back as `Bearer <body>`, where a newline is illegal.
    return current_app.response_class(json.dumps(token), mimetype="application/json")


def _record_for(user, operation, status):
    """An attempt on an existing account is the account's action, whatever its outcome."""
    if user is not None:
        with db.transaction() as conn:
            record_own_action(conn, user, operation, status)


def _reserve_attempt(username, user, operation):
    """One attempt of the username's and the address's, taken before the password is
    checked (see app.throttle), or the 429."""
    try:
        return throttle.reserve(username)
    except throttle.Locked as exc:
        _record_for(user, operation, "CANCELED_BY_QUOTA")
        metrics.lockout()
        raise ApiError(
            429, "Too many failed attempts; try again later", {"Retry-After": str(exc.retry_after)}
        ) from None


@blp.route("/token/generation", methods=["POST"])
@operation(blp, 400, 401, 415, 429, 500)
@blp.arguments(TokenRequest)
@blp.doc(responses={"200": _TOKEN_RESPONSE})
def run_token_generation(data):
    """Get a token for a username and password.

    Wrong username and wrong password give the same 401; a disabled user gets no token.
    Past the configured number of failures the username (and the client address) is
    refused with a 429 and Retry-After, the correct password included.
    """
    config = current_app.config
    username = data["username"]
    with db.connection() as conn:
        user = user_queries.find_user(conn, username)
    attempt = _reserve_attempt(username, user, "run_token_generation")
    if user is None:
        dummy_check(data["password"], config["BCRYPT_ROUNDS"])
        valid = False
    else:
        valid = check_password(data["password"], user["password_hash"]) and user["enabled"]
    if not valid:  # the attempt stays taken: it is the failure
        _record_for(user, "run_token_generation", "FAILED")
        metrics.login_failure()
        raise ApiError(401, _BAD_CREDENTIALS)
    throttle.record_success(attempt)
    metrics.login()
    g.user = user
    with db.transaction() as conn:
        record_own_action(conn, user, "run_token_generation")
    return _token_response(issue_token(config, user, data["ttl_seconds"]))


def token_from_body(minimum=TOKEN_MIN, maximum=TOKEN_MAX):
    """The token of a validation request: a JSON string of the dialect's bounds."""
    if request.mimetype != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    body = jsonbody.loads(jsonbody.read_body(request))
    if not isinstance(body, str):
        raise ApiError(400, "Invalid request: body: must be a JSON string (the token)")
    if not minimum <= len(body) <= maximum:
        raise ApiError(400, f"Invalid request: body: length must be between {minimum} and {maximum}.")
    return body


def validation_result(token):
    """The TokenValidationResult of a token, built here rather than dumped by the schema:
    the platform validates a token on every request (see README, Performance)."""
    roles = roles_for_token(unquote_token(token))
    if roles is None:
        return jsonify(valid=False, roles=[])
    return jsonify(valid=True, roles=roles)


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
@blp.doc(responses={"200": _TOKEN_RESPONSE})
def change_password(data):
    """Change the password and get a new token.

    Every token issued before the change stops being valid at once.
    """
    config = current_app.config
    user = g.user
    attempt = _reserve_attempt(user["username"], user, "change_password")
    if not check_password(data["current_password"], user["password_hash"]):
        _record_for(user, "change_password", "FAILED")
        metrics.login_failure()
        raise ApiError(403, "current_password does not match the current password")
    throttle.record_success(attempt)
    new_hash = hash_password(data["new_password"], config["BCRYPT_ROUNDS"])
    try:
        with db.transaction() as conn:
            version = user_queries.change_password(conn, user, new_hash)
            record_own_action(conn, user, "change_password")
    except user_queries.ConcurrentChange as exc:
        raise ApiError(401, "The password was changed by another request; log in again") from exc
    return _token_response(issue_token(config, {**user, "token_version": version}, 86400))
