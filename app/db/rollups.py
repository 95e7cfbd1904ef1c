"""Daily roll-ups: the statistics of every user's local day, service and process type, kept
up to date by ingestion in its own transaction, so that reads cost the days asked for
rather than the history a user has.

A cell (user, local day, service, process type) holds the number of processes, the sums
of their points and elements and the number of distinct point keys; the v_ columns count
the same of the processes the 7.9 dialect shows (VISIBLE: the process and every one of its
requests name only 7.9 services and process types), so both dialects read one row. Unique
points stay exact through reference counts: a key row (cell, point key) says how many of
the cell's processes name the key (refs) and how many of those 7.9 shows (v_refs). A
process's contribution (its cell, figures, visibility and keys) is taken out and put back
whenever a re-sent record changes it; a key's row appears when its count leaves 0 and
disappears when it returns to 0, and the cell's unique points move with it.

Retention (purge) deletes raw rows and leaves the roll-ups: the cells and key rows of purged
processes stay, with their counts, for good. No raw row is left to take them out again, so
a later record can never decrement them below what the purged processes contributed: a
re-sent record of a purged process is a new process as far as the store can tell, and a
key it shares with purged processes of its cell is already counted (its row exists), so
the cell's unique points stay the distinct keys of everything the cell has counted.
"""

from collections import defaultdict
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    delete,
    func,
    literal,
    literal_column,
    select,
    true,
    update,
)

from app.db import chunked, scope, upsert
from app.db.days import DAY_US, HOUR_US, day_number
from app.db.tables import process_points, processes, usage_day_keys, usage_days, users

# Added before SQL's integer division (which truncates toward zero) so that it floors for
# times before 1970 too: a million days reaches back past the year 1.
_BIAS_DAYS = 1_000_000

# The names the 7.9 dialect can name: a process naming another (in itself or one of its
# requests) is left out of 7.9's statistics, report and audit alike.
VISIBLE = scope.V79

CELL = ("user_id", "day", "service", "process_type")
KEY = (*CELL, "point_key")
# The figures of a cell, all processes then the 7.9-visible ones.
_FIGURES = ("processes", "points", "elements", "v_processes", "v_points", "v_elements")


class Contribution(NamedTuple):
    """What one process adds to the roll-ups."""

    user_id: int
    day: int
    service: str
    process_type: str
    visible: bool
    points: int
    elements: int
    keys: frozenset


def local_day(time_us, tz_hours):
    return (time_us + tz_hours * HOUR_US) // DAY_US


def is_visible(service, process_type, request_services):
    return VISIBLE.admits(service, process_type, request_services)


def lock_timezones(conn, user_ids):
    """{user_id: timezone} of the users, each row locked FOR SHARE (in id order) until the
    transaction ends: a timezone change (FOR UPDATE) waits for the batches computing days
    with the old one, and they for it."""
    rows = conn.execute(
        select(users.c.id, users.c.timezone)
        .where(users.c.id.in_(sorted(user_ids)))
        .order_by(users.c.id)
        .with_for_update(read=True)
    )
    return {row.id: row.timezone for row in rows}


# ------------------------------------------------------------------ incremental upkeep


def apply_changes(conn, removed, added):
    """Take the contributions removed out of the roll-ups and put the ones added in.

    Rows are written in key order (keys, then cells): concurrent batches touching the
    same cells lock them in one order and never deadlock; every count changes by an
    UPDATE of the row it reads (ON CONFLICT DO UPDATE), so they never lose an update."""
    cells = defaultdict(lambda: [0] * 6)
    keys = defaultdict(lambda: [0, 0])
    for sign, items in ((-1, removed), (1, added)):
        for item in items:
            cell = (item.user_id, item.day, item.service, item.process_type)
            figures = cells[cell]
            figures[0] += sign
            figures[1] += sign * item.points
            figures[2] += sign * item.elements
            if item.visible:
                figures[3] += sign
                figures[4] += sign * item.points
                figures[5] += sign * item.elements
            for key in item.keys:
                refs = keys[(*cell, key)]
                refs[0] += sign
                if item.visible:
                    refs[1] += sign
    uniques = defaultdict(lambda: [0, 0])
    changed = sorted(key for key, refs in keys.items() if refs != [0, 0])
    if changed:
        stmt = upsert(conn, usage_day_keys)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(KEY),
            set_={name: usage_day_keys.c[name] + stmt.excluded[name] for name in ("refs", "v_refs")},
        ).returning(*(usage_day_keys.c[name] for name in (*KEY, "refs", "v_refs")))
        result = conn.execute(
            stmt,
            [{**dict(zip(KEY, key, strict=True)), "refs": keys[key][0], "v_refs": keys[key][1]} for key in changed],
        )
        gone = []
        for row in result:
            key = tuple(getattr(row, name) for name in KEY)
            d_refs, d_visible = keys[key]
            counts = uniques[key[:4]]
            counts[0] += (row.refs > 0) - (row.refs - d_refs > 0)
            counts[1] += (row.v_refs > 0) - (row.v_refs - d_visible > 0)
            if row.refs <= 0:
                gone.append(dict(zip(KEY, key, strict=True)))
        if gone:
            conn.execute(
                delete(usage_day_keys).where(*(usage_day_keys.c[name] == _param(name) for name in KEY)),
                [{f"p_{name}": value for name, value in row.items()} for row in gone],
            )
    rows = []
    for cell in sorted(set(cells) | set(uniques)):
        figures = cells.get(cell, [0] * 6)
        unique = uniques.get(cell, [0, 0])
        if any(figures) or any(unique):
            rows.append(
                {
                    **dict(zip(CELL, cell, strict=True)),
                    **dict(zip(_FIGURES, figures, strict=True)),
                    "unique_points": unique[0],
                    "v_unique_points": unique[1],
                }
            )
    if not rows:
        return
    counters = (*_FIGURES, "unique_points", "v_unique_points")
    stmt = upsert(conn, usage_days)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(CELL), set_={name: usage_days.c[name] + stmt.excluded[name] for name in counters}
    ).returning(*(usage_days.c[name] for name in (*CELL, "processes")))
    empty = [dict(zip(CELL, row[:4], strict=True)) for row in conn.execute(stmt, rows) if row.processes <= 0]
    if empty:
        conn.execute(
            delete(usage_days).where(*(usage_days.c[name] == _param(name) for name in CELL)),
            [{f"p_{name}": value for name, value in row.items()} for row in empty],
        )


