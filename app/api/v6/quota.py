"""The caller's quotas (6.20), with points_per_date_window."""

from flask import g

from app.api.v6 import PREFIX, mapping, operation
from app.auth import login_required
from app.db import scope
from app.extensions import Blueprint
from app.services import accounts
from schemas.v6 import QuotasResult

blp = Blueprint("v6_quotas", __name__, url_prefix=PREFIX, description="Quotas.")


@blp.route("/quota", methods=["GET"])
@login_required()
@operation(blp, 401, 404, 500)
@blp.response(200, QuotasResult)
def read_quota():
    """Read the caller's quotas per service and method group.

    A user with no quota at all gets a General404 (resource_id `quota`).
    """
    return mapping.quotas_result(accounts.quotas_by_service(g.user, scope.EVERY))
