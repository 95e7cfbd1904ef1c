"""Queries on quota reservations and the day's usage of a quota."""

from typing import NamedTuple

from sqlalchemy import BigInteger, String, and_, bindparam, case, func, literal, select, true, update

from app.db import upsert
from app.db.tables import process_requests, processes, quota_reservations, quotas, users


class Usage(NamedTuple):
    """One quota's use on one local day, at one moment."""

    points_used: int  # the day's stored processes
    points_reserved: int  # active reservations granted that day, beyond their record's points
    active: int  # active reservations, whatever day they were granted
    earliest_expiry_us: int | None  # when the first active reservation stops counting


class Target(NamedTuple):
    """The user a reservation is for, with their quota of its service and process type."""

    user: dict
    quota: dict | None


_QUOTA_LIMITS = ("points_per_request", "points_per_day", "max_concurrent_execution")


_USER_COLUMNS = (users.c.id, users.c.username, users.c.company_key, users.c.enabled, users.c.timezone)
_USER = select(*_USER_COLUMNS).where(users.c.username == bindparam("username"))
_USER_AND_QUOTA = (
    select(*_USER_COLUMNS, *(quotas.c[name] for name in _QUOTA_LIMITS))
    .join(quotas, quotas.c.user_id == users.c.id)
    .where(
        users.c.username == bindparam("username"),
        quotas.c.service == bindparam("service"),
        quotas.c.process_type == bindparam("process_type"),
    )
)
_USER_AND_LOCKED_QUOTA = _USER_AND_QUOTA.with_for_update(of=quotas)
# The same, and the transaction's commit does not wait for the WAL flush: set_config is
# SET LOCAL synchronous_commit as a function, in the same round trip.
_USER_AND_LOCKED_QUOTA_FAST = _USER_AND_LOCKED_QUOTA.add_columns(
    func.set_config("synchronous_commit", "off", True).label("synchronous_commit")
)


def lock_target(conn, username, service, process_type, durable=True):
    """The user and their quota of that service and process type (Target), or None for an
    unknown user. On PostgreSQL the quota's row stays locked until the transaction ends:
    deciders of one quota run one after another on every worker and host (SQLite's
    callers hold the database's write lock already), and with durable=False the commit
    does not wait for the WAL flush (a server crash may then forget the last decisions
    whole, never part of one). One statement when the quota exists."""
    query = _USER_AND_QUOTA
    if conn.dialect.name == "postgresql":
        query = _USER_AND_LOCKED_QUOTA if durable else _USER_AND_LOCKED_QUOTA_FAST
    row = conn.execute(query, {"username": username, "service": service, "process_type": process_type}).first()
    if row is not None:
        values = row._mapping
        return Target(
            {column.name: values[column.name] for column in _USER_COLUMNS},
            {name: values[name] for name in _QUOTA_LIMITS},
        )
    row = conn.execute(_USER, {"username": username}).first()
    return None if row is None else Target(dict(row._mapping), None)


class CodeState(NamedTuple):
    """What a process_code already names: its reservation (a mapping with the user's
    company_key, or None) and its stored process's user_id and status (None when none)."""

    reservation: dict | None
    process_user_id: int | None
    process_status: str | None


_KEY = select(bindparam("code", type_=String).label("code")).subquery("k")
_CODE_STATE = (
    select(
        quota_reservations,
        users.c.company_key,
        processes.c.user_id.label("process_user_id"),
        processes.c.status.label("process_status"),
    )
    .select_from(_KEY)
    .outerjoin(quota_reservations, quota_reservations.c.process_code == _KEY.c.code)
    .outerjoin(users, users.c.id == quota_reservations.c.user_id)
    .outerjoin(processes, processes.c.process_code == _KEY.c.code)
)


def code_state(conn, process_code):
    """CodeState in one statement: a one-row anchor joined to both tables."""
    return _code_state(conn.execute(_CODE_STATE, {"code": process_code}).one()._mapping)


def _code_state(row):
    reservation = None
    if row["process_code"] is not None:
        reservation = {column.name: row[column.name] for column in quota_reservations.c} | {
            "company_key": row["company_key"]
        }
    return CodeState(reservation, row["process_user_id"], row["process_status"])


def get_reservation(conn, process_code):
    """The reservation (a mapping) with its user's company_key, or None."""
    return code_state(conn, process_code).reservation


def points_used_today(user_id, service, process_type, start_us, end_us):
    """The points of the quota's stored processes in [start_us, end_us): a scalar
    subquery, so that a decision reads it in the same statement (one snapshot) as the
    reservations. The one place to switch to daily roll-ups."""
    return (
        select(func.coalesce(func.sum(processes.c.request_points_count), 0))
        .where(
            processes.c.user_id == user_id,
            processes.c.service == service,
            processes.c.process_type == process_type,
            processes.c.time_us >= start_us,
            processes.c.time_us < end_us,
        )
        .scalar_subquery()
    )


def _active(user_id, service, process_type, now_us):
    return and_(
        quota_reservations.c.user_id == user_id,
        quota_reservations.c.service == service,
        quota_reservations.c.process_type == process_type,
        quota_reservations.c.released_us.is_(None),
        quota_reservations.c.expires_us > now_us,
    )


