"""Queries on quota reservations and the day's usage of a quota."""

from typing import NamedTuple

from sqlalchemy import BigInteger, String, and_, bindparam, case, func, literal_column, select, text, update

from app.db import rollups, upsert
from app.db.days import DAY_US, HOUR_US
from app.db.tables import process_requests, processes, quota_reservations, quotas, users


class Day(NamedTuple):
    """A user's local day: its number (days since 1970-01-01) and its bounds in UTC."""

    number: int
    start_us: int
    end_us: int


def local_day(now_us, tz_hours):
    """The user's local day holding now_us: its number is the one ingestion counts days by
    (app.db.rollups.local_day). PostgreSQL's decision computes the same in SQL (migration
    0009, quota_decision_snapshot), because there the timezone is read, the day computed
    and its usage read in one statement once the quota is locked."""
    number = rollups.local_day(now_us, tz_hours)
    start = number * DAY_US - tz_hours * HOUR_US
    return Day(number, start, start + DAY_US)


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


def _usage_columns(user_id, service, process_type, day, start_us, end_us, now_us):
    """The Usage columns (used, reserved, active, earliest) of a quota on local day `day`
    ([start_us, end_us) in UTC) at now_us, for SQL expressions or bound parameters. A
    running process whose record has arrived counts the larger of its reservation and its
    record: the record's points are in `used`, and the reservation adds only what it
    holds beyond them."""
    active = _active(user_id, service, process_type, now_us)
    recorded = func.coalesce(processes.c.request_points_count, 0)
    beyond_record = case(
        (quota_reservations.c.points > recorded, quota_reservations.c.points - recorded),
        else_=literal_column("0"),
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
    return (
        points_used_today(user_id, service, process_type, start_us, end_us).label("used"),
        reserved.label("reserved"),
        select(func.count()).where(active).scalar_subquery().label("active"),
        select(func.min(quota_reservations.c.expires_us)).where(active).scalar_subquery().label("earliest"),
    )


def _usage_statement():
    """usage()'s statement, built once: its values are bound parameters."""
    big = {"type_": BigInteger}
    return select(
        *_usage_columns(
            bindparam("user_id"),
            bindparam("service"),
            bindparam("process_type"),
            bindparam("day"),
            bindparam("start_us", **big),
            bindparam("end_us", **big),
            bindparam("now_us", **big),
        )
    )


_USAGE = _usage_statement()


def usage(conn, user_id, service, process_type, day, start_us, end_us, now_us):
    """The quota's Usage on local day `day` ([start_us, end_us) in UTC) at now_us, read in
    one statement (see _usage_columns)."""
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
    return _usage(row._mapping)


def _usage(values):
    return Usage(int(values["used"]), int(values["reserved"]), int(values["active"]), values["earliest"])


class Snapshot(NamedTuple):
    """What a decision reads once it holds the quota."""

    target: Target | None  # None: an unknown user
    state: CodeState
    usage: Usage
    day: int | None  # the user's local day now (days since 1970-01-01); None: an unknown user


def _target_statement():
    """decision_snapshot()'s first read on SQLite: the user and their quota, and what the
    code names, in one statement from a one-row anchor."""
    service, process_type = bindparam("service"), bindparam("process_type")
    key = select(bindparam("code", type_=String).label("code")).subquery("k")
    target = users.alias("target")
    reservation = quota_reservations.alias("code_reservation")
    process = processes.alias("code_process")
    return (
        select(
            *(target.c[column.name].label(f"user_{column.name}") for column in _USER_COLUMNS),
            quotas.c.id.label("quota_id"),
            *(quotas.c[name] for name in _QUOTA_LIMITS),
            *(reservation.c[column.name].label(f"reservation_{column.name}") for column in quota_reservations.c),
            process.c.user_id.label("process_user_id"),
            process.c.status.label("process_status"),
        )
        .select_from(key)
        .outerjoin(target, target.c.username == bindparam("username"))
        .outerjoin(
            quotas,
            and_(quotas.c.user_id == target.c.id, quotas.c.service == service, quotas.c.process_type == process_type),
        )
        .outerjoin(reservation, reservation.c.process_code == key.c.code)
        .outerjoin(process, process.c.process_code == key.c.code)
    )


_TARGET = _target_statement()
# PostgreSQL: the quota row's lock and the whole read in one call of a PL/pgSQL function
# (migration 0009), whose statements are planned once per server connection, not once per
# decision as a statement sent unprepared is. It returns the columns of _TARGET and _USAGE.
_DECISION = text("SELECT * FROM quota_decision_snapshot(:username, :service, :process_type, :code, :now_us, :durable)")


def decision_snapshot(tx, username, service, process_type, process_code, now_us, durable=True):
    """The Snapshot of a decision, read once the quota is held. On PostgreSQL the function
    takes the row lock of the user's quota (SELECT ... FOR UPDATE) and then reads in a
    statement of its own, so the read sees every decision committed before the lock was
    granted. SQLite's callers hold the database's write lock already. durable=False: the
    commit will not wait for the WAL flush (a server crash may then forget the last
    decisions whole, never part of one)."""
    params = {"username": username, "service": service, "process_type": process_type, "code": process_code}
    if tx.dialect.name == "postgresql":
        values = tx.execute(_DECISION, {**params, "now_us": now_us, "durable": durable}).one()._mapping
        used, day = _usage(values), values["day"]
    else:
        values = tx.execute(_TARGET, params).one()._mapping
        used, day = Usage(0, 0, 0, None), None
        if values["user_id"] is not None:
            today = local_day(now_us, values["user_timezone"])
            used = usage(tx, values["user_id"], service, process_type, today.number, *today[1:], now_us)
            day = today.number
    target = None
    if values["user_id"] is not None:
        quota = None if values["quota_id"] is None else {name: values[name] for name in _QUOTA_LIMITS}
        target = Target({column.name: values[f"user_{column.name}"] for column in _USER_COLUMNS}, quota)
    reservation = None
    if values["reservation_process_code"] is not None:
        reservation = {column.name: values[f"reservation_{column.name}"] for column in quota_reservations.c}
    state = CodeState(reservation, values["process_user_id"], values["process_status"])
    return Snapshot(target, state, used, None if day is None else int(day))


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


def _refusal_statements(conn):
    found = _REFUSALS.get(conn.dialect.name)
    if found is None:
        found = _REFUSALS[conn.dialect.name] = (
            upsert(conn, processes).on_conflict_do_nothing(index_elements=["process_code"]),
            # Sent again, the refusal stores its request once.
            upsert(conn, process_requests).on_conflict_do_nothing(index_elements=["process_code", "request_code"]),
        )
    return found


def record_refusal(conn, process, request, timezone):
    """Store a refused reservation as the user's process (kept as it is when the process
    is already stored) and the refused request beside it, in the caller's transaction. A
    process stored here counts in the daily roll-ups as ingestion would count it (its
    local day under the user's timezone; 0 points), so statistics show the refusals too."""
    process_statement, request_statement = _refusal_statements(conn)
    if conn.execute(process_statement, process).rowcount == 1:
        visible = rollups.is_visible(process["service"], process["process_type"], [request["service"]])
        day = rollups.local_day(process["time_us"], timezone)
        added = rollups.Contribution(
            process["user_id"], day, process["service"], process["process_type"], visible, 0, 0, frozenset()
        )
        rollups.apply_changes(conn, [], [added])
    conn.execute(request_statement, request)
