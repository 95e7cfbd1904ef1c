"""Issue 12's workloads: the heavy user's timezone change (their roll-ups rebuilt), and
the purge of their oldest six months while token validation runs."""

import json
import subprocess
import threading
import time
from statistics import median

from sqlalchemy import create_engine

import launcher
from app.config import normalize_database_url
from app.db import postgres_connect_args, retention
from app.db.days import DAY_US
from bench import dataset


def timezone_change(bench):
    """The heavy user's timezone moved by an hour and back with `flask account
    set-timezone` (each rebuilds their roll-ups in one transaction). Through the CLI,
    not PUT /v6/account/info: on this shared machine the heavy user's change can
    outlast gunicorn's 30 s request timeout. The time includes the command's start
    (the `--help` of the same command, timed alike, is given beside it)."""
    command = [str(launcher.BIN / "flask"), "--app", "wsgi", "account"]

    def run(*args):
        started = time.perf_counter()
        subprocess.run([*command, *args], cwd=launcher.ROOT, env=bench.service.env, check=True, capture_output=True)
        return time.perf_counter() - started

    tz = bench.heavy["timezone"]
    walls = [run("set-timezone", dataset.HEAVY, str(hours)) for hours in (tz + 1, tz)]
    startup = run("set-timezone", "--help")
    bench.results["timezone_change"] = {"unit": "s", "service": walls, "absolute": True, "startup": startup}
    bench.log(f"  timezone change: {walls} (command start {startup:.2f} s)")


def purge(bench):
    """The heavy user's oldest six months purged with the purge command's batches
    (app.db.retention.purge_batch, 500 processes a transaction) while wrk drives token
    validation; its throughput against runs without the purge, before and after."""
    days = min(182, bench.s.scale.days // 2)
    cutoff_us = dataset.window(bench.s.scale)[0] + days * DAY_US
    headers = {"Content-Type": "application/json"}
    load = [("POST", "/account/token/validation", headers, json.dumps(bench.token(dataset.LOGIN)).encode())]
    seconds = max(1.0, min(2.0, bench.s.duration))
    quiet = [bench.driver.run(bench.service.port, load, duration=seconds)["rps"] for _ in range(2)]
    engine = create_engine(normalize_database_url(bench.url), connect_args=postgres_connect_args(10))
    state = {"purged": 0, "seconds": None}

    def purge():
        started = time.perf_counter()
        while True:
            with engine.begin() as conn:
                count = retention.purge_batch(conn, bench.heavy["id"], cutoff_us, 500)
            state["purged"] += count
            if count < 500:
                break
        state["seconds"] = time.perf_counter() - started

    worker = threading.Thread(target=purge)
    worker.start()
    busy = []
    while worker.is_alive():
        busy.append(bench.driver.run(bench.service.port, load, duration=seconds)["rps"])
    worker.join()
    engine.dispose()
    quiet += [bench.driver.run(bench.service.port, load, duration=seconds)["rps"] for _ in range(2)]
    # The last run may have outlasted the purge: it is left out when there are others.
    during = busy[:-1] or busy
    bench.results["purge_rate"] = {
        "unit": "records/s",
        "service": [state["purged"] / state["seconds"]],
        "absolute": True,
        "processes": state["purged"],
        "seconds": state["seconds"],
    }
    bench.results["purge_token_validation"] = {
        "unit": "requests/s",
        "service": [median(during)],
        "baseline": [median(quiet)],
        "runs_during": busy,
        "runs_without": quiet,
    }
    bench.log(f"  purge: {state}, token validation during {busy}, without {quiet}")