def _usage_statement():
    """usage()'s statement, built once: its values are bound parameters."""
    user_id, service, process_type = bindparam("user_id"), bindparam("service"), bindparam("process_type")
    start_us, end_us = bindparam("start_us", type_=BigInteger), bindparam("end_us", type_=BigInteger)
    active = _active(user_id, service, process_type, bindparam("now_us", type_=BigInteger))
    recorded = func.coalesce(processes.c.request_points_count, 0)
    beyond_record = case(
        (quota_reservations.c.points > recorded, quota_reservations.c.points - recorded),
        else_=literal(0),
    )
    record_today = and_(
        processes.c.process_code == quota_reservations.c.process_code,
        processes.c.user_id == user_id,
        processes.c.service == service,
        processes.c.process_type == process_type,
        processes.c.time_us >= start_us,
        processes.c.time_us < end_us,
    )
    reserved = (
        select(func.coalesce(func.sum(beyond_record), 0))
        .select_from(quota_reservations.outerjoin(processes, record_today))
        .where(active, quota_reservations.c.day == bindparam("day"))
        .scalar_subquery()
    )
    counted = select(func.count(), func.min(quota_reservations.c.expires_us)).where(active).subquery()
    return select(
        points_used_today(user_id, service, process_type, start_us, end_us).label("used"),
        reserved.label("reserved"),
        counted.c[0].label("active"),
        counted.c[1].label("earliest"),
    ).select_from(counted)


_USAGE = _usage_statement()


def usage(conn, user_id, service, process_type, day, start_us, end_us, now_us):
    """The quota's Usage on local day `day` ([start_us, end_us) in UTC) at now_us, read in
    one statement. A running process whose record has arrived counts the larger of its
    reservation and its record: the record's points are in points_used, and the
    reservation adds only what it holds beyond them."""
    row = conn.execute(
        _USAGE,
        {
            "user_id": user_id,
            "service": service,
            "process_type": process_type,
            "day": day,
            "start_us": start_us,
            "end_us": end_us,
            "now_us": now_us,
        },
    ).one()
    return _usage(row)


def _usage(row):
    return Usage(int(row.used), int(row.reserved), int(row.active), row.earliest)


def _state_and_usage_statement():
    state, used = _CODE_STATE.subquery("state"), _USAGE.subquery("used")
    return select(state, used).select_from(state.join(used, true()))


_STATE_AND_USAGE = _state_and_usage_statement()


def state_and_usage(conn, process_code, user_id, service, process_type, day, start_us, end_us, now_us):
    """(CodeState, Usage) in one statement: what a decision reads once it holds the quota."""
    row = conn.execute(
        _STATE_AND_USAGE,
        {
            "code": process_code,
            "user_id": user_id,
            "service": service,
            "process_type": process_type,
            "day": day,
            "start_us": start_us,
            "end_us": end_us,
            "now_us": now_us,
        },
    ).one()
    return _code_state(row._mapping), _usage(row)


# The writes that end a decision's transaction (tx: app.db.SerializedTransaction): each
# commits with its own statement. Built once, their values bound.
_INSERT = quota_reservations.insert()
_GRANT_VALUES = ("points", "day", "granted_us", "expires_us")
_REGRANT = (
    update(quota_reservations)
    .where(quota_reservations.c.process_code == bindparam("code"))
    .values(released_us=None, **{name: bindparam(f"new_{name}") for name in _GRANT_VALUES})
)
_RENEW = (
    update(quota_reservations)
    .where(quota_reservations.c.process_code == bindparam("code"))
    .values(expires_us=bindparam("new_expires_us"))
)


def insert_reservation(tx, values):
    """Insert a new reservation and commit. Another transaction's reservation of the same
    process_code (on another quota, a moment earlier) fails it with an IntegrityError."""
    tx.execute(_INSERT, values, commit=True)


def regrant(tx, process_code, values):
    """Grant an expired or released reservation again, with new points and times; commit."""
    tx.execute(_REGRANT, {"code": process_code, **{f"new_{name}": values[name] for name in _GRANT_VALUES}}, commit=True)


def renew(tx, process_code, expires_us):
    """A later expiry for a reservation still counting; commit."""
    tx.execute(_RENEW, {"code": process_code, "new_expires_us": expires_us}, commit=True)


def release(conn, process_code, now_us):
    """End the reservation if it still counts; a released or expired one is left alone."""
    conn.execute(
        update(quota_reservations)
        .where(
            quota_reservations.c.process_code == process_code,
            quota_reservations.c.released_us.is_(None),
            quota_reservations.c.expires_us > now_us,
        )
        .values(released_us=now_us)
    )


def release_for_records(conn, owners_by_code, now_us):
    """End the counting reservations of these processes, each only if it is its record's
    user's: {process_code: user_id}."""
    codes = sorted(owners_by_code)
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        held = conn.execute(
            select(quota_reservations.c.process_code, quota_reservations.c.user_id).where(
                quota_reservations.c.process_code.in_(chunk),
                quota_reservations.c.released_us.is_(None),
                quota_reservations.c.expires_us > now_us,
            )
        ).all()
        mine = [row.process_code for row in held if owners_by_code[row.process_code] == row.user_id]
        if mine:
            conn.execute(
                update(quota_reservations).where(quota_reservations.c.process_code.in_(mine)).values(released_us=now_us)
            )


_REFUSALS = {}


def _refusal_statements(tx):
    found = _REFUSALS.get(tx.dialect.name)
    if found is None:
        found = _REFUSALS[tx.dialect.name] = (
            upsert(tx, processes).on_conflict_do_nothing(index_elements=["process_code"]),
            # Run again after a lost connection, the decision stores its request once.
            upsert(tx, process_requests).on_conflict_do_nothing(index_elements=["process_code", "request_code"]),
        )
    return found


def record_refusal(tx, process, request):
    """Store a refused reservation as the user's process (kept as it is when the process
    is already stored) and the refused request beside it; commit."""
    process_statement, request_statement = _refusal_statements(tx)
    tx.execute(process_statement, process)
    tx.execute(request_statement, request, commit=True)