def _param(name):
    from sqlalchemy import bindparam

    return bindparam(f"p_{name}")


# ------------------------------------------------------------------ set-based rebuild


def _visible_sql():
    return case((and_(*scope.clauses(VISIBLE, requests_too=True)), 1), else_=0)


def _day_sql(tz):
    return (
        processes.c.time_us
        + tz * literal_column(str(HOUR_US), BigInteger)
        + literal_column(str(_BIAS_DAYS * DAY_US), BigInteger)
    ) // literal_column(str(DAY_US), BigInteger) - literal_column(str(_BIAS_DAYS), BigInteger)


def _tz_sql(hours):
    return literal_column(str(int(hours)), BigInteger)


def _per_process(user_id, tz_hours, codes=None):
    """One row per raw process of the user (every user: user_id None, each in their own
    timezone; tz_hours None: the user's stored one) with its local day and visibility;
    codes: only those processes."""
    day = _day_sql(users.c.timezone if tz_hours is None else _tz_sql(tz_hours))
    query = select(
        processes.c.user_id,
        day.label("day"),
        processes.c.service,
        processes.c.process_type,
        processes.c.process_code,
        func.coalesce(processes.c.request_points_count, 0).label("points"),
        func.coalesce(processes.c.result_elements_count, 0).label("elements"),
        _visible_sql().label("visible"),
    )
    if tz_hours is None:
        query = query.select_from(processes.join(users, users.c.id == processes.c.user_id))
    if user_id is not None:
        query = query.where(processes.c.user_id == user_id)
    if codes is not None:
        query = query.where(processes.c.process_code.in_(codes))
    return query.subquery("per_process")


def _add_raw(conn, user_id, tz_hours, sign, merge=True, codes=None):
    """Add (sign 1) or take out (sign -1) the contributions of the user's raw processes
    (codes: of those only) under the timezone given, in two INSERT ... SELECT statements;
    merge=False: into rows known to be empty (a plain INSERT, faster). Unique points are
    left to _tidy."""
    per = _per_process(user_id, tz_hours, codes)
    factor = literal(sign)
    cell = [per.c.user_id, per.c.day, per.c.service, per.c.process_type]
    keys = (
        select(
            *cell,
            process_points.c.point_key,
            (func.count() * factor).label("refs"),
            (func.sum(per.c.visible) * factor).label("v_refs"),
        )
        .select_from(per.join(process_points, process_points.c.process_code == per.c.process_code))
        .where(true())  # SQLite: an upsert's SELECT needs a WHERE (its parsing ambiguity)
        .group_by(*cell, process_points.c.point_key)
    )
    stmt = upsert(conn, usage_day_keys).from_select([*KEY, "refs", "v_refs"], keys)
    if merge:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(KEY),
            set_={name: usage_day_keys.c[name] + stmt.excluded[name] for name in ("refs", "v_refs")},
        )
    conn.execute(stmt)
    visible_points = case((per.c.visible == 1, per.c.points), else_=0)
    visible_elements = case((per.c.visible == 1, per.c.elements), else_=0)
    cells = (
        select(
            *cell,
            (func.count() * factor).label("processes"),
            (func.sum(per.c.points) * factor).label("points"),
            (func.sum(per.c.elements) * factor).label("elements"),
            (func.sum(per.c.visible) * factor).label("v_processes"),
            (func.sum(visible_points) * factor).label("v_points"),
            (func.sum(visible_elements) * factor).label("v_elements"),
            literal(0).label("unique_points"),
            literal(0).label("v_unique_points"),
        )
        .where(true())
        .group_by(*cell)
    )
    counters = (*_FIGURES, "unique_points", "v_unique_points")
    stmt = upsert(conn, usage_days).from_select([*CELL, *counters], cells)
    if merge:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(CELL), set_={name: usage_days.c[name] + stmt.excluded[name] for name in _FIGURES}
        )
    conn.execute(stmt)


