"""Usage statistics and the XLSX report."""

from flask import g

from app.api import operation
from app.api.common import REPORT_RESPONSES, report_answer
from app.auth import login_required
from app.extensions import Blueprint
from app.services import usage
from schemas.processes import StatisticsQuery
from schemas.statistics import UserStatistics

blp = Blueprint("statistics", __name__, url_prefix="/account", description="Usage statistics.")


def _process(row):
    return {
        "process_type": row.process_type,
        "unique_points_per_day": row.unique_points,
        "points_per_day": row.points,
        "elements_per_day": row.elements,
        "processes_per_day": row.processes,
    }


def nest(rows):
    """StatisticsRows sorted by day, service, process type -> the documented DateStatistics list."""
    return [
        {
            "date": day,
            "services": [
                {"service": service, "processes": [_process(row) for row in of_service]}
                for service, of_service in services
            ],
        }
        for day, services in usage.by_day_and_service(rows)
    ]


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
    return {"username": g.user["username"], "dates": nest(usage.statistics(query, g.user).rows)}


@blp.route("/report", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 500)
@blp.arguments(StatisticsQuery, location="query")
@blp.doc(responses=REPORT_RESPONSES)
def generate_report(query):
    """The usage statistics as an .xlsx report: a data sheet and a summary with a chart."""
    return report_answer(usage.report(query, g.user, "generate_report"))
