"""gunicorn settings read by `make run` (and by any `gunicorn wsgi:app` started here).

The access log leaves out query strings: a client that puts a token in the URL must not
get it written to the log.
"""

import os
import sys

# Threaded workers (issue 16): a thread serving a long answer (a whole audit streams for
# minutes) does not stop its worker's heartbeat, so `timeout` (30 s) restarts only a
# worker that hangs, never one that is busy writing. 4 threads a worker bound what one
# worker holds (each streamed answer stays under 64 MB); a client that stops reading is
# dropped after SEND_TIMEOUT (app.streaming.SendTimeout), which frees its thread.
worker_class = "gthread"
threads = 4

accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%(a)s" %({x-request-id}o)s'


def on_starting(server):
    """A configuration error stops gunicorn here, in the master, as one `Error: ...` line
    (gunicorn prints a RuntimeError, which ConfigError is, that way), before any worker
    starts and fails the same way."""
    from app.config import check
    from app.metrics import prepare_directory

    check()
    prepare_directory()


def post_fork(server, worker):
    """With --preload the app, and its connection pool, is built before the fork: each
    worker must then drop the inherited connections and open its own."""
    module = sys.modules.get("wsgi")
    if module is not None:
        module.app.extensions["account_db"].dispose(close=False)


# Logs: gunicorn's own lines in the service's LOG_FORMAT (json or text); with json the
# access log line is the request's line with the app's fields (app/logs.py).
logger_class = "app.logs.GunicornLogger"

# Metrics: prometheus_client's multiprocess mode. Every worker writes its values to files
# in PROMETHEUS_MULTIPROC_DIR (the operator's, or a private temporary directory), which a
# scrape of any worker adds up; on_starting sets it before any worker imports
# prometheus_client (so not with --preload).


def when_ready(server):
    """METRICS=port: the metrics' own listener, in the master (app.metrics.serve_port)."""
    from app import config
    from app.metrics import serve_port

    settings = config.read()
    if settings["METRICS"] == "port":
        serve_port(settings["METRICS_HOST"], settings["METRICS_PORT"])
        server.log.info("metrics on http://%s:%s/metrics", settings["METRICS_HOST"], settings["METRICS_PORT"])


def child_exit(server, worker):
    """A dead worker's live gauges go, its counters are kept in an archive file."""
    from app.metrics import archive_worker

    archive_worker(os.environ["PROMETHEUS_MULTIPROC_DIR"], worker.pid)


def on_exit(server):
    from app.metrics import remove_temporary_directory

    remove_temporary_directory()


# Graceful shutdown: on SIGTERM a worker's /readyz answers 503 while it serves for
# ACCOUNT_SHUTDOWN_DELAY seconds more, then it finishes its in-flight requests; past
# graceful_timeout (from the SIGTERM) gunicorn kills what is left.
graceful_timeout = 30


def post_worker_init(worker):
    from app.health import install_drain

    install_drain(worker)
