"""Authentication of callers: one decorator per protected view."""

import functools
from copy import deepcopy

from flask import current_app, g, request

from app import db
from app.db.users import find_token_state, find_user_for_token
from app.exceptions import ApiError
from app.security import InvalidToken, decode_token, unquote_token


def _current(raw_token, find):
    """find(conn, username)'s row for a token's user when the token is valid now, else None:
    malformed, forged, expired, revoked (older token_version) or of a disabled user."""
    try:
        claims = decode_token(current_app.config, unquote_token(raw_token))
    except InvalidToken:
        return None
    row = db.lookup(lambda conn: find(conn, claims["sub"]))  # revocation: checked on every call
    if row is None or not row["enabled"] or row["token_version"] != claims["ver"]:
        return None
    return row


def user_for_token(raw_token):
    """The enabled user a token belongs to, or None when the token is not valid now."""
    return _current(raw_token, find_user_for_token)


def roles_for_token(raw_token):
    """The roles of the token's user, or None when the token is not valid now: token
    validation, which reads only what revocation and the answer need."""
    state = _current(raw_token, find_token_state)
    return None if state is None else list(state["roles"])


def bearer_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized():
    return ApiError(401, "Authentication required: a valid bearer token", {"WWW-Authenticate": "Bearer"})


def login_required(roles=None):
    """Require a valid bearer token; with roles, require one of them (403 otherwise)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            token = bearer_token()
            user = user_for_token(token) if token else None
            if user is None:
                raise _unauthorized()
            g.user = user
            if roles and not set(roles) & set(user["roles"]):
                raise ApiError(403, "This operation needs the role " + " or ".join(roles))
            return view(*args, **kwargs)

        wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))
        wrapper._apidoc.setdefault("manual_doc", {})["security"] = [{"ApiKeyAuth": []}]
        return wrapper

    return decorate
