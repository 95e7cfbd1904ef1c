"""The caller's actions (6.20): the audit service, every stored name included."""

from flask import g

from app.api.v6 import PREFIX, mapping, operation
from app.auth import login_required
from app.db import scope
from app.extensions import Blueprint
from app.services import audit
from schemas.v6 import SORT_FIELDS, AccountAuditResult, AuditQuery

blp = Blueprint("v6_audit", __name__, url_prefix=PREFIX, description="Audit.")


@blp.route("/audit", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AccountAuditResult)
def read_audit(query):
    """The caller's actions in a period (both ends inclusive), filtered, sorted and paged.

    No period: today from 00:00 (the user's timezone) up to now. sort_field is one of
    time, code, service_name, method_group, username, company_key. An action's tracedata is
    its first request's; its duration is the sum of its calculation durations.
    """
    return audit.stream(
        g.user,
        query,
        mapping.audit_filters(query),
        SORT_FIELDS[query.get("sort_field", "time")],
        scope.EVERY,
        mapping.audit_action,
        "statistics",
    )
