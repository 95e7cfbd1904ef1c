"""Usage statistics and the XLSX report (6.20): the 7.9 queries, every stored name included."""

from flask import g

from app import v6_mapping
from app.api.statistics import REPORT_RESPONSES, report_response, statistics_rows
from app.api.v6 import PREFIX, operation
from app.auth import login_required
from app.extensions import Blueprint
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
@blp.doc(responses=REPORT_RESPONSES)
def read_report(query):
    """The usage statistics as an .xlsx report (the same workbook as 7.9's)."""
    return report_response(query, g.user, "read_report", known=None)
