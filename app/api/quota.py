"""The caller's quotas."""

from itertools import groupby

from flask import g

from app import db
from app.api import operation
from app.auth import login_required
from app.db import NotFound
from app.db.quotas import list_quotas
from app.extensions import Blueprint
from schemas.common import PROCESS_TYPES, SERVICES
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
    with db.connection() as conn:
        rows = list_quotas(conn, g.user["id"], known=(SERVICES, PROCESS_TYPES))  # not the 6.20-only ones
    if not rows:
        raise NotFound("quota")
    services = [
        {"service": service, "processes": list(processes)}
        for service, processes in groupby(rows, key=lambda row: row["service"])
    ]
    return {"base": {"services": services}}
