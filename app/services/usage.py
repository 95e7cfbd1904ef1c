"""Usage: the statistics of a period of the user's local days and the XLSX report, for
both dialects (each passes the Scope of names it shows and shapes the rows itself)."""

from datetime import timedelta
from itertools import groupby
from typing import NamedTuple

from app import clock, db, metrics
from app.db import scope
from app.db.usage import daily_statistics
from app.exceptions import ApiError
from app.report import write_report
from app.services.own_actions import record_own_action

MAX_DAYS = 3653
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Statistics(NamedTuple):
    first: object  # datetime.date, the period's first local day
    last: object  # its last, inclusive
    rows: list  # app.db.usage.StatisticsRow, sorted by day, service, process type


class Report(NamedTuple):
    handle: object  # a binary file holding the workbook
    filename: str


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


def statistics(query, user, names=scope.V79):
    """The user's Statistics of the period of query (from_, to, service, process_type);
    names: the Scope the dialect shows."""
    first, last = period(query, user)
    if first > last:
        return Statistics(first, last, [])
    with db.connection() as conn:
        rows = daily_statistics(
            conn, user["id"], user["timezone"], first, last, query.get("service"), query.get("process_type"), names
        )
    return Statistics(first, last, rows)


def by_day_and_service(rows):
    """StatisticsRows sorted by day, service, process type -> [(day, [(service, [row...])...])...]:
    the nesting of both dialects' UserStatistics."""
    return [
        (day, [(service, list(of_service)) for service, of_service in groupby(of_day, key=lambda row: row.service)])
        for day, of_day in groupby(rows, key=lambda row: row.day)
    ]


def report(query, user, operation_name, names=scope.V79):
    """The XLSX Report of the user's statistics, recorded as their own action
    operation_name (the dialect's operation)."""
    first, last, rows = statistics(query, user, names)
    handle = write_report(rows, user["username"], user["company_key"], first, last, user["timezone"])
    with db.transaction() as conn:
        record_own_action(conn, user, operation_name)
    metrics.report_generated()
    return Report(handle, f"report_{user['username']}_{first.isoformat()}_{last.isoformat()}.xlsx")
