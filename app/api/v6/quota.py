"""The caller's quotas (6.20), with points_per_date_window."""

from flask import g

from app import db, v6_mapping
from app.api.v6 import PREFIX, operation
from app.auth import login_required
from app.db import NotFound
from app.db.quotas import list_quotas
from app.extensions import Blueprint
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
    with db.connection() as conn:
        rows = list_quotas(conn, g.user["id"])
    if not rows:
        raise NotFound("quota")
    return v6_mapping.quotas_result(rows)
