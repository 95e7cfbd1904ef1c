"""The caller's own profile (6.20): AccountInfo is both the result and the PUT body."""

from flask import g

from app.api.v6 import PREFIX, mapping, operation
from app.auth import login_required
from app.extensions import Blueprint
from app.services import accounts
from schemas.v6 import AccountInfo

blp = Blueprint("v6_info", __name__, url_prefix=PREFIX, description="Account information.")


@blp.route("/info", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.response(200, AccountInfo)
def read_info():
    """Read the caller's account information."""
    return mapping.account_info(g.user)


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
    accounts.check_own(g.user, {"username": info["username"], "company_key": info["company_key"]})
    g.user = accounts.update_profile(g.user, mapping.profile_changes(info), mapping.INFO_COLUMNS)
    return mapping.account_info(g.user)
