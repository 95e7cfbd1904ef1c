"""Queries on processes: idempotent ingestion, statistics, audit and raw files."""

import uuid
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import BigInteger, and_, delete, distinct, exists, func, literal_column, select, update

from app.db import NotFound, rollups, upsert
from app.db.tables import process_file_chunks, process_points, process_requests, processes, users

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
EPOCH = date(1970, 1, 1)

# The columns holding the documented CalculationInfo, under its field names.
CALCULATION_INFO_COLUMNS = (
    "status",
    "result_version",
    "preparing_time",
    "business_validation_time",
    "math_validation_time",
    "waiting_time",
    "calculation_time",
)
# Columns a re-sent record updates; owner and identity never change.
_UPDATABLE = (
    "service",
    "process_type",
    "time_us",
    *CALCULATION_INFO_COLUMNS,
    "request_points_count",
    "result_elements_count",
)
_REQUEST_UPDATABLE = ("username", "company", "service", "operation", "env", "pod", "time_us")

# The audit's sort fields, whitelisted: the only names that ever reach ORDER BY.
SORT_COLUMNS = {
    "time": processes.c.time_us,
    "process_code": processes.c.process_code,
    "process_type": processes.c.process_type,
    "service": processes.c.service,
    "username": processes.c.username,
    "company": processes.c.company,
    "status": processes.c.status,
}


class BatchError(ValueError):
    """A record of a batch cannot be stored; nothing of the batch is."""

    def __init__(self, index, field, problem):
        super().__init__(f"processes.{index}.{field}: {problem}")
        self.index, self.field, self.problem = index, field, problem


def day_number(day):
    return (day - EPOCH).days


def day_from_number(number):
    return EPOCH + timedelta(days=int(number))


def owners(conn, usernames):
    """{username: (user_id, company_key)} of the users that exist."""
    rows = conn.execute(
        select(users.c.username, users.c.id, users.c.company_key).where(users.c.username.in_(sorted(usernames)))
    )
    return {row.username: (row.id, row.company_key) for row in rows}


def existing_owners(conn, codes):
    """{process_code: user_id} of the codes already stored."""
    found = {}
    codes = sorted(codes)
    for start in range(0, len(codes), 500):
        rows = conn.execute(
            select(processes.c.process_code, processes.c.user_id).where(
                processes.c.process_code.in_(codes[start : start + 500])
            )
        )
        found.update({row.process_code: row.user_id for row in rows})
    return found


