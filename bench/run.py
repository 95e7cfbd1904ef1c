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
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path

import bcrypt
import psycopg2
import psycopg2.extras
from sqlalchemy import create_engine

from app.config import DEFAULTS, normalize_database_url
from app.db import postgres_connect_args, retention, rollups
from app.db.days import DAY_US, HOUR_US, day_number
from app.migrate import upgrade
from app.security import _prehash, issue_token
from bench import dataset
from bench import reservations as reservation_bench
from schemas.common import PROCESS_TYPES as KNOWN_TYPES
from schemas.common import SERVICES as KNOWN_SERVICES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
JWT_SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
BCRYPT_ROUNDS = int(DEFAULTS["BCRYPT_ROUNDS"])  # the configured production cost
MB = 1024 * 1024

# name: (what, measured against, direction, target)
TARGETS = {
    "token_validation": ("POST /account/token/validation throughput", "bare endpoint", ">=", 0.60),
    "info": ("GET /account/info throughput", "bare endpoint", ">=", 0.45),
    "token_generation": ("POST /account/token/generation latency", "bcrypt.checkpw alone", "<=", 1.15),
    # Issue 12: the statistics and report read the daily roll-ups; the baseline is the raw
    # aggregate (the hand-written SQL below) plus a bare request.
    "statistics_31d": ("GET /account/statistics heavy user, 31 days", "raw-aggregate SQL + bare request", "<=", 0.2),
    "statistics_365d": ("GET /account/statistics heavy user, 365 days", "raw-aggregate SQL + bare request", "<=", 0.05),
    "audit_offset_0": ("GET /account/audit heavy user, offset 0", "SQL + bare request", "<=", 1.5),
    "audit_offset_deep": ("GET /account/audit heavy user, offset 150,000", "SQL + bare request", "<=", 1.5),
    "processes_batch": ("POST /account/processes, 1,000 records a batch (roll-ups kept)", "execute_values", ">=", 0.25),
    "report_wall": ("GET /account/report 3,653 days, wall time", "raw-aggregate SQL + bare request", "<=", 0.10),
    "report_rss": ("GET /account/report 3,653 days, worker peak RSS growth (MB)", "absolute", "<=", 60.0),
    "mixed_rss": ("worker RSS growth after 50,000 mixed requests", "RSS after the first 1,000", "<=", 0.10),
    # bench/audit_whole.py (issue 16): the heavy user's whole history in one page.
    "audit_whole_rss": ("GET /account/audit heavy user, whole history: worker RSS growth (MB)", "absolute", "<=", 64.0),
    "audit_whole_x4_rss": ("the same, 4 at once: workers' total peak RSS growth (MB)", "absolute", "<=", 256.0),
    **reservation_bench.TARGETS,
    "timezone_change": ("account set-timezone, heavy user, +1 hour (s)", "absolute", None, None),
    "purge_rate": ("purge of the heavy user's oldest 6 months (records/s)", "absolute", None, None),
    "purge_token_validation": (
        "token validation throughput during that purge",
        "the same without the purge",
        ">=",
        0.5,
    ),
}


@dataclass
class Settings:
    scale: dataset.Scale = field(default_factory=dataset.Scale)
    rounds: int = 5
    duration: float = 5.0  # seconds of each throughput run
    connections: int = 8
    samples: int = 3  # sequential requests per latency measurement and round
    login_samples: int = 4
    batch: int = 1000
    batches: int = 2  # batches per round, for the service and for the baseline each
    audit_deep_offset: int = 150_000
    report_days: int = 3653
    mixed_warm: int = 1_000
    mixed_total: int = 50_000
    report_rounds: int = 3

    @classmethod
    def tiny(cls):
        return cls(
            scale=dataset.TINY,
            rounds=1,
            duration=0.5,
            connections=2,
            samples=1,
            login_samples=1,
            batch=20,
            batches=1,
            audit_deep_offset=300,
            mixed_warm=50,
            mixed_total=200,
            report_rounds=1,
        )


# ---------------------------------------------------------------- machine and database


def machine():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("Flask", "gunicorn", "SQLAlchemy", "psycopg2-binary", "bcrypt", "flask-smorest", "marshmallow"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout + ""
        versions["wrk"] = (out.split() + ["?", "?"])[1]
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
    }


@contextmanager
def private_database(base_url):
    """A database account_bench_<pid> beside the named one, dropped at the end."""
    url = normalize_database_url(base_url).replace("postgresql+psycopg2://", "postgresql://", 1)
    base = psycopg2.extensions.parse_dsn(url)
    name = f"account_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + "/" + name, base
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# ---------------------------------------------------------------------------- servers


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn with gunicorn.conf.py (its worker class and threads) and 2 workers, as the
    README's production."""

    def __init__(self, app_spec, env, logdir, ready_path):
        self.app_spec, self.env, self.ready_path = app_spec, env, ready_path
        self.log = open(Path(logdir) / f"{app_spec.replace(':', '_')}.log", "ab")
        self.process = None
        self.port = None

    def start(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                self.app_spec,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"gunicorn {self.app_spec} exited with {code}: see {self.log.name}")
            try:
                status, _ = request(self.port, "GET", self.ready_path)
                if status == 200 and len(self.workers()) == 2:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn {self.app_spec} did not start")

    def workers(self):
        try:
            text = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self):
        self.stop()
        self.log.close()


