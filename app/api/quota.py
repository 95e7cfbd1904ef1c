"""The caller's quotas."""

from flask import g

from app.api import operation
from app.auth import login_required
from app.extensions import Blueprint
from app.services import accounts
from schemas.quota import QuotasResult

blp = Blueprint("quotas", __name__, url_prefix="/account", description="Quotas.")


@blp.route("/quota", methods=["GET"])
@login_required()
@operation(blp, 401, 404, 500)
@blp.response(200, QuotasResult)
def read_quota():
    """Read the caller's quotas per service and process type.

    A user with no quota at all gets a General404 (resource_key `quota`): the documented
    result needs at least one service.
    """
    grouped = accounts.quotas_by_service(g.user)  # not the 6.20-only ones
    return {"base": {"services": [{"service": service, "processes": quotas} for service, quotas in grouped]}}