def _chunks(rows, size):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def upsert_processes(conn, records):
    """Store records idempotently: a known process_code is updated, requests merge by
    request_code, point keys by value; the owners' daily roll-ups follow in the same
    transaction (app/db/rollups.py).

    Locks, in one order for every writer: the owners' user rows (FOR SHARE, against a
    concurrent timezone change), then the batch's processes in process_code order: new
    ones by inserting them (ON CONFLICT DO NOTHING: a code another batch is inserting
    waits for it and is then an existing one), existing ones by SELECT ... FOR UPDATE
    before their old contribution is read; then roll-up rows in key order. Concurrent
    overlapping batches neither deadlock nor lose a contribution, and the requests and
    keys written after the locks (plain inserts, several times faster than ON CONFLICT
    ones) cannot collide with another batch's."""
    records = sorted(records, key=lambda record: record["process_code"])
    if not records:
        return
    timezones = rollups.lock_timezones(conn, {record["user_id"] for record in records})
    rows = {
        record["process_code"]: {k: v for k, v in record.items() if k not in ("requests", "point_keys")}
        for record in records
    }
    inserted, old = set(), {}
    pending = list(rows)
    for _attempt in (1, 2):  # a second time for codes a concurrent purge deleted meanwhile
        result = conn.execute(
            upsert(conn, processes)
            .on_conflict_do_nothing(index_elements=["process_code"])
            .returning(processes.c.process_code),
            [rows[code] for code in pending],
        )
        inserted.update(result.scalars())
        for chunk in _chunks([code for code in pending if code not in inserted], 500):
            old.update(
                (row.process_code, row)
                for row in conn.execute(
                    select(processes)
                    .where(processes.c.process_code.in_(chunk))
                    .order_by(processes.c.process_code)
                    .with_for_update()
                )
            )
        pending = [code for code in pending if code not in inserted and code not in old]
        if not pending:
            break
    # A code another user's batch stored first (a race check_batch cannot see) is left alone.
    records = [
        record
        for record in records
        if record["process_code"] in inserted
        or (record["process_code"] in old and old[record["process_code"]].user_id == record["user_id"])
    ]
    updated = [rows[record["process_code"]] for record in records if record["process_code"] in old]
    if updated:
        stmt = upsert(conn, processes)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["process_code"], set_={name: stmt.excluded[name] for name in _UPDATABLE}
            ),
            updated,
        )
    codes = [record["process_code"] for record in records if record["process_code"] in old]
    requests = {
        (request["process_code"], request["request_code"]): request
        for record in records
        for request in record["requests"]
    }
    keys = {(record["process_code"], key) for record in records for key in record["point_keys"]}
    stored_requests, stored_keys = {}, set()
    for chunk in _chunks(codes, 500):
        for row in conn.execute(select(process_requests).where(process_requests.c.process_code.in_(chunk))):
            stored_requests[(row.process_code, row.request_code)] = {
                name: getattr(row, name) for name in _REQUEST_UPDATABLE
            }
        stored_keys.update(
            (row.process_code, row.point_key)
            for row in conn.execute(
                select(process_points.c.process_code, process_points.c.point_key).where(
                    process_points.c.process_code.in_(chunk)
                )
            )
        )
    for key in sorted(set(requests) & set(stored_requests)):  # a re-sent request replaces its earlier version
        values = {name: requests[key][name] for name in _REQUEST_UPDATABLE}
        if values != stored_requests[key]:
            conn.execute(
                update(process_requests)
                .where(process_requests.c.process_code == key[0], process_requests.c.request_code == key[1])
                .values(values)
            )
    new_requests = [requests[key] for key in sorted(set(requests) - set(stored_requests))]
    if new_requests:
        conn.execute(process_requests.insert(), new_requests)
    new_keys = sorted(keys - stored_keys)
    if new_keys:
        conn.execute(process_points.insert(), [{"process_code": code, "point_key": key} for code, key in new_keys])
    _update_rollups(conn, records, old, timezones, stored_requests, stored_keys, requests)


def _update_rollups(conn, records, old, timezones, stored_requests, stored_keys, requests):
    """Take the old contribution of every updated process out and put every new one in."""
    old_services, new_services, old_keys = defaultdict(list), defaultdict(list), defaultdict(set)
    for (code, request_code), values in stored_requests.items():
        old_services[code].append(values["service"])
        if (code, request_code) not in requests:
            new_services[code].append(values["service"])
    for (code, _request_code), values in requests.items():
        new_services[code].append(values["service"])
    for code, key in stored_keys:
        old_keys[code].add(key)
    removed, added = [], []
    for record in records:
        code, user_id = record["process_code"], record["user_id"]
        tz = timezones[user_id]
        before = old.get(code)
        if before is not None:
            removed.append(
                rollups.Contribution(
                    user_id,
                    rollups.local_day(before.time_us, tz),
                    before.service,
                    before.process_type,
                    rollups.is_visible(before.service, before.process_type, old_services[code]),
                    before.request_points_count or 0,
                    before.result_elements_count or 0,
                    frozenset(old_keys[code]),
                )
            )
        added.append(
            rollups.Contribution(
                user_id,
                rollups.local_day(record["time_us"], tz),
                record["service"],
                record["process_type"],
                rollups.is_visible(record["service"], record["process_type"], new_services[code]),
                record["request_points_count"] or 0,
                record["result_elements_count"] or 0,
                frozenset(old_keys[code] | set(record["point_keys"])),
            )
        )
    rollups.apply_changes(conn, removed, added)


def known_filters(known, requests_too=False):
    """Clauses keeping only the processes an API dialect can name. known is None (every
    process) or a pair (services, process_types); with requests_too, a process one of whose
    requests names another service is left out as well."""
    if known is None:
        return []
    services, process_types = (sorted(values) for values in known)
    clauses = [processes.c.service.in_(services), processes.c.process_type.in_(process_types)]
    if requests_too:
        clauses.append(
            ~exists().where(
                and_(
                    process_requests.c.process_code == processes.c.process_code,
                    process_requests.c.service.not_in(services),
                )
            )
        )
    return clauses


def _period_filters(user_id, start_us, end_us, service=None, process_type=None, known=None):
    filters = [processes.c.user_id == user_id, processes.c.time_us >= start_us, processes.c.time_us < end_us]
    if service:
        filters.append(processes.c.service == service)
    if process_type:
        filters.append(processes.c.process_type == process_type)
    return filters + known_filters(known)


