"""Usage workloads: the heavy user's statistics (31 and 365 days) and 10-year report,
against the raw-aggregate SQL (bench/baseline.py) plus a bare request; the report's worker
memory too."""

from datetime import timedelta

from bench import baseline, dataset
from bench.load import timed
from bench.servers import PeakRss


def statistics(bench, days, name):
    first, last = bench.local_days(bench.heavy, days)
    statements = baseline.statistics_statements(bench.heavy, first, last)

    def check(answer, rows):
        got = [
            (
                d["date"],
                s["service"],
                p["process_type"],
                p["unique_points_per_day"],
                p["points_per_day"],
                p["elements_per_day"],
                p["processes_per_day"],
            )
            for d in answer["dates"]
            for s in d["services"]
            for p in s["processes"]
        ]
        totals, uniques = rows
        unique = {(day, service, kind): count for day, service, kind, count in uniques}
        want = [
            ((first + timedelta(days=int(day))).isoformat(), service, kind, unique.get((day, service, kind), 0))
            + (int(points), int(elements), count)
            for day, service, kind, count, points, elements in totals
        ]
        return got == want and bool(got)

    bench.versus_sql(name, f"/account/statistics?from={first}&to={last}", statements, check)


def report(bench):
    first, last = bench.local_days(bench.heavy, bench.s.report_days)
    path = f"/account/report?from={first}&to={last}"
    headers = bench.auth(dataset.HEAVY)
    walls, growths, sizes, baselines = [], [], [], []
    raw = baseline.statistics_statements(bench.heavy, first, last)
    bench.restart_service()
    timed(bench.service.port, "GET", "/account/info", bench.auth(dataset.LOGIN))  # import paths warmed
    for _ in range(bench.s.report_rounds):
        with PeakRss(bench.service.workers()) as peak:
            wall, payload = timed(bench.service.port, "GET", path, headers)
        walls.append(wall)
        baselines.append(bench.sql_time(raw)[0] + bench.bare_latency())
        growths.append(max(peak.growth_mb.values()))
        sizes.append(len(payload))
    bench.checks["report"] = all(size > 1000 for size in sizes)
    bench.results["report_wall"] = {"unit": "s", "service": walls, "baseline": baselines}
    bench.results["report_rss"] = {"unit": "MB", "service": growths, "absolute": True, "xlsx_bytes": sizes}
    bench.log(f"  report: wall {walls} rss growth MB {growths}")


def report_requests(bench, count):
    first, last = bench.local_days(bench.heavy, bench.s.report_days)
    headers = bench.auth(dataset.HEAVY)
    for _ in range(count):
        timed(bench.service.port, "GET", f"/account/report?from={first}&to={last}", headers)