def _tidy(conn, user_id, fresh=False):
    """Drop key rows and cells whose counts reached 0; recount the cells' unique points
    from their key rows (one grouped pass, UPDATE ... FROM). fresh: the cells were just
    inserted (unique points 0, no count at 0)."""

    def mine(table):
        return [] if user_id is None else [table.c.user_id == user_id]

    if not fresh:
        conn.execute(delete(usage_day_keys).where(usage_day_keys.c.refs <= 0, *mine(usage_day_keys)))
        conn.execute(update(usage_days).where(*mine(usage_days)).values(unique_points=0, v_unique_points=0))
    counted = (
        select(
            *(usage_day_keys.c[name] for name in CELL),
            func.count().label("unique_points"),
            func.sum(case((usage_day_keys.c.v_refs > 0, 1), else_=0)).label("v_unique_points"),
        )
        .where(*mine(usage_day_keys))
        .group_by(*(usage_day_keys.c[name] for name in CELL))
        .subquery("counted")
    )
    conn.execute(
        update(usage_days)
        .where(*(usage_days.c[name] == counted.c[name] for name in CELL))
        .values(unique_points=counted.c.unique_points, v_unique_points=counted.c.v_unique_points)
    )
    if not fresh:
        conn.execute(delete(usage_days).where(usage_days.c.processes <= 0, *mine(usage_days)))


def rebuild_user(conn, user_id, old_tz, new_tz):
    """The user's roll-ups under new_tz: the contributions of the raw processes whose local
    day changes are taken out under old_tz and put back under new_tz (an hour's shift moves
    a 24th of the history), the others stay; so do the days a purge left without raw rows,
    as they were."""
    # The codes first, then their rows by code: the planner cannot estimate "the day
    # changes" and would join every stored point key by hash instead of these by index.
    moved = list(
        conn.execute(
            select(processes.c.process_code).where(
                processes.c.user_id == user_id, _day_sql(_tz_sql(old_tz)) != _day_sql(_tz_sql(new_tz))
            )
        ).scalars()
    )
    for chunk in chunked(moved, 1000):
        _add_raw(conn, user_id, old_tz, -1, codes=chunk)
        _add_raw(conn, user_id, new_tz, 1, codes=chunk)
    _tidy(conn, user_id)


def rebuild_all(conn):
    """Every user's roll-ups from the raw rows stored (the migration; bench data sets)."""
    conn.execute(delete(usage_day_keys))
    conn.execute(delete(usage_days))
    _add_raw(conn, None, None, 1, merge=False)
    _tidy(conn, None, fresh=True)


def change_timezone(conn, user_id, new_tz):
    """Lock the user's row, and when new_tz differs from the stored timezone rebuild their
    roll-ups under it, in the caller's transaction (which then stores new_tz). Returns the
    old timezone."""
    old_tz = conn.execute(select(users.c.timezone).where(users.c.id == user_id).with_for_update()).scalar_one()
    if old_tz != new_tz:
        rebuild_user(conn, user_id, old_tz, new_tz)
    return old_tz


# ------------------------------------------------------------------ reads


def daily_rows(conn, user_id, first_day, last_day, service=None, process_type=None, visible_only=False):
    """Rows (day number, service, process_type, unique_points, points, elements, processes)
    of the user's local days first_day..last_day (day numbers, inclusive), sorted;
    visible_only: the 7.9 dialect's figures (under the same names)."""
    prefix = "v_" if visible_only else ""
    names = ("unique_points", "points", "elements", "processes")
    columns = [usage_days.c[prefix + name].label(name) for name in names]
    query = select(usage_days.c.day, usage_days.c.service, usage_days.c.process_type, *columns).where(
        usage_days.c.user_id == user_id,
        usage_days.c.day >= first_day,
        usage_days.c.day <= last_day,
        usage_days.c[prefix + "processes"] > 0,
    )
    if service:
        query = query.where(usage_days.c.service == service)
    if process_type:
        query = query.where(usage_days.c.process_type == process_type)
    query = query.order_by(usage_days.c.day, usage_days.c.service, usage_days.c.process_type)
    return conn.execute(query).all()


def points_on_local_day(conn, user_id, day, service, process_type):
    """Points the user's processes of (service, process_type) used on their local day
    (a date, in the user's timezone), every process counted (7.9-visible or not): for
    quota checks. Read from the roll-up, so it costs one primary-key lookup."""
    value = conn.execute(
        select(usage_days.c.points).where(
            usage_days.c.user_id == user_id,
            usage_days.c.day == day_number(day),
            usage_days.c.service == service,
            usage_days.c.process_type == process_type,
        )
    ).scalar()
    return int(value or 0)
