"""Queries on quota reservations and the day's usage of a quota."""

from typing import NamedTuple

from sqlalchemy import and_, case, func, insert, literal, select, update

from app.db import upsert
from app.db.tables import process_requests, processes, quota_reservations, quotas, users


class Usage(NamedTuple):
    """One quota's use on one local day, at one moment."""

    points_used: int  # the day's stored processes
    points_reserved: int  # active reservations granted that day, beyond their record's points
    active: int  # active reservations, whatever day they were granted
    earliest_expiry_us: int | None  # when the first active reservation stops counting


def lock_quota(conn, user_id, service, process_type):
    """The user's quota of that service and process type (a mapping) or None. On
    PostgreSQL its row stays locked until the transaction ends: deciders of one quota run
    one after another on every worker and host (SQLite's callers hold the database's write
    lock already)."""
    query = select(quotas).where(
        quotas.c.user_id == user_id, quotas.c.service == service, quotas.c.process_type == process_type
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else row._mapping


def get_reservation(conn, process_code):
    """The reservation (a mapping) with its user's company_key, or None."""
    row = conn.execute(
        select(quota_reservations, users.c.company_key)
        .join(users, users.c.id == quota_reservations.c.user_id)
        .where(quota_reservations.c.process_code == process_code)
    ).first()
    return None if row is None else row._mapping


def get_process_state(conn, process_code):
    """(user_id, status) of the stored process, or None."""
    return conn.execute(
        select(processes.c.user_id, processes.c.status).where(processes.c.process_code == process_code)
    ).first()


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


def usage(conn, user_id, service, process_type, day, start_us, end_us, now_us):
    """The quota's Usage on local day `day` ([start_us, end_us) in UTC) at now_us, read in
    one statement. A running process whose record has arrived counts the larger of its
    reservation and its record: the record's points are in points_used, and the
    reservation adds only what it holds beyond them."""
    active = _active(user_id, service, process_type, now_us)
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
        .where(active, quota_reservations.c.day == day)
        .scalar_subquery()
    )
    counted = select(func.count(), func.min(quota_reservations.c.expires_us)).where(active).subquery()
    row = conn.execute(
        select(
            points_used_today(user_id, service, process_type, start_us, end_us).label("used"),
            reserved.label("reserved"),
            counted.c[0].label("active"),
            counted.c[1].label("earliest"),
        ).select_from(counted)
    ).one()
    return Usage(int(row.used), int(row.reserved), int(row.active), row.earliest)


def insert_reservation(conn, values):
    """Insert a new reservation; False when another transaction took its process_code
    first (the caller re-reads it)."""
    stmt = upsert(conn, quota_reservations)
    result = conn.execute(stmt.values(**values).on_conflict_do_nothing(index_elements=["process_code"]))
    return result.rowcount == 1


def regrant(conn, process_code, values):
    """Grant an expired or released reservation again, with new points and times."""
    conn.execute(
        update(quota_reservations)
        .where(quota_reservations.c.process_code == process_code)
        .values(released_us=None, **values)
    )


def renew(conn, process_code, expires_us):
    conn.execute(
        update(quota_reservations)
        .where(quota_reservations.c.process_code == process_code)
        .values(expires_us=expires_us)
    )


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


def record_refusal(conn, process, request):
    """Store a refused reservation as the user's process (kept as it is when the process
    is already stored) and the refused request beside it."""
    stmt = upsert(conn, processes)
    conn.execute(stmt.values(**process).on_conflict_do_nothing(index_elements=["process_code"]))
    conn.execute(insert(process_requests).values(**request))
