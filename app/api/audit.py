"""The caller's actions."""

from flask import g

from app import clock
from app.api import operation
from app.auth import login_required
from app.db import scope
from app.db.ingest import CALCULATION_INFO_COLUMNS
from app.extensions import Blueprint
from app.services import audit
from schemas.processes import AccountAuditResult, AuditQuery

blp = Blueprint("audit", __name__, url_prefix="/account", description="Audit.")


def _tracedata(request):
    """A stored request (the columns of process_requests) -> its Tracedata."""
    trace = dict(request)
    trace["time"] = clock.from_us(trace.pop("time_us"))
    return trace


def action(row):
    return {
        "process_code": row["process_code"],
        "process_type": row["process_type"],
        "username": row["username"],
        "company": row["company"],
        "service": row["service"],
        "time": clock.from_us(row["time_us"]),
        "requests": [_tracedata(request) for request in row["requests"]],
        "statistics": {
            "request_points_count": row["request_points_count"],
            "result_elements_count": row["result_elements_count"],
            "calculation_info": {name: row[name] for name in CALCULATION_INFO_COLUMNS},
        },
        "input_file_exists": row["input_file_exists"],
        "output_file_exists": row["output_file_exists"],
    }


@blp.route("/audit", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AccountAuditResult)
def read_audit(query):
    """The caller's actions in a period (both ends inclusive), filtered, sorted and paged.

    No period: today from 00:00 (the user's timezone) up to now. sort_field is one of
    time, process_code, process_type, service, username, company, status.
    """
    return audit.stream(
        g.user,
        query,
        query,
        query.get("sort_field", "time"),
        scope.V79,  # never a record only the 6.20 dialect can name
        action,
        "counters",
    )
