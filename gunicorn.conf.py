"""gunicorn settings read by `make run` (and by any `gunicorn wsgi:app` started here).

The access log leaves out query strings: a client that puts a token in the URL must not
get it written to the log.
"""

accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%(a)s"'
