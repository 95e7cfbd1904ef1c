"""The ceiling of the reservations line: the service as served (`gunicorn --config
gunicorn.conf.py --workers 2 bench.ceiling:app`), with the quota decision replaced by an
answer made from the request, with no SQL.

Everything else of POST /account/quota/reservations runs as in the service: the token
and its user's lookup in the database (revocation), the body's parsing and validation,
the roles, the answer's schema, the request's logs and metrics. Its throughput against
the bare endpoint is the most any decision can reach on this stack and machine: what the
decision itself costs is the gap between this line and the service's."""

from datetime import timedelta

import app.services.quota as quota_service
from app import clock
from wsgi import app

__all__ = ["app"]


def _answer_without_deciding(caller, request):
    return {
        "process_code": request["process_code"],
        "username": request["username"],
        "service": request["service"],
        "process_type": request["process_type"],
        "points": request["points"],
        "expires": clock.now() + timedelta(seconds=request["ttl_seconds"]),
        "remaining": {"points_per_day": 0, "concurrent_executions": 0},
    }


quota_service.reserve = _answer_without_deciding
