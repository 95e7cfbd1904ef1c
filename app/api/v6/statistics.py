"""Usage statistics and the XLSX report (6.20): the usage service, every stored name included."""

from flask import g

from app.api.common import REPORT_RESPONSES, report_answer
from app.api.v6 import PREFIX, mapping, operation
from app.auth import login_required
from app.db import scope
from app.extensions import Blueprint
from app.services import usage
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
    return mapping.user_statistics(g.user["username"], usage.statistics(query, g.user, scope.EVERY).rows)


@blp.route("/report", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.arguments(StatisticsQuery, location="query")
@blp.doc(responses=REPORT_RESPONSES)
def read_report(query):
    """The usage statistics as an .xlsx report (the same workbook as 7.9's)."""
    return report_answer(usage.report(query, g.user, "read_report", scope.EVERY))