def status_kb(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def reset_peak(pid):
    """Reset VmHWM (the peak RSS) to the current RSS; False where the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ------------------------------------------------------------------------ HTTP clients


def request(port, method, path, headers=None, body=None):
    """(status, body bytes) of one request on a fresh connection (sync gunicorn workers
    close the connection after every response anyway)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def timed(port, method, path, headers=None, body=None, expect=200):
    started = time.perf_counter()
    status, payload = request(port, method, path, headers, body)
    elapsed = time.perf_counter() - started
    if status != expect:
        raise RuntimeError(f"{method} {path}: {status} {payload[:300]!r}")
    return elapsed, payload


def _lua_string(text):
    return "[==[" + text + "]==]"


def _wrk_script(requests, limit=None):
    """A wrk script cycling through (method, path, headers, body) requests; with limit,
    the thread stops after that many responses."""
    lines = [
        "local reqs = {}",
        "local i = 0",
        "local done = 0",
        "local shown = false",
        f"local limit = {limit or 0}",
        "init = function(args)",
    ]
    for method, path, headers, body in requests:
        header_table = "{" + ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()) + "}"
        body_text = _lua_string(body.decode() if body else "") if body else "nil"
        lines.append(
            f"  reqs[#reqs + 1] = wrk.format({_lua_string(method)}, {_lua_string(path)}, {header_table}, {body_text})"
        )
    lines += [
        "end",
        "request = function() i = i % #reqs + 1; return reqs[i] end",
        "response = function(status, headers, body)",
        "  done = done + 1",
        "  if status >= 400 and not shown then shown = true; io.write('FAILED ', status, ' ', body, '\\n') end",
        "  if limit > 0 and done >= limit then wrk.thread:stop() end",
        "end",
    ]
    return "\n".join(lines) + "\n"


def _parse_wrk(output):
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not rps or not total:
        raise RuntimeError("unexpected wrk output:\n" + output)
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def _python_load(port, requests, duration=None, limit=None, connections=2):
    """The fallback driver when wrk is missing: closed-loop threads, one request at a time each."""
    lock = threading.Lock()
    state = {"done": 0, "bad": 0, "next": 0}
    deadline = time.perf_counter() + (duration or 1e9)

    def work():
        while time.perf_counter() < deadline:
            with lock:
                if limit and state["next"] >= limit:
                    return
                index = state["next"]
                state["next"] += 1
            method, path, headers, body = requests[index % len(requests)]
            status, _ = request(port, method, path, headers, body)
            with lock:
                state["done"] += 1
                state["bad"] += status >= 400

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"rps": state["done"] / elapsed, "requests": state["done"], "non_2xx": state["bad"], "socket_errors": 0}


class Driver:
    """HTTP load: wrk when it is installed (the bench's normal driver), else Python threads."""

    def __init__(self, workdir, connections, use_wrk=True):
        self.workdir = Path(workdir)
        self.connections = connections
        self.wrk = shutil.which("wrk") if use_wrk else None
        self.name = "wrk" if self.wrk else "python-threads"

    def run(self, port, requests, duration=None, limit=None):
        """Throughput for a duration, or (limit) about that many requests."""
        if not self.wrk:
            return _python_load(port, requests, duration, limit, self.connections)
        if not limit:
            return self._wrk(port, requests, max(1, round(duration)))
        # wrk stops sending at the script's limit but runs out its duration: chunks sized
        # on the rate seen so far keep the idle tail short.
        done, rate, started = 0, None, time.perf_counter()
        while done < limit:
            remaining = limit - done
            seconds = 3 if rate is None else min(30, max(1, math.ceil(remaining / rate * 1.05)))
            result = self._wrk(port, requests, seconds, remaining)
            done += result["requests"]
            rate = max(result["requests"] / seconds, 1.0)
        return {"rps": done / (time.perf_counter() - started), "requests": done, "non_2xx": 0, "socket_errors": 0}

    def _wrk(self, port, requests, seconds, limit=None):
        script = self.workdir / f"load_{uuid.uuid4().hex[:8]}.lua"
        script.write_text(_wrk_script(requests, limit))
        command = [self.wrk, "-t1", f"-c{self.connections}", f"-d{seconds}s", "-s", str(script)]
        command.append(f"http://127.0.0.1:{port}/")
        finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 600)
        if finished.returncode or finished.stderr.strip():
            raise RuntimeError(f"wrk failed: {finished.stderr.strip()[:500]}")
        output = finished.stdout
        result = _parse_wrk(output)
        if result["non_2xx"]:
            failed = re.search(r"^FAILED .*$", output, re.M)
            raise RuntimeError(f"{result['non_2xx']} failed responses under load: {failed and failed.group(0)}")
        return result


