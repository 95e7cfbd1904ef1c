"""The caller's actions."""

from datetime import UTC, datetime, time, timedelta

from flask import g

from app import clock, db
from app.api import operation
from app.auth import login_required
from app.db.processes import CALCULATION_INFO_COLUMNS, audit_chunks, audit_counters
from app.errors import ApiError
from app.extensions import Blueprint
from app.streaming import encode_items, json_answer
from schemas.common import PROCESS_TYPES, SERVICES
from schemas.processes import AccountAuditResult, AuditQuery

blp = Blueprint("audit", __name__, url_prefix="/account", description="Audit.")


def _aware(moment):
    """A date-time without offset is taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit_period(query, user):
    """(start, end) in microseconds, both inclusive. No from: the start of the user's
    local today; no to: now."""
    now = clock.now()
    if "from_" in query:
        start = _aware(query["from_"])
    else:
        offset = timedelta(hours=user["timezone"])
        start = datetime.combine((now + offset).date(), time(), UTC) - offset
    end = _aware(query["to"]) if "to" in query else now
    if start > end:
        raise ApiError(400, "Invalid request: from: must not be after to")
    return clock.to_us(start), clock.to_us(end)


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


def stream_audit(query, filters, sort_field, known, to_action, counters_key):
    """The audit page of the signed-in user, streamed (app.streaming.json_answer): the
    counters first (they close the document), then the actions as they are read."""
    start_us, end_us = audit_period(query, g.user)
    page = (g.user["id"], start_us, end_us, filters)
    conn = db.read_snapshot()
    try:
        overall, filtered = audit_counters(conn, *page, known=known)
        chunks = audit_chunks(
            conn,
            *page,
            sort_field,
            query["sort_direction"] == "DESC",
            query["offset"],
            query["limit"],
            known=known,
        )
        counters = {"overall": {"total": overall}, "filter": {"total": filtered}}

        def encode(rows):
            return encode_items([to_action(row) for row in rows])

        return json_answer(conn, "actions", chunks, encode, {counters_key: counters})
    except BaseException:
        conn.close()
        raise


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
    return stream_audit(
        query,
        query,
        query.get("sort_field", "time"),
        (SERVICES, PROCESS_TYPES),  # never a record only the 6.20 dialect can name
        action,
        "counters",
    )
