"""Queries on quotas."""

from sqlalchemy import insert, select, update

from app.db import scope
from app.db.tables import quotas

_VALUES = ("points_per_request", "points_per_day", "max_concurrent_execution")
# Values only the 6.20 dialect reports; None when not given.
_OPTIONAL_VALUES = ("points_per_date_window",)


def list_quotas(conn, user_id, names=scope.EVERY):
    """The user's quotas by service and process type, of names (a Scope) only."""
    query = select(quotas).where(quotas.c.user_id == user_id)
    if names.restricted:
        query = query.where(
            quotas.c.service.in_(sorted(names.services)), quotas.c.process_type.in_(sorted(names.process_types))
        )
    rows = conn.execute(query.order_by(quotas.c.service, quotas.c.process_type))
    return [dict(row._mapping) for row in rows]


def set_quota(conn, user_id, service, process_type, **values):
    """Insert or replace the quota of one service and process type."""
    values = {name: values[name] for name in _VALUES} | {name: values.get(name) for name in _OPTIONAL_VALUES}
    key = (quotas.c.user_id == user_id, quotas.c.service == service, quotas.c.process_type == process_type)
    if conn.execute(update(quotas).where(*key).values(**values)).rowcount == 0:
        conn.execute(insert(quotas).values(user_id=user_id, service=service, process_type=process_type, **values))
