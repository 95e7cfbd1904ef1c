"""The caller's own profile."""

from flask import g

from app.api import operation
from app.auth import login_required
from app.extensions import Blueprint
from app.services import accounts
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
    g.user = accounts.update_profile(g.user, changes)
    return g.user
