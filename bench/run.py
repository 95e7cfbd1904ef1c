"""`make bench`: the Account service against its targets, on a real gunicorn server.

    .venv/bin/python -m bench.run [--tiny] [--rounds N] [--out DIR] [--profile NAME ...]

Creates a private PostgreSQL database beside the one named by ACCOUNT_BENCH_DATABASE_URL
(default postgresql://postgres@127.0.0.1:5432/test), migrates it, loads the data set
(bench/dataset.py), serves the service with gunicorn (gunicorn.conf.py, 2 workers)
and a bare Flask endpoint with the same settings (bench/bare.py), runs every workload
against its baseline interleaved (A B A B ...) for the rounds, prints the table, writes
RESULTS.md and results.json, and drops the database and stops the servers whatever happens.
"""

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import workloads
from bench.harness import Settings, database_url, private_database, running
from bench.load import Driver
from bench.profile import profile_workload
from bench.results import machine, postgres_version, summarize, write_outputs

HERE = Path(__file__).resolve().parent


def run(settings, base_url, out, only=None, use_wrk=True, log=print, profile=()):
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="account_bench_"))
    driver = Driver(workdir, settings.connections, use_wrk)
    document = {"machine": machine(), "settings": asdict(settings), "driver": driver.name}
    profiled = []
    try:
        with private_database(base_url) as (url, _):
            document["postgresql"] = postgres_version(url)
            with running(settings, url, workdir, driver, log) as bench:
                for name in only or workloads.NAMES:
                    workloads.run(bench, name)
                for name in profile:
                    if profile_workload(bench, name, Path(out) / "profiles"):
                        profiled.append(name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    document.update(
        dataset=bench.dataset,
        results=bench.results,
        checks=bench.checks,
        profiles=[f"profiles/{name}.txt" for name in profiled],
        summary=summarize(bench.results),
        finished=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        seconds=time.perf_counter() - started,
    )
    return document


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a tiny data set and one short round (a smoke test)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=float, help="seconds of each throughput run")
    parser.add_argument("--out", default=str(HERE), help="where RESULTS.md and results.json go")
    parser.add_argument("--only", nargs="*", choices=workloads.NAMES, help="run only these workloads")
    parser.add_argument("--profile", nargs="*", default=[], choices=workloads.NAMES, help="py-spy these workloads")
    parser.add_argument("--no-wrk", action="store_true", help="drive the load with Python threads")
    args = parser.parse_args(argv)
    settings = Settings.tiny() if args.tiny else Settings()
    if args.rounds:
        settings.rounds = args.rounds
    if args.duration:
        settings.duration = args.duration
    document = run(settings, database_url(), args.out, args.only, not args.no_wrk, profile=args.profile)
    text = write_outputs(args.out, document)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
