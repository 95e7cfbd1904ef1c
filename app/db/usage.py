"""Usage queries: a user's statistics per local day, service and process type."""

from typing import NamedTuple

from sqlalchemy import BigInteger, distinct, func, literal_column, select

from app.db import rollups, scope
from app.db.days import DAY_US, HOUR_US, day_from_number, day_number
from app.db.tables import process_points, processes


class StatisticsRow(NamedTuple):
    """The usage of one local day, service and process type."""

    day: object  # datetime.date
    service: str
    process_type: str
    unique_points: int
    points: int
    elements: int
    processes: int


def period_filters(user_id, start_us, end_us, service=None, process_type=None):
    """The user's processes from start_us (inclusive) to end_us (exclusive), of the service
    and process type when given."""
    filters = [processes.c.user_id == user_id, processes.c.time_us >= start_us, processes.c.time_us < end_us]
    if service:
        filters.append(processes.c.service == service)
    if process_type:
        filters.append(processes.c.process_type == process_type)
    return filters


def daily_statistics(conn, user_id, tz_hours, first_day, last_day, service=None, process_type=None, names=scope.EVERY):
    """StatisticsRows of the user's local days first_day..last_day (inclusive), sorted by
    day, service and process type, read from the daily roll-ups. names: the Scope of the
    answer; the roll-ups keep the figures of every process and of the 7.9 dialect's
    (scope.V79) apart. tz_hours is the roll-ups' own (they are kept in the user's timezone)."""
    rows = rollups.daily_rows(
        conn, user_id, day_number(first_day), day_number(last_day), service, process_type, names.restricted
    )
    return [
        StatisticsRow(
            day_from_number(row.day),
            row.service,
            row.process_type,
            int(row.unique_points),
            int(row.points),
            int(row.elements),
            int(row.processes),
        )
        for row in rows
        if names.admits(row.service, row.process_type)
    ]


def daily_statistics_raw(
    conn, user_id, tz_hours, first_day, last_day, service=None, process_type=None, names=scope.EVERY
):
    """daily_statistics computed from the raw rows, as it was before the roll-ups: the
    reference the tests compare the roll-ups with (and the benchmark's baseline). The
    roll-ups also answer for purged days, which this cannot."""
    offset = tz_hours * HOUR_US
    start_us = day_number(first_day) * DAY_US - offset
    end_us = (day_number(last_day) + 1) * DAY_US - offset
    filters = period_filters(user_id, start_us, end_us, service, process_type) + scope.clauses(names, True)
    # Inline integer literals (ours, never the caller's text): PostgreSQL must see the same
    # expression in SELECT and GROUP BY, which two bound parameters would not be. The day is
    # counted from the period's first day: the filters keep the dividend non-negative, so SQL's
    # integer division (which truncates toward zero) is the floor even for days before 1970.
    day = (
        (processes.c.time_us + literal_column(f"({int(-start_us)})", BigInteger))
        // literal_column(str(DAY_US), BigInteger)
    ).label("day")
    keys = (day, processes.c.service, processes.c.process_type)
    totals = conn.execute(
        select(
            *keys,
            func.count().label("processes"),
            func.coalesce(func.sum(processes.c.request_points_count), 0).label("points"),
            func.coalesce(func.sum(processes.c.result_elements_count), 0).label("elements"),
        )
        .where(*filters)
        .group_by(*keys)
    ).all()
    uniques = conn.execute(
        select(*keys, func.count(distinct(process_points.c.point_key)).label("unique_points"))
        .select_from(processes.join(process_points, process_points.c.process_code == processes.c.process_code))
        .where(*filters)
        .group_by(*keys)
    ).all()
    unique_by_key = {(row.day, row.service, row.process_type): row.unique_points for row in uniques}
    rows = [
        StatisticsRow(
            day_from_number(day_number(first_day) + row.day),
            row.service,
            row.process_type,
            int(unique_by_key.get((row.day, row.service, row.process_type), 0)),
            int(row.points),
            int(row.elements),
            int(row.processes),
        )
        for row in totals
    ]
    rows.sort(key=lambda row: (row.day, row.service, row.process_type))
    return rows
