"""A run's settings, its private database and the Bench: the data set loaded, the two
servers (bench/servers.py), the tokens, and the measurement steps the workloads
(bench/workloads/) share."""

import json
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

import psycopg2
from sqlalchemy import create_engine

from app.config import DEFAULTS, normalize_database_url
from app.db import postgres_connect_args, rollups
from app.migrate import upgrade
from app.security import issue_token
from bench import dataset, servers
from bench.load import timed

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
BCRYPT_ROUNDS = int(DEFAULTS["BCRYPT_ROUNDS"])  # the configured production cost


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


def database_url():
    """The server the private database is made on: ACCOUNT_BENCH_DATABASE_URL or the default."""
    return os.environ.get("ACCOUNT_BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL


@contextmanager
def running(settings, url, workdir, driver, log=print):
    """A Bench on the database url with its data set loaded and its servers started;
    stopped and closed at the end whatever happens."""
    bench = Bench(settings, url, workdir, driver, log)
    try:
        bench.load()
        bench.start_servers()
        yield bench
    finally:
        bench.stop_servers()
        bench.sql.close()


class Bench:
    """A run's state, which every workload gets: settings (s), the users, the servers
    (service, bare), the load driver, the baseline SQL connection (sql), and the results
    and checks recorded so far."""

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
        self.config = {**DEFAULTS, "JWT_SECRET": servers.JWT_SECRET}

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
        self.service, self.bare = servers.start(self.url, self.workdir)

    def restart_service(self):
        self.service.restart()

    def stop_servers(self):
        for name in ("service", "bare"):
            server = getattr(self, name, None)
            if server:
                server.stop()

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

    # ------------------------------------------------------------ measurement steps of several workloads

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
