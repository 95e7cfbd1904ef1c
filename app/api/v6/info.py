"""The caller's own profile (6.20): AccountInfo is both the result and the PUT body."""

from flask import g

from app import db, v6_mapping
from app.actions import record_own_action
from app.api.v6 import PREFIX, operation
from app.auth import login_required
from app.db import rollups
from app.db import users as user_queries
from app.errors import ApiError
from app.extensions import Blueprint
from schemas.v6 import AccountInfo

blp = Blueprint("v6_info", __name__, url_prefix=PREFIX, description="Account information.")


@blp.route("/info", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.response(200, AccountInfo)
def read_info():
    """Read the caller's account information."""
    return v6_mapping.account_info(g.user)


@blp.route("/info", methods=["PUT"])
@login_required()
@operation(blp, 400, 401, 403, 415, 500)
@blp.arguments(AccountInfo)
@blp.response(200, AccountInfo)
def update_info(info):
    """Replace the caller's name, email, phone and timezone with the whole AccountInfo sent.

    An absent name, email or phone is cleared and an absent timezone is 0 (the documented
    defaults). username and company_key must be the caller's: they cannot be changed (403).
    """
    user = g.user
    for field, own in (("username", user["username"]), ("company_key", user["company_key"])):
        if info[field] != own:
            raise ApiError(403, f"{field}: must be the caller's own ({own}); it cannot be changed")
    changes = v6_mapping.profile_changes(info)
    with db.transaction() as conn:
        # The roll-ups follow a new timezone in the same transaction (rebuilt when it differs).
        rollups.change_timezone(conn, user["id"], changes["timezone"])
        user_queries.update_profile(conn, user["id"], changes, v6_mapping.INFO_COLUMNS)
        record_own_action(conn, user, "update_info")
        g.user = user_queries.get_user_by_username(conn, user["username"])
    return v6_mapping.account_info(g.user)
