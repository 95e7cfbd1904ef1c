"""Ingestion: processes stored idempotently with their requests and point keys, the owners'
daily roll-ups kept in step in the same transaction."""

import uuid
from collections import defaultdict

from sqlalchemy import select, update

from app.db import chunked, rollups, upsert
from app.db.tables import process_points, process_requests, processes, users

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


def owners(conn, usernames):
    """{username: (user_id, company_key)} of the users that exist."""
    rows = conn.execute(
        select(users.c.username, users.c.id, users.c.company_key).where(users.c.username.in_(sorted(usernames)))
    )
    return {row.username: (row.id, row.company_key) for row in rows}


def existing_owners(conn, codes):
    """{process_code: user_id} of the codes already stored."""
    found = {}
    for chunk in chunked(sorted(codes)):
        rows = conn.execute(
            select(processes.c.process_code, processes.c.user_id).where(processes.c.process_code.in_(chunk))
        )
        found.update({row.process_code: row.user_id for row in rows})
    return found


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
        for chunk in chunked([code for code in pending if code not in inserted]):
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
    for chunk in chunked(codes):
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


def new_code():
    return str(uuid.uuid4())
