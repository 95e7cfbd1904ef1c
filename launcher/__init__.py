"""The processes that the tests and the bench start beside the service's code: gunicorn
serving an app of this repository (`launcher.gunicorn`) and PgBouncer in front of a
PostgreSQL server (`launcher.pgbouncer`).

A top-level package of its own because both tests/ and bench/ use it and neither should
import the other: a test fixture and a benchmark start the same gunicorn the same way.
"""

from launcher.gunicorn import BIN, ROOT, Gunicorn, LaunchError, environment
from launcher.pgbouncer import pgbouncer

__all__ = ["BIN", "ROOT", "Gunicorn", "LaunchError", "environment", "pgbouncer"]
