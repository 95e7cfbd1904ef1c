"""Usage statistics and the XLSX report."""

from datetime import timedelta

from flask import g, send_file

from app import clock, db, metrics
from app.actions import record_own_action
from app.api import operation
from app.auth import login_required
from app.db.processes import daily_statistics
from app.errors import ApiError
from app.extensions import Blueprint
from app.report import write_report
from schemas.common import PROCESS_TYPES, SERVICES
from schemas.processes import StatisticsQuery
from schemas.statistics import UserStatistics

blp = Blueprint("statistics", __name__, url_prefix="/account", description="Usage statistics.")

MAX_DAYS = 3653
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The report's documented answer, in both dialects.
REPORT_RESPONSES = {
    "200": {
        "description": "Report in XLSX format.",
        "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def local_today(user):
    return (clock.now() + timedelta(hours=user["timezone"])).date()


def period(query, user):
    """(first, last) local days, inclusive. No from: the first day of the current month;
    no to: yesterday. Defaults that cross (on the 1st) give an empty period, not an error."""
    today = local_today(user)
    first = query.get("from_") or today.replace(day=1)
    last = query.get("to") or today - timedelta(days=1)
    if first > last and ("from_" in query or "to" in query):
        raise ApiError(400, "Invalid request: from: must not be after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise ApiError(400, f"Invalid request: the period may span at most {MAX_DAYS} days")
    return first, last


def statistics_rows(query, user, known=(SERVICES, PROCESS_TYPES)):
    """known: the services and process types to report (default: those 7.9 can name; the
    6.20 dialect passes its own)."""
    first, last = period(query, user)
    if first > last:
        return first, last, []
    with db.connection() as conn:
        rows = daily_statistics(
            conn, user["id"], user["timezone"], first, last, query.get("service"), query.get("process_type"), known
        )
    return first, last, rows


def nest(rows):
    """Rows sorted by day, service, process type -> the documented DateStatistics list."""
    dates = []
    for day, service, process_type, unique_points, points, elements, count in rows:
        if not dates or dates[-1]["date"] != day:
            dates.append({"date": day, "services": []})
        services = dates[-1]["services"]
        if not services or services[-1]["service"] != service:
            services.append({"service": service, "processes": []})
        services[-1]["processes"].append(
            {
                "process_type": process_type,
                "unique_points_per_day": unique_points,
                "points_per_day": points,
                "elements_per_day": elements,
                "processes_per_day": count,
            }
        )
    return dates


@blp.route("/statistics", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.arguments(StatisticsQuery, location="query")
@blp.response(200, UserStatistics)
def generate_statistics(query):
    """Usage statistics per local day of the user's base timezone, service and process type.

    No period: the current month up to yesterday. `to` is inclusive. Days without usage
    are left out.
    """
    _, _, rows = statistics_rows(query, g.user)
    return {"username": g.user["username"], "dates": nest(rows)}


@blp.route("/report", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.arguments(StatisticsQuery, location="query")
@blp.doc(responses=REPORT_RESPONSES)
def generate_report(query):
    """The usage statistics as an .xlsx report: a data sheet and a summary with a chart."""
    return report_response(query, g.user, "generate_report")


def report_response(query, user, operation_name, known=(SERVICES, PROCESS_TYPES)):
    """The .xlsx report of the caller's statistics, recorded as their own action
    operation_name (the dialect's operation); known as for statistics_rows."""
    first, last, rows = statistics_rows(query, user, known)
    handle = write_report(rows, user["username"], user["company_key"], first, last, user["timezone"])
    with db.transaction() as conn:
        record_own_action(conn, user, operation_name)
    metrics.report_generated()
    return send_file(
        handle,
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"report_{user['username']}_{first.isoformat()}_{last.isoformat()}.xlsx",
    )
