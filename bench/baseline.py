"""The baselines' SQL: the hand-written statements that give the answers of the statistics
and audit endpoints, timed through psycopg2 against the service."""

from app.db.days import DAY_US, HOUR_US, day_number
from schemas.common import PROCESS_TYPES as KNOWN_TYPES
from schemas.common import SERVICES as KNOWN_SERVICES

# The best hand-written SQL for the statistics answer, of the forms tried on the full data
# set: the totals and the unique points as two statements, each one pass over the user's
# rows of the period (index range on user_id, time_us), the points joined by hash. One
# statement with the period's rows in a MATERIALIZED CTE read by both aggregates was 2 to
# 3 times slower (no parallel scan), a DISTINCT subquery instead of count(DISTINCT) too,
# and a LATERAL index-only join no faster.
STATISTICS_TOTALS_SQL = """
SELECT (time_us - %(start)s) / 86400000000 AS day, service, process_type, count(*),
       coalesce(sum(request_points_count), 0), coalesce(sum(result_elements_count), 0)
FROM processes
WHERE user_id = %(user)s AND time_us >= %(start)s AND time_us < %(end)s
  AND service = ANY(%(services)s) AND process_type = ANY(%(types)s)
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""

STATISTICS_UNIQUES_SQL = """
SELECT (p.time_us - %(start)s) / 86400000000 AS day, p.service, p.process_type, count(DISTINCT k.point_key)
FROM processes p JOIN process_points k ON k.process_code = p.process_code
WHERE p.user_id = %(user)s AND p.time_us >= %(start)s AND p.time_us < %(end)s
  AND p.service = ANY(%(services)s) AND p.process_type = ANY(%(types)s)
GROUP BY 1, 2, 3
"""

_VISIBLE = """service = ANY(%(services)s) AND process_type = ANY(%(types)s)
      AND NOT EXISTS (SELECT 1 FROM process_requests r
                      WHERE r.process_code = p.process_code AND r.service <> ALL(%(services)s))"""

AUDIT_COUNTS_SQL = f"""
SELECT count(*), count(*) FILTER (WHERE time_us >= %(start)s AND time_us <= %(end)s)
FROM processes p WHERE user_id = %(user)s AND {_VISIBLE}
"""

AUDIT_PAGE_SQL = f"""
SELECT * FROM processes p
WHERE user_id = %(user)s AND time_us >= %(start)s AND time_us <= %(end)s AND {_VISIBLE}
ORDER BY time_us, process_code OFFSET %(offset)s LIMIT %(limit)s
"""

AUDIT_REQUESTS_SQL = """
SELECT * FROM process_requests WHERE process_code = ANY(%(codes)s) ORDER BY time_us, request_code
"""


def params(user, start, end, **extra):
    """The statements' parameters: the user's rows from start to end (microseconds) that
    the service shows (its known services and process types)."""
    return {
        "user": user["id"],
        "start": start,
        "end": end,
        "services": list(KNOWN_SERVICES),
        "types": list(KNOWN_TYPES),
        **extra,
    }


def statistics_statements(user, first, last):
    """The raw-aggregate statements of the user's local days first..last, as
    Bench.sql_time takes them."""
    offset = user["timezone"] * HOUR_US
    values = params(user, day_number(first) * DAY_US - offset, (day_number(last) + 1) * DAY_US - offset)

    def statements(_rows):
        yield STATISTICS_TOTALS_SQL, values
        yield STATISTICS_UNIQUES_SQL, values

    return statements
