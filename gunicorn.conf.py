"""gunicorn settings read by `make run` (and by any `gunicorn wsgi:app` started here).

The access log leaves out query strings: a client that puts a token in the URL must not
get it written to the log.
"""

import sys

# Threaded workers (issue 16): a thread serving a long answer (a whole audit streams for
# minutes) does not stop its worker's heartbeat, so `timeout` (30 s) restarts only a
# worker that hangs, never one that is busy writing. 4 threads a worker bound what one
# worker holds (each streamed answer stays under 64 MB); a client that stops reading is
# dropped after SEND_TIMEOUT (app.streaming.SendTimeout), which frees its thread.
worker_class = "gthread"
threads = 4

accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%(a)s"'


def post_fork(server, worker):
    """With --preload the app, and its connection pool, is built before the fork: each
    worker must then drop the inherited connections and open its own."""
    module = sys.modules.get("wsgi")
    if module is not None:
        module.app.extensions["account_db"].dispose(close=False)