def daily_statistics(conn, user_id, tz_hours, first_day, last_day, service=None, process_type=None, known=None):
    """Rows (day, service, process_type, unique_points, points, elements, processes) for the
    user's local days first_day..last_day (inclusive), read from the daily roll-ups. known
    (services, process_types): the 7.9 dialect's view, which leaves out every process that
    names another value in itself or in one of its requests (None: every process).
    tz_hours is the roll-ups' own (they are kept in the user's timezone)."""
    rows = rollups.daily_rows(
        conn, user_id, day_number(first_day), day_number(last_day), service, process_type, known is not None
    )
    if known is not None:
        services, process_types = known
        rows = [row for row in rows if row.service in services and row.process_type in process_types]
    return [
        (day_from_number(row.day), row.service, row.process_type, *(int(value) for value in row[3:])) for row in rows
    ]


def daily_statistics_raw(conn, user_id, tz_hours, first_day, last_day, service=None, process_type=None, known=None):
    """daily_statistics computed from the raw rows, as it was before the roll-ups: the
    reference the tests compare the roll-ups with (and the benchmark's baseline). The
    roll-ups also answer for purged days, which this cannot."""
    offset = tz_hours * HOUR_US
    start_us = day_number(first_day) * DAY_US - offset
    end_us = (day_number(last_day) + 1) * DAY_US - offset
    filters = _period_filters(user_id, start_us, end_us, service, process_type) + known_filters(known, True)
    # Inline integer literals (ours, never the caller's text): PostgreSQL must see the same
    # expression in SELECT and GROUP BY, which two bound parameters would not be. The day is
    # counted from the period's first day: the filters keep the dividend non-negative, so SQL's
    # integer division (which truncates toward zero) is the floor even for days before 1970.
    day = (
        (processes.c.time_us + literal_column(f"({int(-start_us)})", BigInteger))
        // literal_column(str(DAY_US), BigInteger)
    ).label("day")
    keys = (day, processes.c.service, processes.c.process_type)
    totals = conn.execute(
        select(
            *keys,
            func.count().label("processes"),
            func.coalesce(func.sum(processes.c.request_points_count), 0).label("points"),
            func.coalesce(func.sum(processes.c.result_elements_count), 0).label("elements"),
        )
        .where(*filters)
        .group_by(*keys)
    ).all()
    uniques = conn.execute(
        select(*keys, func.count(distinct(process_points.c.point_key)).label("unique_points"))
        .select_from(processes.join(process_points, process_points.c.process_code == processes.c.process_code))
        .where(*filters)
        .group_by(*keys)
    ).all()
    unique_by_key = {(row.day, row.service, row.process_type): row.unique_points for row in uniques}
    rows = [
        (
            day_from_number(day_number(first_day) + row.day),
            row.service,
            row.process_type,
            int(unique_by_key.get((row.day, row.service, row.process_type), 0)),
            int(row.points),
            int(row.elements),
            int(row.processes),
        )
        for row in totals
    ]
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    return rows


# Processes read per fetch of a streamed audit, and whose requests are read in one query.
AUDIT_CHUNK = 500


def _audit_where(user_id, start_us, end_us, filters, known):
    """(visible, narrowing): the caller's processes a dialect can name, and what the
    filters add to them (the period first)."""
    visible = [processes.c.user_id == user_id, *known_filters(known, requests_too=True)]
    narrowing = _period_filters(user_id, start_us, end_us + 1, filters.get("service"), filters.get("process_type"))[1:]
    if filters.get("status"):
        narrowing.append(processes.c.status == filters["status"])
    if filters.get("operation"):
        narrowing.append(
            exists().where(
                and_(
                    process_requests.c.process_code == processes.c.process_code,
                    process_requests.c.operation == filters["operation"],
                )
            )
        )
    return visible, narrowing


def audit_counters(conn, user_id, start_us, end_us, filters, known=None):
    """(overall_total, filter_total) of the audit. known (services, process_types) leaves
    out every process that names another value, in itself or in one of its requests (None:
    every process)."""
    visible, narrowing = _audit_where(user_id, start_us, end_us, filters, known)
    # Both counters in one pass over the caller's processes (COUNT ... FILTER).
    overall, filtered = conn.execute(
        select(func.count(), func.count().filter(and_(*narrowing))).select_from(processes).where(*visible)
    ).one()
    return overall, filtered


