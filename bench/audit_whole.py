"""The heavy user's whole audit in one page (issue 16): wall time, MB/s and the serving
worker's peak RSS growth, alone and 4 such requests at once.

Part of `make bench` (workload "audit_whole"); also runs on its own, on a smaller user:

    .venv/bin/python -m bench.audit_whole --processes 60000

builds a private database with one user of that many processes (5 requests each), serves
it with gunicorn (gunicorn.conf.py) and prints the figures.
"""

import argparse
import http.client
import json
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta

from bench import baseline, dataset, harness
from bench.load import Driver, timed
from bench.servers import MB, PeakRss

CONCURRENT = 4


def path(bench):
    """The heavy user's whole history (the data set's days and more) in one page."""
    start_day = date.today() - timedelta(days=bench.s.scale.days + 1)
    to_text = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"/account/audit?from={start_day}T00:00:00Z&to={to_text}&limit=10000000"


def _read(port, url, headers, into, index):
    """GET url; into[index] = (status, body bytes, seconds)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        parts = []
        while chunk := response.read(1 << 20):
            parts.append(chunk)
        into[index] = (response.status, b"".join(parts), time.perf_counter() - started)
    except (OSError, http.client.HTTPException) as exc:  # a truncated answer is a failed one
        into[index] = (None, repr(exc).encode(), time.perf_counter() - started)
    finally:
        conn.close()


def _light(pairs):
    """Parse hook keeping only the top of the document: an action (more than 2 keys) is 1."""
    return dict(pairs) if len(pairs) <= 2 else 1


def count_actions(body):
    """Number of actions of a complete, valid audit document, and its filter total; None
    when the body is not one (a strict parse that keeps no action in memory)."""
    try:
        document = json.loads(body, object_pairs_hook=_light)
        return len(document["actions"]), document["counters"]["filter"]["total"]
    except (ValueError, KeyError, TypeError):
        return None


def measure(server, url, headers, concurrency):
    """(answers, per-worker peak RSS growth in MB): concurrency requests at once on fresh
    workers."""
    answers = [None] * concurrency
    clients = [threading.Thread(target=_read, args=(server.port, url, headers, answers, n)) for n in range(concurrency)]
    with PeakRss(server.workers()) as peak:
        for client in clients:
            client.start()
        for client in clients:
            client.join()
    return answers, peak.growth_mb


def expected_total(bench, url):
    """The heavy user's visible processes of the page's period, by the baseline SQL."""
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    start = int(datetime.fromisoformat(query["from"].replace("Z", "+00:00")).timestamp()) * 1_000_000
    end = int(datetime.fromisoformat(query["to"].replace("Z", "+00:00")).timestamp()) * 1_000_000
    with bench.sql.cursor() as cursor:
        cursor.execute(baseline.AUDIT_COUNTS_SQL, baseline.params(bench.heavy, start, end))
        return cursor.fetchone()[1]


def run(bench):
    """Record audit_whole_rss (one request) and audit_whole_x4_rss (4 at once)."""
    url = path(bench)
    headers = bench.auth(dataset.HEAVY)
    want = expected_total(bench, url)
    figures = {}
    for name, concurrency in (("audit_whole_rss", 1), ("audit_whole_x4_rss", CONCURRENT)):
        bench.restart_service()  # fresh workers: the growth is this workload's alone
        timed(bench.service.port, "GET", "/account/info", bench.auth(dataset.LOGIN))
        answers, growth = measure(bench.service, url, headers, concurrency)
        counts = [count_actions(body) if status == 200 else None for status, body, _ in answers]
        complete = all(count == (want, want) for count in counts)
        bench.checks[name] = complete
        seconds = max(answer[2] for answer in answers)
        size = sum(len(answer[1]) for answer in answers)
        value = max(growth.values()) if concurrency == 1 else sum(growth.values())
        note = f"{size / MB:,.0f} MB in {seconds:.1f} s, {size / MB / seconds:.1f} MB/s, {want:,} actions each"
        bench.results[name] = {
            "unit": "MB",
            "service": [value],
            "absolute": True,
            "note": note,
            "seconds": seconds,
            "bytes": size,
            "mb_per_s": size / MB / seconds,
            "actions": want,
            "growth_mb_by_worker": list(growth.values()),
            "complete": complete,
        }
        figures[name] = bench.results[name]
        bench.log(f"  {name}: {note}; peak RSS growth {value:.1f} MB; complete {complete}")
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=60_000)
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args(argv)
    scale = dataset.Scale(users=2, days=365, processes=args.processes, heavy_share=1, requests=args.requests, points=1)
    settings = harness.Settings(scale=scale)
    workdir = tempfile.mkdtemp(prefix="account_bench_audit_")
    with (
        harness.private_database(harness.database_url()) as (url, _),
        harness.running(settings, url, workdir, Driver(workdir, 1, use_wrk=False)) as bench,
    ):
        figures = run(bench)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
