"""gunicorn settings read by `make run` (and by any `gunicorn wsgi:app` started here).

The access log leaves out query strings: a client that puts a token in the URL must not
get it written to the log.
"""

import sys

accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%(a)s"'


def on_starting(server):
    """A configuration error stops gunicorn here, in the master, as one `Error: ...` line
    (gunicorn prints a RuntimeError, which ConfigError is, that way), before any worker
    starts and fails the same way."""
    from app.config import check

    check()


def post_fork(server, worker):
    """With --preload the app, and its connection pool, is built before the fork: each
    worker must then drop the inherited connections and open its own."""
    module = sys.modules.get("wsgi")
    if module is not None:
        module.app.extensions["account_db"].dispose(close=False)