def audit_chunks(
    conn, user_id, start_us, end_us, filters, sort_field, descending, offset, limit, known=None, chunk=AUDIT_CHUNK
):
    """The page of actions (process rows, each with its requests in time order), in lists
    of at most chunk rows, read as they are consumed: the processes through one
    server-side cursor (PostgreSQL; SQLite steps its statement row by row), the requests
    of each chunk in one query. Memory holds one chunk, whatever the page size."""
    visible, narrowing = _audit_where(user_id, start_us, end_us, filters, known)
    column = SORT_COLUMNS[sort_field]
    order = [column.desc() if descending else column.asc()]
    if sort_field != "process_code":
        order.append(processes.c.process_code.desc() if descending else processes.c.process_code.asc())
    result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
        select(processes).where(*visible, *narrowing).order_by(*order).offset(offset).limit(limit)
    )
    names = list(result.keys())
    request_names = [column.name for column in process_requests.columns]
    try:
        for partition in result.partitions():
            page = [dict(zip(names, row, strict=True)) for row in partition]  # faster than row._mapping
            by_code = {row["process_code"]: row for row in page}
            for row in page:
                row["requests"] = []
            rows = conn.execute(
                select(process_requests)
                .where(process_requests.c.process_code.in_(list(by_code)))
                .order_by(process_requests.c.time_us, process_requests.c.request_code)
            )
            for request in rows:
                request = dict(zip(request_names, request, strict=True))
                by_code[request["process_code"]]["requests"].append(request)
            yield page
    finally:
        result.close()


def audit(conn, user_id, start_us, end_us, filters, sort_field, descending, offset, limit, known=None):
    """(overall_total, filter_total, page of actions with their requests), the page in one
    list: for small pages (the answers stream theirs through audit_chunks)."""
    overall, filtered = audit_counters(conn, user_id, start_us, end_us, filters, known)
    page = [
        row
        for rows in audit_chunks(conn, user_id, start_us, end_us, filters, sort_field, descending, offset, limit, known)
        for row in rows
    ]
    return overall, filtered, page


def get_process(conn, user_id, process_code):
    row = conn.execute(
        select(processes).where(processes.c.process_code == process_code, processes.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(process_code)
    return dict(row._mapping)


def get_process_for_company(conn, process_code, company=None):
    """The process, if it exists and (when company is given) belongs to that company."""
    query = select(processes).where(processes.c.process_code == process_code)
    if company is not None:
        query = query.where(processes.c.company == company)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(process_code)
    return dict(row._mapping)


def _flag(flow_type):
    return {"INPUT": "input_file_exists", "OUTPUT": "output_file_exists"}[flow_type]


def write_file(conn, process_code, flow_type, chunks):
    """Replace the file of one flow with the chunks given (an iterable of bytes)."""
    key = (process_file_chunks.c.process_code == process_code, process_file_chunks.c.flow_type == flow_type)
    conn.execute(delete(process_file_chunks).where(*key))
    size, seq = 0, -1
    for seq, chunk in enumerate(chunks):
        size += len(chunk)
        conn.execute(
            process_file_chunks.insert().values(process_code=process_code, flow_type=flow_type, seq=seq, data=chunk)
        )
    if seq < 0:  # an empty file is one empty chunk: it exists (the flag says so) and reads back empty
        conn.execute(
            process_file_chunks.insert().values(process_code=process_code, flow_type=flow_type, seq=0, data=b"")
        )
    conn.execute(update(processes).where(processes.c.process_code == process_code).values({_flag(flow_type): True}))
    return size


def file_chunk_count(conn, process_code, flow_type):
    return conn.execute(
        select(func.count()).where(
            process_file_chunks.c.process_code == process_code, process_file_chunks.c.flow_type == flow_type
        )
    ).scalar_one()


def file_chunks(conn, process_code, flow_type):
    """The chunks of a file, in order, one at a time. One SELECT read through a streaming
    cursor: a single statement sees one version of the file even if it is replaced while
    the download runs, and only one chunk is in memory at a time."""
    result = conn.execution_options(stream_results=True, yield_per=1).execute(
        select(process_file_chunks.c.data)
        .where(process_file_chunks.c.process_code == process_code, process_file_chunks.c.flow_type == flow_type)
        .order_by(process_file_chunks.c.seq)
    )
    for row in result:
        yield row.data


def new_code():
    return str(uuid.uuid4())
