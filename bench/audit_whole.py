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
import os
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta

from bench import dataset
from bench import run as bench_run

MB = 1024 * 1024
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


def _kb(pid, key):
    """The /proc/PID/status figure, or 0 once the process is gone (a worker killed mid-answer)."""
    try:
        return bench_run.status_kb(pid, key)
    except (OSError, KeyError):
        return 0


def measure(server, url, headers, concurrency):
    """(answers, per-worker peak RSS growth in MB): concurrency requests at once on fresh
    workers, their peak read from /proc (polled VmRSS, and VmHWM reset first where the
    kernel allows)."""
    workers = server.workers()
    before = {pid: bench_run.status_kb(pid, "VmRSS") for pid in workers}
    resettable = all(bench_run.reset_peak(pid) for pid in workers)
    peaks = dict(before)
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            for pid in workers:
                peaks[pid] = max(peaks[pid], _kb(pid, "VmRSS"))
            time.sleep(0.005)

    poller = threading.Thread(target=poll)
    poller.start()
    answers = [None] * concurrency
    clients = [threading.Thread(target=_read, args=(server.port, url, headers, answers, n)) for n in range(concurrency)]
    try:
        for client in clients:
            client.start()
        for client in clients:
            client.join()
    finally:
        stop.set()
        poller.join()
    if resettable:
        for pid in workers:
            peaks[pid] = max(peaks[pid], _kb(pid, "VmHWM"))
    return answers, {pid: (peaks[pid] - before[pid]) / 1024 for pid in workers}


def expected_total(bench, url):
    """The heavy user's visible processes of the page's period, by the baseline SQL."""
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    start = int(datetime.fromisoformat(query["from"].replace("Z", "+00:00")).timestamp()) * 1_000_000
    end = int(datetime.fromisoformat(query["to"].replace("Z", "+00:00")).timestamp()) * 1_000_000
    params = {
        "user": bench.heavy["id"],
        "start": start,
        "end": end,
        "services": list(bench_run.KNOWN_SERVICES),
        "types": list(bench_run.KNOWN_TYPES),
    }
    with bench.sql.cursor() as cursor:
        cursor.execute(bench_run.AUDIT_COUNTS_SQL, params)
        return cursor.fetchone()[1]


def run(bench):
    """Record audit_whole_rss (one request) and audit_whole_x4_rss (4 at once)."""
    url = path(bench)
    headers = bench.auth(dataset.HEAVY)
    want = expected_total(bench, url)
    figures = {}
    for name, concurrency in (("audit_whole_rss", 1), ("audit_whole_x4_rss", CONCURRENT)):
        bench.restart_service()  # fresh workers: the growth is this workload's alone
        bench_run.timed(bench.service.port, "GET", "/account/info", bench.auth(dataset.LOGIN))
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
    settings = bench_run.Settings(scale=scale)
    base_url = os.environ.get("ACCOUNT_BENCH_DATABASE_URL") or bench_run.DEFAULT_DATABASE_URL
    workdir = tempfile.mkdtemp(prefix="account_bench_audit_")
    with bench_run.private_database(base_url) as (url, _):
        bench = bench_run.Bench(settings, url, workdir, bench_run.Driver(workdir, 1, use_wrk=False))
        try:
            bench.load()
            bench.start_servers()
            figures = run(bench)
        finally:
            bench.stop_servers()
            bench.sql.close()
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