# ------------------------------------------------------------------------- workloads


def median(values):
    return statistics.median(values)


class Bench:
    def __init__(self, settings, database_url, workdir, driver, log=print):
        self.s = settings
        self.url = database_url
        self.workdir = Path(workdir)
        self.driver = driver
        self.log = log
        self.results = {}
        self.checks = {}
        # The baseline SQL runs with the service's own session settings (jit=off).
        self.sql = psycopg2.connect(database_url, **postgres_connect_args(10))
        self.sql.autocommit = True
        self.config = {**DEFAULTS, "JWT_SECRET": JWT_SECRET}

    # ------------------------------------------------------------ setup

    def load(self):
        started = time.perf_counter()
        upgrade(self.url)
        engine = create_engine(normalize_database_url(self.url))
        with engine.begin() as conn:
            self.users = dataset.create_users(conn, self.s.scale, BCRYPT_ROUNDS)
        engine.dispose()
        self.heavy = self.users[dataset.HEAVY]
        light = [self.users[dataset.light_name(n)]["id"] for n in range(1, self.s.scale.users)]
        with self.sql.cursor() as cursor:
            dataset.load(cursor, self.s.scale, self.heavy["id"], light)
        # The daily roll-ups of the rows loaded, as the migration builds them (issue 12).
        rollups_started = time.perf_counter()
        engine = create_engine(normalize_database_url(self.url), connect_args=postgres_connect_args(10))
        with engine.begin() as conn:
            rollups.rebuild_all(conn)
        engine.dispose()
        rollup_seconds = round(time.perf_counter() - rollups_started, 1)
        with self.sql.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            cursor.execute(
                "SELECT (SELECT count(*) FROM processes), (SELECT count(*) FROM processes WHERE user_id = %s), "
                "(SELECT count(*) FROM process_requests), (SELECT count(*) FROM process_points), "
                "(SELECT count(*) FROM process_file_chunks), (SELECT count(*) FROM users)",
                (self.heavy["id"],),
            )
            counts = cursor.fetchone()
        self.dataset = dict(
            zip(("processes", "heavy_processes", "requests", "point_keys", "input_files", "users"), counts, strict=True)
        )
        self.dataset["load_seconds"] = round(time.perf_counter() - started, 1)
        self.dataset["rollup_build_seconds"] = rollup_seconds
        self.log(f"data set loaded: {self.dataset}")

    def token(self, username):
        return issue_token(self.config, self.users[username], 7 * 86400)

    def auth(self, username):
        return {"Authorization": f"Bearer {self.token(username)}"}

    def start_servers(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACCOUNT_")}
        env.update(
            ACCOUNT_DATABASE_URL=self.url,
            ACCOUNT_JWT_SECRET=JWT_SECRET,
            ACCOUNT_INSTANCE_PATH=str(self.workdir / "instance"),
            ACCOUNT_ENV_ID="bench",
            ACCOUNT_POD_ID="bench-pod",
            # A batch of 1,000 records with 5 requests and 10 point keys each is ~2.5 MB of JSON.
            ACCOUNT_MAX_CONTENT_LENGTH=str(16 * MB),
            # Every bench login succeeds; the throttle's bookkeeping stays in the measured path.
            ACCOUNT_LOGIN_THROTTLE="true",
            # No load balancer to wait for: a restart need not drain (README, Graceful shutdown).
            ACCOUNT_SHUTDOWN_DELAY="0",
        )
        self.service = Server("wsgi:app", env, self.workdir, "/account/system/version").start()
        self.bare = Server("bench.bare:app", env, self.workdir, "/bare").start()

    def restart_service(self):
        self.service.stop()
        self.service.start()

    def stop_servers(self):
        for name in ("service", "bare"):
            server = getattr(self, name, None)
            if server:
                server.close()

    # ------------------------------------------------------------ helpers

    def record(self, name, service, baseline, unit, **extra):
        """Per round values of the service (A) and the baseline (B)."""
        self.results[name] = {"unit": unit, "service": service, "baseline": baseline, **extra}
        self.log(f"  {name}: service {service} baseline {baseline}")

    def local_days(self, user, days):
        today = (datetime.now(UTC) + timedelta(hours=user["timezone"])).date()
        last = today - timedelta(days=1)
        return last - timedelta(days=days - 1), last

    def bare_latency(self):
        return timed(self.bare.port, "GET", "/bare")[0]

    # ------------------------------------------------------------ throughput

    def throughput(self, name, method, path, headers, body):
        bare_body = json.dumps(body).encode() if body is not None else None
        real = [(method, path, headers, bare_body)]
        bare = [(method, "/bare", {k: v for k, v in headers.items() if k != "Authorization"}, bare_body)]
        self.driver.run(self.service.port, real, duration=min(1.0, self.s.duration))  # warm both
        self.driver.run(self.bare.port, bare, duration=min(1.0, self.s.duration))
        service, baseline = [], []
        for _ in range(self.s.rounds):
            service.append(self.driver.run(self.service.port, real, duration=self.s.duration)["rps"])
            baseline.append(self.driver.run(self.bare.port, bare, duration=self.s.duration)["rps"])
        self.record(name, service, baseline, "requests/s", higher_is_better=True)

    def token_validation(self):
        headers = {"Content-Type": "application/json"}
        status, payload = request(
            self.service.port, "POST", "/account/token/validation", headers, json.dumps(self.token(dataset.LOGIN))
        )
        self.checks["token_validation"] = status == 200 and json.loads(payload)["valid"] is True
        self.throughput("token_validation", "POST", "/account/token/validation", headers, self.token(dataset.LOGIN))

    def info(self):
        self.throughput("info", "GET", "/account/info", self.auth(dataset.LOGIN), None)

    # ------------------------------------------------------------ latency

    def token_generation(self):
        body = json.dumps({"username": dataset.LOGIN, "password": dataset.PASSWORD}).encode()
        headers = {"Content-Type": "application/json"}
        password_hash = self.users[dataset.LOGIN]["password_hash"].encode()
        prehashed = _prehash(dataset.PASSWORD)
        timed(self.service.port, "POST", "/account/token/generation", headers, body)
        service, baseline = [], []
        for _ in range(self.s.rounds):
            runs = [timed(self.service.port, "POST", "/account/token/generation", headers, body)[0]]
            runs += [timed(self.service.port, "POST", "/account/token/generation", headers, body)[0]]
            runs += [
                timed(self.service.port, "POST", "/account/token/generation", headers, body)[0]
                for _ in range(self.s.login_samples - 2)
            ]
            service.append(median(runs))
            checks = []
            for _ in range(self.s.login_samples):
                started = time.perf_counter()
                assert bcrypt.checkpw(prehashed, password_hash)
                checks.append(time.perf_counter() - started)
            baseline.append(median(checks))
        self.record("token_generation", service, baseline, "s", bcrypt_rounds=BCRYPT_ROUNDS)

    def sql_time(self, statements):
        """Seconds to run the hand-written statements through psycopg2, and their rows."""
        started = time.perf_counter()
        rows = []
        with self.sql.cursor() as cursor:
            for statement, params in statements(rows):
                cursor.execute(statement, params)
                rows.append(cursor.fetchall())
        return time.perf_counter() - started, rows

    def versus_sql(self, name, method_path, statements, check):
        headers = self.auth(dataset.HEAVY)
        _, payload = timed(self.service.port, "GET", method_path, headers)  # warm, and check the answer
        _, rows = self.sql_time(statements)
        self.checks[name] = check(json.loads(payload), rows)
        service, baseline, sql_only, bare_only = [], [], [], []
        for _ in range(self.s.rounds):
            runs = [timed(self.service.port, "GET", method_path, headers)[0] for _ in range(self.s.samples)]
            service.append(median(runs))
            sql = median([self.sql_time(statements)[0] for _ in range(self.s.samples)])
            bare = median([self.bare_latency() for _ in range(self.s.samples)])
            sql_only.append(sql)
            bare_only.append(bare)
            baseline.append(sql + bare)
        self.record(name, service, baseline, "s", sql=sql_only, bare=bare_only)

    def statistics(self, days, name):
        first, last = self.local_days(self.heavy, days)
        offset = self.heavy["timezone"] * HOUR_US
        start = day_number(first) * DAY_US - offset
        end = (day_number(last) + 1) * DAY_US - offset
        params = {
            "user": self.heavy["id"],
            "start": start,
            "end": end,
            "services": list(KNOWN_SERVICES),
            "types": list(KNOWN_TYPES),
        }

        def statements(_rows):
            yield STATISTICS_TOTALS_SQL, params
            yield STATISTICS_UNIQUES_SQL, params

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

        self.versus_sql(name, f"/account/statistics?from={first}&to={last}", statements, check)

    def audit(self, offset, name):
        start_day = date.today() - timedelta(days=self.s.scale.days + 1)
        start = int(datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC).timestamp()) * 1_000_000
        end = int(time.time()) * 1_000_000 + 3_600_000_000
        to_text = datetime.fromtimestamp(end / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"/account/audit?from={start_day}T00:00:00Z&to={to_text}&offset={offset}&limit=100"
        params = {
            "user": self.heavy["id"],
            "start": start,
            "end": end,
            "services": list(KNOWN_SERVICES),
            "types": list(KNOWN_TYPES),
            "offset": offset,
            "limit": 100,
        }

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

        self.versus_sql(name, path, statements, check)

    # ------------------------------------------------------------ ingestion

    def batch_records(self):
        user = self.users[dataset.light_name(1)]
        start_us, end_us = dataset.window(self.s.scale)
        records = []
        for number in range(self.s.batch):
            code = str(uuid.uuid4())
            moment = datetime.fromtimestamp((start_us + (number * 7_777_777_777) % (end_us - start_us)) / 1e6, UTC)
            stamp = moment.isoformat()
            records.append(
                {
                    "process_code": code,
                    "process_type": "PLAN",
                    "username": user["username"],
                    "company": user["company_key"],
                    "service": "ROUTING",
                    "time": stamp,
                    "requests": [
                        {
                            "process_code": code,
                            "request_code": str(uuid.uuid4()),
                            "username": user["username"],
                            "company": user["company_key"],
                            "service": "ROUTING",
                            "operation": dataset.OPERATIONS[k],
                            "env": "bench",
                            "pod": f"pod-{k}",
                            "time": stamp,
                        }
                        for k in range(self.s.scale.requests)
                    ],
                    "statistics": {
                        "request_points_count": 100 + number,
                        "result_elements_count": 50,
                        "calculation_info": {
                            "status": "FINISHED_IN_TIME",
                            "result_version": 1,
                            "preparing_time": "PT1S",
                            "business_validation_time": "PT2S",
                            "math_validation_time": "PT3S",
                            "waiting_time": "PT4S",
                            "calculation_time": "PT1M30S",
                        },
                    },
                    "point_keys": [f"pt-{(number * 13 + k * 7919) % 20000}" for k in range(self.s.scale.points)],
                }
            )
        return user, records

    def execute_values(self, user, records):
        """The baseline: the same rows inserted by psycopg2 execute_values, one transaction."""
        conn = psycopg2.connect(self.url)
        try:
            with conn, conn.cursor() as cursor:
                process_rows, request_rows, point_rows = [], [], []
                for record in records:
                    us = int(datetime.fromisoformat(record["time"]).timestamp() * 1_000_000)
                    info = record["statistics"]["calculation_info"]
                    process_rows.append(
                        (
                            record["process_code"],
                            user["id"],
                            record["username"],
                            record["company"],
                            record["service"],
                            record["process_type"],
                            us,
                            info["status"],
                            info["result_version"],
                            info["preparing_time"],
                            info["business_validation_time"],
                            info["math_validation_time"],
                            info["waiting_time"],
                            info["calculation_time"],
                            record["statistics"]["request_points_count"],
                            record["statistics"]["result_elements_count"],
                            False,
                            False,
                        )
                    )
                    request_rows += [
                        (
                            r["process_code"],
                            r["request_code"],
                            r["username"],
                            r["company"],
                            r["service"],
                            r["operation"],
                            r["env"],
                            r["pod"],
                            us,
                        )
                        for r in record["requests"]
                    ]
                    point_rows += [(record["process_code"], key) for key in record["point_keys"]]
                psycopg2.extras.execute_values(
                    cursor, "INSERT INTO processes VALUES %s", process_rows, page_size=len(process_rows)
                )
                psycopg2.extras.execute_values(
                    cursor, "INSERT INTO process_requests VALUES %s", request_rows, page_size=1000
                )
                psycopg2.extras.execute_values(
                    cursor, "INSERT INTO process_points VALUES %s", point_rows, page_size=1000
                )
        finally:
            conn.close()

    def processes_batch(self):
        headers = {**self.auth(dataset.ADMIN), "Content-Type": "application/json"}

        def service_once():
            _, records = self.batch_records()
            body = json.dumps({"processes": records}).encode()
            return timed(self.service.port, "POST", "/account/processes", headers, body)[0]

        def baseline_once():
            user, records = self.batch_records()
            started = time.perf_counter()
            self.execute_values(user, records)
            return time.perf_counter() - started

        service_once()
        baseline_once()
        service, baseline = [], []
        n = self.s.batch * self.s.batches
        for _ in range(self.s.rounds):
            service.append(n / sum(service_once() for _ in range(self.s.batches)))
            baseline.append(n / sum(baseline_once() for _ in range(self.s.batches)))
        self.record("processes_batch", service, baseline, "records/s", higher_is_better=True, batch=self.s.batch)

    # ------------------------------------------------------------ memory

    def report(self):
        first, last = self.local_days(self.heavy, self.s.report_days)
        path = f"/account/report?from={first}&to={last}"
        headers = self.auth(dataset.HEAVY)
        walls, growths, sizes, baselines = [], [], [], []
        raw = self.raw_statistics_params(first, last)
        self.restart_service()
        timed(self.service.port, "GET", "/account/info", self.auth(dataset.LOGIN))  # import paths warmed
        for _ in range(self.s.report_rounds):
            workers = self.service.workers()
            before = {pid: status_kb(pid, "VmRSS") for pid in workers}
            resettable = all(reset_peak(pid) for pid in workers)
            peaks = {pid: before[pid] for pid in workers}
            stop = threading.Event()

            def poll(workers=workers, peaks=peaks, stop=stop):
                while not stop.is_set():
                    for pid in workers:
                        peaks[pid] = max(peaks[pid], status_kb(pid, "VmRSS"))
                    time.sleep(0.005)

            poller = threading.Thread(target=poll)
            poller.start()
            try:
                wall, payload = timed(self.service.port, "GET", path, headers)
            finally:
                stop.set()
                poller.join()
            if resettable:
                for pid in workers:
                    peaks[pid] = max(peaks[pid], status_kb(pid, "VmHWM"))
            walls.append(wall)
            baselines.append(self.sql_time(raw)[0] + self.bare_latency())
            growths.append(max(peaks[pid] - before[pid] for pid in workers) / 1024)
            sizes.append(len(payload))
        self.checks["report"] = all(size > 1000 for size in sizes)
        self.results["report_wall"] = {"unit": "s", "service": walls, "baseline": baselines}
        self.results["report_rss"] = {"unit": "MB", "service": growths, "absolute": True, "xlsx_bytes": sizes}
        self.log(f"  report: wall {walls} rss growth MB {growths}")

    def raw_statistics_params(self, first, last):
        """The raw-aggregate statements of the heavy user's local days first..last."""
        offset = self.heavy["timezone"] * HOUR_US
        params = {
            "user": self.heavy["id"],
            "start": day_number(first) * DAY_US - offset,
            "end": (day_number(last) + 1) * DAY_US - offset,
            "services": list(KNOWN_SERVICES),
            "types": list(KNOWN_TYPES),
        }

        def statements(_rows):
            yield STATISTICS_TOTALS_SQL, params
            yield STATISTICS_UNIQUES_SQL, params

        return statements

    # ------------------------------------------------------------ issue 12: timezone, purge

    def timezone_change(self):
        """The heavy user's timezone moved by an hour and back with `flask account
        set-timezone` (each rebuilds their roll-ups in one transaction). Through the CLI,
        not PUT /v6/account/info: on this shared machine the heavy user's change can
        outlast gunicorn's 30 s request timeout. The time includes the command's start
        (the `--help` of the same command, timed alike, is given beside it)."""
        command = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "account"]

        def run(*args):
            started = time.perf_counter()
            subprocess.run([*command, *args], cwd=ROOT, env=self.service.env, check=True, capture_output=True)
            return time.perf_counter() - started

        tz = self.heavy["timezone"]
        walls = [run("set-timezone", dataset.HEAVY, str(hours)) for hours in (tz + 1, tz)]
        startup = run("set-timezone", "--help")
        self.results["timezone_change"] = {"unit": "s", "service": walls, "absolute": True, "startup": startup}
        self.log(f"  timezone change: {walls} (command start {startup:.2f} s)")

    def purge(self):
        """The heavy user's oldest six months purged with the purge command's batches
        (app.db.retention.purge_batch, 500 processes a transaction) while wrk drives token
        validation; its throughput against runs without the purge, before and after."""
        days = min(182, self.s.scale.days // 2)
        cutoff_us = dataset.window(self.s.scale)[0] + days * DAY_US
        headers = {"Content-Type": "application/json"}
        load = [("POST", "/account/token/validation", headers, json.dumps(self.token(dataset.LOGIN)).encode())]
        seconds = max(1.0, min(2.0, self.s.duration))
        quiet = [self.driver.run(self.service.port, load, duration=seconds)["rps"] for _ in range(2)]
        engine = create_engine(normalize_database_url(self.url), connect_args=postgres_connect_args(10))
        state = {"purged": 0, "seconds": None}

        def purge():
            started = time.perf_counter()
            while True:
                with engine.begin() as conn:
                    count = retention.purge_batch(conn, self.heavy["id"], cutoff_us, 500)
                state["purged"] += count
                if count < 500:
                    break
            state["seconds"] = time.perf_counter() - started

        worker = threading.Thread(target=purge)
        worker.start()
        busy = []
        while worker.is_alive():
            busy.append(self.driver.run(self.service.port, load, duration=seconds)["rps"])
        worker.join()
        engine.dispose()
        quiet += [self.driver.run(self.service.port, load, duration=seconds)["rps"] for _ in range(2)]
        # The last run may have outlasted the purge: it is left out when there are others.
        during = busy[:-1] or busy
        self.results["purge_rate"] = {
            "unit": "records/s",
            "service": [state["purged"] / state["seconds"]],
            "absolute": True,
            "processes": state["purged"],
            "seconds": state["seconds"],
        }
        self.results["purge_token_validation"] = {
            "unit": "requests/s",
            "service": [median(during)],
            "baseline": [median(quiet)],
            "runs_during": busy,
            "runs_without": quiet,
        }
        self.log(f"  purge: {state}, token validation during {busy}, without {quiet}")

    def report_requests(self, count):
        first, last = self.local_days(self.heavy, self.s.report_days)
        headers = self.auth(dataset.HEAVY)
        for _ in range(count):
            timed(self.service.port, "GET", f"/account/report?from={first}&to={last}", headers)

    def mixed_rss(self):
        """50,000 mixed requests on a fresh server; worker RSS after the first 1,000 and at the end."""
        light = [dataset.light_name(n) for n in range(1, min(11, self.s.scale.users))]
        requests = []
        for username in light:
            user = self.users[username]
            headers = self.auth(username)
            first, last = self.local_days(user, 31)
            requests += [
                ("GET", "/account/info", headers, None),
                (
                    "POST",
                    "/account/token/validation",
                    {"Content-Type": "application/json"},
                    json.dumps(self.token(username)).encode(),
                ),
                ("GET", f"/account/statistics?from={first}&to={last}", headers, None),
                ("GET", "/account/audit?from=2000-01-01T00:00:00Z&limit=20&sort_direction=DESC", headers, None),
                ("GET", "/account/system/check", {}, None),
            ]
        self.restart_service()
        warm = self.driver.run(self.service.port, requests, limit=self.s.mixed_warm)
        after_warm = {pid: status_kb(pid, "VmRSS") for pid in self.service.workers()}
        rest = self.driver.run(self.service.port, requests, limit=self.s.mixed_total - self.s.mixed_warm)
        after_all = {pid: status_kb(pid, "VmRSS") for pid in self.service.workers()}
        growth = max(after_all[pid] / after_warm[pid] - 1 for pid in after_warm if pid in after_all)
        self.results["mixed_rss"] = {
            "unit": "fraction",
            "service": [growth],
            "absolute": True,
            "rss_kb_after_warm": list(after_warm.values()),
            "rss_kb_after_all": list(after_all.values()),
            "requests": warm["requests"] + rest["requests"],
            "rps": rest["rps"],
        }
        self.log(f"  mixed: RSS kB {after_warm} -> {after_all}, {warm['requests'] + rest['requests']} requests")

    # ------------------------------------------------------------ all

    WORKLOADS = (
        "token_validation",
        "info",
        "token_generation",
        "statistics_31d",
        "statistics_365d",
        "audit_offset_0",
        "audit_offset_deep",
        "processes_batch",
        "report",
        "mixed_rss",
        "audit_whole",
        *reservation_bench.WORKLOADS,
        "timezone_change",
        "purge",  # last: it deletes half the heavy user's rows
    )

    def run_workload(self, name):
        self.log(f"{name} ...")
        if name == "statistics_31d":
            self.statistics(31, name)
        elif name == "statistics_365d":
            self.statistics(365, name)
        elif name == "audit_offset_0":
            self.audit(0, name)
        elif name == "audit_offset_deep":
            self.audit(min(self.s.audit_deep_offset, self.s.scale.heavy_processes - 100), name)
        elif name == "audit_whole":
            from bench import audit_whole

            audit_whole.run(self)
        elif name in reservation_bench.WORKLOADS:
            reservation_bench.WORKLOADS[name](self, sys.modules[__name__])
        else:
            getattr(self, name)()


# -------------------------------------------------------------------- baseline SQL

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


# ------------------------------------------------------------------------- summary


def summarize(results):
    """One row per target: median and min-max of the per-round ratio (or of the absolute
    value), the target, met or missed, and the gap."""
    rows = []
    for name, (what, against, direction, target) in TARGETS.items():
        result = results.get(name)
        if result is None:
            continue
        if result.get("absolute"):
            values = result["service"]
            value = max(values) if name.endswith("_rss") else median(values)
        else:
            values = [a / b for a, b in zip(result["service"], result["baseline"], strict=True)]
            value = median(values)
        if target is None:  # reported only
            met, gap = None, 0.0
        else:
            met = value >= target if direction == ">=" else value <= target
            gap = 0.0 if met else (target - value if direction == ">=" else value - target)
        rows.append(
            {
                "name": name,
                "what": what + (f" ({result['note']})" if result.get("note") else ""),
                "against": against,
                "service_median": median(result["service"]),
                "baseline_median": median(result["baseline"]) if "baseline" in result else None,
                "unit": result["unit"],
                "value": value,
                "min": min(values),
                "max": max(values),
                "direction": direction,
                "target": target,
                "met": met,
                "gap": gap,
            }
        )
    return rows


def _number(value, unit=""):
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.1f} ms"
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(rows):
    lines = [
        "| what | vs | service (median) | baseline (median) | ratio or value | min-max | target | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        shown = {
            "report_rss": lambda v: f"{v:.1f} MB",
            "audit_whole_rss": lambda v: f"{v:.1f} MB",
            "audit_whole_x4_rss": lambda v: f"{v:.1f} MB",
            "mixed_rss": lambda v: f"{v * 100:.1f}%",
            "reservations_p99": lambda v: f"{v * 1000:.0f} ms",
            "timezone_change": lambda v: f"{v:.2f} s",
            "purge_rate": lambda v: f"{v:,.0f}",
        }.get(row["name"], lambda v: f"{v:.2f}")
        result = "met" if row["met"] else f"**missed** by {shown(row['gap'])}"
        if row["met"] is None:
            result = "reported"
        target = "-" if row["target"] is None else f"{row['direction']} {shown(row['target'])}"
        unit = row["unit"]
        service = _number(row["service_median"], unit) + ("" if unit in ("s", "fraction") else f" {unit}")
        lines.append(
            f"| {row['what']} | {row['against']} | {service} | {_number(row['baseline_median'], unit)} "
            f"| {shown(row['value'])} | {shown(row['min'])} - {shown(row['max'])} "
            f"| {target} | {result} |"
        )
    return "\n".join(lines)


