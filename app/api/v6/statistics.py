"""Usage statistics and the XLSX report (6.20): the 7.9 queries, every stored name included."""

from flask import g, send_file

from app import db, v6_mapping
from app.actions import record_own_action
from app.api.statistics import XLSX, statistics_rows
from app.api.v6 import PREFIX, operation
from app.auth import login_required
from app.extensions import Blueprint
from app.report import write_report
from schemas.v6 import StatisticsQuery, UserStatistics

blp = Blueprint("v6_statistics", __name__, url_prefix=PREFIX, description="Usage statistics.")


@blp.route("/statistics", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.arguments(StatisticsQuery, location="query")
@blp.response(200, UserStatistics)
def generate_statistics(query):
    """Usage statistics per local day of the user's timezone, service and method group.

    No period: the current month up to yesterday. `to` is inclusive. Counts past 10^7 (the
    6.20 bound) are reported as 10^7.
    """
    _, _, rows = statistics_rows(query, g.user, known=None)
    return v6_mapping.user_statistics(g.user["username"], rows)


@blp.route("/report", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.arguments(StatisticsQuery, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "Report in XLSX format.",
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
def read_report(query):
    """The usage statistics as an .xlsx report (the same workbook as 7.9's)."""
    user = g.user
    first, last, rows = statistics_rows(query, user, known=None)
    handle = write_report(rows, user["username"], user["company_key"], first, last)
    with db.transaction() as conn:
        record_own_action(conn, user, "read_report")
    return send_file(
        handle,
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"report_{user['username']}_{first.isoformat()}_{last.isoformat()}.xlsx",
    )
