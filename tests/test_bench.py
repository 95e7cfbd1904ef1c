"""The benchmark suite's own code (bench/), so that `make bench` cannot rot unnoticed.

On PostgreSQL: the whole suite end to end on a tiny data set, one short round (real
gunicorn servers, the data set loader, every workload, the answers checked against the
baseline SQL, RESULTS.md and results.json). On SQLite (the suite needs PostgreSQL): the
load driver against the bare server, the summary and the outputs. wrk is used when it is
installed, Python threads otherwise. No timing is asserted anywhere: only that every
figure is there.
"""

import json
import os
import shutil
from dataclasses import asdict

import psycopg2
import pytest

import launcher
from app.config import normalize_database_url
from bench import results, servers
from bench import run as bench
from bench.harness import Settings
from bench.load import Driver
from bench.profile import summarize as summarize_profile


def _fake_results():
    return {
        "token_validation": {"unit": "requests/s", "service": [300.0, 330.0], "baseline": [1000.0, 1000.0]},
        "token_generation": {"unit": "s", "service": [0.30, 0.31], "baseline": [0.28, 0.28]},
        "report_rss": {"unit": "MB", "service": [12.0, 70.0], "absolute": True},
    }


def test_summary_marks_met_and_missed_with_the_gap(tmp_path):
    rows = {row["name"]: row for row in results.summarize(_fake_results())}
    assert rows["token_validation"]["value"] == pytest.approx(0.315)
    assert rows["token_validation"]["met"] is False
    assert rows["token_validation"]["gap"] == pytest.approx(0.285)
    assert rows["token_generation"]["met"] is True
    assert rows["report_rss"]["value"] == 70.0  # the worst round counts for memory
    assert rows["report_rss"]["met"] is False
    document = {
        "machine": results.machine(),
        "settings": asdict(Settings.tiny()),
        "driver": "python-threads",
        "postgresql": "PostgreSQL 15",
        "dataset": {
            "users": 1,
            "processes": 2,
            "heavy_processes": 1,
            "requests": 3,
            "point_keys": 4,
            "input_files": 0,
            "load_seconds": 0.1,
        },
        "results": _fake_results(),
        "checks": {"statistics_31d": True},
        "summary": list(rows.values()),
        "finished": "now",
        "seconds": 1.0,
    }
    text = results.write_outputs(tmp_path, document)
    assert "**missed** by 0.28" in text and "| met |" in text
    assert json.loads((tmp_path / "results.json").read_text())["summary"][0]["name"] == "token_validation"
    assert (tmp_path / "RESULTS.md").read_text() == text


def test_profile_summary_keeps_request_time_only():
    raw = "\n".join(
        [
            "run (gunicorn/arbiter.py:1);handle_request (gunicorn/workers/sync.py:2);view (app/api/x.py:3) 30",
            "run (gunicorn/arbiter.py:1);handle_request (gunicorn/workers/sync.py:2);execute (psycopg2/x.py:4) 10",
            "run (gunicorn/arbiter.py:1);accept (gunicorn/workers/sync.py:5) 60",
        ]
    )
    text = summarize_profile(raw)
    assert text.startswith("40 samples")
    assert "75.0%  view (app/api/x.py)" in text


def test_driver_against_the_bare_server(tmp_path):
    driver = Driver(tmp_path, connections=2)
    server = launcher.Gunicorn(launcher.environment(), tmp_path, app_spec="bench.bare:app", ready_path="/bare").start()
    try:
        requests = [("POST", "/bare", {"Content-Type": "application/json"}, b'"token"'), ("GET", "/bare", {}, None)]
        counted = driver.run(server.port, requests, limit=40)
        assert counted["requests"] >= 40 and counted["non_2xx"] == 0
        timed = driver.run(server.port, requests, duration=0.5)
        assert timed["requests"] > 0 and timed["rps"] > 0
        assert len(server.workers()) == 2
        assert servers.status_kb(server.workers()[0], "VmRSS") > 0
    finally:
        server.stop()


def test_a_server_that_does_not_start_is_a_launch_error_with_its_log(tmp_path):
    server = launcher.Gunicorn(launcher.environment(), tmp_path, app_spec="bench.missing:app", ready_path="/bare")
    with pytest.raises(launcher.LaunchError, match="No module named 'bench.missing'"):
        server.start()
    assert server.process.poll() is not None  # stopped, not left behind


@pytest.mark.postgresql_only  # the benchmark suite runs on PostgreSQL
def test_tiny_run_end_to_end(database_url, tmp_path):
    document = bench.run(
        Settings.tiny(), database_url, tmp_path, use_wrk=shutil.which("wrk") is not None, log=lambda *_: None
    )
    text = results.write_outputs(tmp_path, document)
    assert {row["name"] for row in document["summary"]} == set(results.TARGETS)
    assert all(document["checks"].values()), document["checks"]  # the service and the baseline SQL agree
    assert document["dataset"]["processes"] == Settings.tiny().scale.processes
    for row in document["summary"]:
        assert row["value"] > 0 or row["name"].endswith("_rss")
        assert row["what"] in text
    assert json.loads((tmp_path / "results.json").read_text())["dataset"] == document["dataset"]
    # The private database is gone.
    conn = psycopg2.connect(normalize_database_url(database_url).replace("+psycopg2", ""))
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_database WHERE datname LIKE %s", (f"account_bench_{os.getpid()}_%",)
            )
            assert cursor.fetchone()[0] == 0
    finally:
        conn.close()
