"""The caller's own profile."""

from flask import g

from app import db
from app.actions import record_own_action
from app.api import operation
from app.auth import login_required
from app.db import users as user_queries
from app.extensions import Blueprint
from schemas.user import InfoChangeRequest, User

blp = Blueprint("info", __name__, url_prefix="/account", description="Account information.")


@blp.route("/info", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.response(200, User)
def read_info():
    """Read the caller's account information."""
    return g.user


@blp.route("/info", methods=["PUT"])
@login_required()
@operation(blp, 400, 401, 415, 500)
@blp.arguments(InfoChangeRequest)
@blp.response(200, User)
def update_info(changes):
    """Update the caller's specification, email, phone and attributes.

    A field that is absent stays as it is; a field sent as null is cleared.
    """
    with db.transaction() as conn:
        user_queries.update_profile(conn, g.user["id"], changes)
        record_own_action(conn, g.user, "update_info")
        g.user = user_queries.get_user_by_username(conn, g.user["username"])
    return g.user
