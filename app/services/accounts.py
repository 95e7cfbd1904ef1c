"""The caller's account, for both dialects: logging in, the password, the profile and the
quotas."""

from itertools import groupby

from flask import current_app

from app import db, metrics, throttle
from app.db import scope
from app.db import users as user_queries
from app.db.quotas import list_quotas
from app.exceptions import ApiError, NotFound
from app.security import check_password, dummy_check, hash_password, issue_token
from app.services.own_actions import record_own_action

_BAD_CREDENTIALS = "Wrong username or password"
# A password set through 6.20 must also log in through 7.9: a new one keeps the 7.9 bounds.
NEW_PASSWORD_MIN, NEW_PASSWORD_MAX = 10, 256


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


def log_in(username, password, ttl_seconds, operation="run_token_generation"):
    """(user, token) for a username and password. Wrong username and wrong password are the
    same 401, a disabled user gets none; past the configured number of failures the
    username (and the client address) is a 429 with Retry-After, the correct password
    included."""
    config = current_app.config
    with db.connection() as conn:
        user = user_queries.find_user(conn, username)
    attempt = _reserve_attempt(username, user, operation)
    if user is None:
        dummy_check(password, config["BCRYPT_ROUNDS"])
        valid = False
    else:
        valid = check_password(password, user["password_hash"]) and user["enabled"]
    if not valid:  # the attempt stays taken: it is the failure
        _record_for(user, operation, "FAILED")
        metrics.login_failure()
        raise ApiError(401, _BAD_CREDENTIALS)
    throttle.record_success(attempt)
    metrics.login()
    with db.transaction() as conn:
        record_own_action(conn, user, operation)
    return user, issue_token(config, user, ttl_seconds)


def check_new_password_bounds(new_password):
    """A password set through the 6.20 dialect (1..1000 characters there) must also meet
    the 7.9 bounds, so that it logs in through both dialects."""
    if not NEW_PASSWORD_MIN <= len(new_password) <= NEW_PASSWORD_MAX:
        raise ApiError(
            400,
            f"Invalid request: new_password: length must be between {NEW_PASSWORD_MIN} and {NEW_PASSWORD_MAX}"
            " (so that it also logs in through API 7.9).",
        )


def change_password(user, current_password, new_password, operation="change_password"):
    """The new token of user once current_password is checked and new_password stored;
    every token issued before stops being valid."""
    config = current_app.config
    attempt = _reserve_attempt(user["username"], user, operation)
    if not check_password(current_password, user["password_hash"]):
        _record_for(user, operation, "FAILED")
        metrics.login_failure()
        raise ApiError(403, "current_password does not match the current password")
    throttle.record_success(attempt)
    new_hash = hash_password(new_password, config["BCRYPT_ROUNDS"])
    try:
        with db.transaction() as conn:
            version = user_queries.change_password(conn, user, new_hash)
            record_own_action(conn, user, operation)
    except user_queries.ConcurrentChange as exc:
        raise ApiError(401, "The password was changed by another request; log in again") from exc
    return issue_token(config, {**user, "token_version": version}, 86400)


def check_own(user, claimed):
    """claimed ({field: value} of username and company_key) must be the user's own: they
    cannot be changed (403)."""
    for field, value in claimed.items():
        own = user[field]
        if value != own:
            raise ApiError(403, f"{field}: must be the caller's own ({own}); it cannot be changed")


def update_profile(user, changes, editable=user_queries.EDITABLE_FIELDS, operation="update_info"):
    """Apply changes to the user's editable columns (an absent one stays, None clears it),
    recorded as the user's action; a new timezone rebuilds the daily roll-ups in the same
    transaction (app.db.users.update_profile). Returns the user as stored."""
    with db.transaction() as conn:
        user_queries.update_profile(conn, user["id"], changes, editable)
        record_own_action(conn, user, operation)
        return user_queries.get_user_by_username(conn, user["username"])


def quotas_by_service(user, names=scope.V79):
    """The user's quotas of names (a Scope) as [(service, [quota...])...], sorted by
    service and process type; a user with none is General404 (resource key quota)."""
    with db.connection() as conn:
        rows = list_quotas(conn, user["id"], names)
    if not rows:
        raise NotFound("quota")
    return [(service, list(quotas)) for service, quotas in groupby(rows, key=lambda row: row["service"])]
