"""Audit workload: a page of 100 of the heavy user's actions at offset 0 and deep, against
the SQL of bench/baseline.py plus a bare request. The whole history in one page is
bench/audit_whole.py."""

import time
from datetime import UTC, date, datetime, timedelta

from bench import baseline
from bench.baseline import AUDIT_COUNTS_SQL, AUDIT_PAGE_SQL, AUDIT_REQUESTS_SQL


def audit(bench, offset, name):
    start_day = date.today() - timedelta(days=bench.s.scale.days + 1)
    start = int(datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC).timestamp()) * 1_000_000
    end = int(time.time()) * 1_000_000 + 3_600_000_000
    to_text = datetime.fromtimestamp(end / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = f"/account/audit?from={start_day}T00:00:00Z&to={to_text}&offset={offset}&limit=100"
    params = baseline.params(bench.heavy, start, end, offset=offset, limit=100)

    def statements(rows):
        yield AUDIT_COUNTS_SQL, params
        yield AUDIT_PAGE_SQL, params
        yield AUDIT_REQUESTS_SQL, {"codes": [row[0] for row in rows[1]]}

    def check(answer, rows):
        counts, page, requests = rows
        return (
            answer["counters"]["overall"]["total"] == counts[0][0]
            and answer["counters"]["filter"]["total"] == counts[0][1]
            and [a["process_code"] for a in answer["actions"]] == [r[0] for r in page]
            and sum(len(a["requests"]) for a in answer["actions"]) == len(requests)
            and len(page) == 100
        )

    bench.versus_sql(name, path, statements, check)
