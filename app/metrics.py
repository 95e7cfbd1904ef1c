"""Prometheus metrics, served at GET /metrics (METRICS: public, token or off), or on a
listener of their own that gunicorn's master opens (METRICS=port).

Under gunicorn (gunicorn.conf.py) prometheus_client runs in multiprocess mode: each
worker writes its values to files in PROMETHEUS_MULTIPROC_DIR and a scrape, whichever
worker answers it, adds them up. The directory is emptied when the server starts, and
when a worker dies its counters and histograms are added into one archive file per kind
and its own files removed, so a scrape reads about as many files after a month of worker
restarts as on the first day. Without that variable (flask run, the tests) the metrics
live in this process.

The metric objects are built by init_app, in the worker: gunicorn's master imports this
module for the directory functions and must write no files of its own.
"""

import fcntl
import glob
import hmac
import os
import shutil
import tempfile
from contextlib import contextmanager

from flask import Blueprint, Response, current_app, g, has_app_context, request
from sqlalchemy import event

from app.exceptions import ApiError

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; the default buckets, with the slow reports and statistics in view.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_ARCHIVED_KINDS = ("counter", "histogram")
_LOCK_FILE = ".lock"
_TEMPORARY_ENV = "ACCOUNT_METRICS_TEMPORARY_DIR"

blp = Blueprint("metrics", __name__)


class _Metrics:
    def __init__(self):
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(
            "account_requests", "Requests answered, by operation and status.", ["operation", "status"]
        )
        self.latency = Histogram(
            "account_request_duration_seconds",
            "Time from a request's arrival to its last byte sent, by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
        )
        self.logins = Counter("account_logins", "Tokens issued for a username and password.")
        self.login_failures = Counter(
            "account_login_failures", "Wrong username or password, and wrong current passwords on a password change."
        )
        self.lockouts = Counter("account_lockouts", "Attempts refused by the login throttling (429).")
        self.records = Counter("account_records_ingested", "Process records stored by the producer API.")
        self.reports = Counter("account_reports_generated", "XLSX reports generated.")
        self.database_errors = Counter("account_database_errors", "Errors raised by the database or its driver.")
        self.pool_in_use = Gauge(
            "account_db_pool_in_use",
            "Database connections checked out of the workers' pools.",
            multiprocess_mode="livesum",
        )


_metrics = None


def _get():
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()
    return _metrics


def init_app(app):
    _get()
    engine = app.extensions["account_db"]
    watch_pool(engine)
    event.listen(engine, "handle_error", _count_engine_error)
    if app.config["METRICS"] in ("public", "token"):
        app.register_blueprint(blp)


# (operation, status) -> the labelled counter and histogram: labels() takes a lock and
# builds its key on every call, and a request is counted on the hot path.
_request_children = {}


def count_request(fields):
    key = (fields["operation"], fields["status"])
    children = _request_children.get(key)
    if children is None:
        metrics = _get()
        children = _request_children[key] = (
            metrics.requests.labels(key[0], str(key[1])),
            metrics.latency.labels(key[0]),
        )
    children[0].inc()
    children[1].observe(fields["duration_ms"] / 1000)


def login():
    _get().logins.inc()


def login_failure():
    _get().login_failures.inc()


def lockout():
    _get().lockouts.inc()


def records_ingested(count):
    _get().records.inc(count)


def report_generated():
    _get().reports.inc()


def watch_pool(engine):
    """Connections checked out of the engine's pool, in account_db_pool_in_use. Listens
    after make_engine's ping, which may refuse a connection before it is handed out."""

    @event.listens_for(engine, "checkout")
    def _checkout(*_args):
        _get().pool_in_use.inc()

    @event.listens_for(engine, "checkin")
    def _checkin(*_args):
        _get().pool_in_use.dec()


def _count_engine_error(_context):
    _get().database_errors.inc()
    if has_app_context():
        g.database_error_counted = True


def count_unhandled(error):
    """An error that fails a request: a database error the engine did not see (the token
    lookup runs on the driver's own connection) is counted here."""
    names = [type(error).__module__] + [type(cause).__module__ for cause in (error.__cause__, error.__context__)]
    from_database = any(name.split(".")[0] in ("sqlalchemy", "psycopg2", "sqlite3") for name in names)
    if from_database and not g.get("database_error_counted"):
        _get().database_errors.inc()
        g.database_error_counted = True


@blp.route("/metrics", methods=["GET"])
def metrics():
    """The metrics in the Prometheus text format."""
    from prometheus_client import CONTENT_TYPE_LATEST

    if current_app.config["METRICS"] == "token" and not _token_matches(current_app.config["METRICS_TOKEN"]):
        raise ApiError(401, "Authentication required: the metrics token", {"WWW-Authenticate": "Bearer"})
    return Response(exposition(), content_type=CONTENT_TYPE_LATEST)


def _token_matches(expected):
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


def exposition():
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path)
    with _locked(path, fcntl.LOCK_SH):  # never while a dead worker's files are archived
        return generate_latest(registry)


# The directory, from gunicorn's master (gunicorn.conf.py).


@contextmanager
def _locked(path, operation):
    with open(os.path.join(path, _LOCK_FILE), "a") as handle:
        fcntl.flock(handle, operation)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_directory():
    """gunicorn's on_starting, before any worker imports prometheus_client: the operator's
    PROMETHEUS_MULTIPROC_DIR or a private temporary directory, emptied of an earlier
    run's files (counters start from 0 with the server)."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        path = tempfile.mkdtemp(prefix="account-metrics-")
        os.environ[MULTIPROC_ENV] = os.environ[_TEMPORARY_ENV] = path
    for name in glob.glob(os.path.join(path, "*.db")):
        os.remove(name)
    return path


def serve_port(host, port):
    """METRICS=port: GET /metrics on host:port, answered from the multiprocess directory
    by a thread of gunicorn's master (gunicorn.conf.py's when_ready), never by a worker:
    the service's own port has no /metrics, so a proxy in front cannot expose it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prometheus_client import CONTENT_TYPE_LATEST

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path.partition("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = exposition()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # scrapes are not requests of the service
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def remove_temporary_directory():
    """gunicorn's on_exit: the private directory goes with the server, the operator's stays."""
    temporary = os.environ.get(_TEMPORARY_ENV)
    if temporary and temporary == os.environ.get(MULTIPROC_ENV):
        shutil.rmtree(temporary, ignore_errors=True)


def archive_worker(path, pid):
    """A worker died: its live gauges go, its counters and histograms are added into
    <kind>_archive.db (totals never go down) and its files removed."""
    from prometheus_client import multiprocess
    from prometheus_client.mmap_dict import MmapedDict

    with _locked(path, fcntl.LOCK_EX):
        multiprocess.mark_process_dead(pid, path)
        for kind in _ARCHIVED_KINDS:
            dead = os.path.join(path, f"{kind}_{pid}.db")
            if not os.path.exists(dead):
                continue
            archive = MmapedDict(os.path.join(path, f"{kind}_archive.db"))
            try:
                for key, value, timestamp, _position in MmapedDict.read_all_values_from_file(dead):
                    total, _ = archive.read_value(key)
                    archive.write_value(key, total + value, timestamp)
            finally:
                archive.close()
            os.remove(dead)
