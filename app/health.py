"""Probes: GET /livez (the process answers) and GET /readyz (the database answers within a
second with the schema of the latest migration, and the worker is not shutting down);
the same database check decides /account/system/check's health.

Graceful shutdown (gunicorn.conf.py calls install_drain in every worker): on SIGTERM the
worker marks itself draining, so /readyz answers 503 while it goes on serving for
SHUTDOWN_DELAY seconds (load balancers stop sending it requests), then it stops accepting
and finishes its in-flight requests within gunicorn's graceful_timeout.
"""

import functools
import os
import signal
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, current_app

from app import db
from app.db import readiness
from app.errors import error_response

READY_TIMEOUT = 1.0  # seconds the database has to answer a probe
DRAINING = threading.Event()

blp = Blueprint("health", __name__)


@blp.route("/livez", methods=["GET"])
def livez():
    """The process answers: no dependency is consulted."""
    return {"status": "alive"}


@blp.route("/readyz", methods=["GET"])
def readyz():
    """200 when this worker can serve; 503 with the reason otherwise."""
    reason = "shutting down" if DRAINING.is_set() else problem(db.engine())
    if reason:
        return error_response(503, f"Not ready: {reason}", {"Retry-After": "1"})
    return {"status": "ready"}


def init_app(app):
    app.register_blueprint(blp)


# One check per engine at a time: probes arriving while one runs share its answer, and a
# database that hangs holds one thread, not one per probe.
_running = weakref.WeakKeyDictionary()
_running_lock = threading.Lock()
_executor = {"pid": None, "pool": None}


def _pool():
    if _executor["pid"] != os.getpid():  # threads do not survive a fork
        _executor.update(pid=os.getpid(), pool=ThreadPoolExecutor(max_workers=2, thread_name_prefix="health"))
    return _executor["pool"]


def problem(engine, timeout=READY_TIMEOUT):
    """None when the service can serve from the engine's database, or why it cannot: no
    answer within timeout seconds, an error, a schema that is not at the latest migration,
    a table missing or not as the service expects it. Details go to the log, not the
    answer."""
    heads = schema_heads()  # read once per process, not on the database's time
    with _running_lock:
        future = _running.get(engine)
        if future is None or future.done():
            future = _running[engine] = _pool().submit(
                readiness.check, engine, heads, READY_TIMEOUT, current_app.logger
            )
    try:
        return future.result(timeout)
    except FutureTimeout:
        current_app.logger.warning("health check: no answer from the database within %s s", timeout)
        return f"the database did not answer within {timeout:g} s"


@functools.cache
def schema_heads():
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


def install_drain(worker):
    """gunicorn's post_worker_init: the first SIGTERM starts the drain, SHUTDOWN_DELAY
    seconds later (or at a second SIGTERM) gunicorn's own handler stops the worker."""
    config = getattr(worker.wsgi, "config", {})
    delay = float(config.get("SHUTDOWN_DELAY", 0))
    if delay and delay >= worker.cfg.graceful_timeout:
        worker.log.warning(
            "SHUTDOWN_DELAY %s s is not below graceful_timeout %s s: shortened", delay, worker.cfg.graceful_timeout
        )
        delay = max(worker.cfg.graceful_timeout - 1, 0)
    stop = worker.handle_exit

    def on_sigterm(signum, frame):
        if DRAINING.is_set() or not delay:
            DRAINING.set()
            return stop(signum, frame)
        DRAINING.set()
        worker.log.info("SIGTERM: /readyz answers 503; serving %g s more, then finishing in-flight requests", delay)
        timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGTERM))
        timer.daemon = True
        timer.start()
        return None

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn has it: requests are not interrupted