def write_outputs(out, document):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    m = document["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    d = document["dataset"]
    s = document["settings"]
    profiles = ", ".join(f"[{path}]({path})" for path in document.get("profiles", []))
    profiles = f"\n- py-spy profiles (samples while a worker handled a request): {profiles}." if profiles else ""
    checks = ", ".join(f"{k} {'ok' if v else 'DIFFERENT'}" for k, v in document["checks"].items())
    text = f"""# Benchmark results

Written by `make bench` (`bench/run.py`) on {document["finished"]}; raw figures in
[results.json](results.json). How to run and what each line measures: the README's
"Performance" section.

- Machine: {m["cores"]} cores, {m["cpu_model"]}, Linux {m["kernel"]} (shared and noisy: hence ratios
  against a baseline measured in the same run, rounds interleaved A B A B ...).
- Software: Python {m["python"]}, {document["postgresql"]}; {versions}.
- Server: gunicorn with gunicorn.conf.py, 2 workers, for the service and for the bare
  endpoint alike; load driver: {document["driver"]} ({s["connections"]} connections, {s["duration"]} s a run).
- Data set: {d["users"]} users, {d["processes"]:,} processes ({d["heavy_processes"]:,} of the heavy user),
  {d["requests"]:,} requests, {d["point_keys"]:,} point keys, {d["input_files"]:,} input files; loaded in
  {d["load_seconds"]} s (daily roll-ups built from them in {d.get("rollup_build_seconds", "-")} s).
- Rounds: {s["rounds"]}; ratios are service/baseline per round (throughput: higher is better;
  latency: lower is better), and "ratio or value" is their median. The report and RSS lines
  are absolute: the report's wall time is the median of {s["report_rounds"]} requests, its
  RSS growth the worst of them, and the mixed run is one run of {s["mixed_total"]:,} requests.
- Answers checked against the baseline SQL: {checks}.
- Total run time: {document["seconds"]:.0f} s.{profiles}

{table(document["summary"])}
"""
    (out / "RESULTS.md").write_text(text)
    return text


def postgres_version(url):
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return "PostgreSQL " + cursor.fetchone()[0].split(" ")[0]
    finally:
        conn.close()


def run(settings, base_url, out, workloads=None, use_wrk=True, log=print, profile=()):
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="account_bench_"))
    driver = Driver(workdir, settings.connections, use_wrk)
    document = {"machine": machine(), "settings": asdict(settings), "driver": driver.name}
    profiled = []
    try:
        with private_database(base_url) as (url, _):
            document["postgresql"] = postgres_version(url)
            bench = Bench(settings, url, workdir, driver, log)
            try:
                bench.load()
                bench.start_servers()
                for name in workloads or Bench.WORKLOADS:
                    bench.run_workload(name)
                for name in profile:
                    from bench.profile import profile_workload

                    if profile_workload(bench, name, Path(out) / "profiles"):
                        profiled.append(name)
            finally:
                bench.stop_servers()
                bench.sql.close()
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
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where RESULTS.md and results.json go")
    parser.add_argument("--only", nargs="*", choices=Bench.WORKLOADS, help="run only these workloads")
    parser.add_argument("--profile", nargs="*", default=[], choices=Bench.WORKLOADS, help="py-spy these workloads")
    parser.add_argument("--no-wrk", action="store_true", help="drive the load with Python threads")
    args = parser.parse_args(argv)
    settings = Settings.tiny() if args.tiny else Settings()
    if args.rounds:
        settings.rounds = args.rounds
    if args.duration:
        settings.duration = args.duration
    base_url = os.environ.get("ACCOUNT_BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    document = run(settings, base_url, args.out, args.only, not args.no_wrk, profile=args.profile)
    text = write_outputs(args.out, document)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
