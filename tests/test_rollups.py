"""Daily roll-ups (issue 12): the statistics read from them equal the raw aggregate, under
random histories, a migration of rows stored before them, and concurrent batches."""

import random
import threading
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, insert, select, update

from app import db
from app.config import DEFAULTS, normalize_database_url
from app.db import rollups, scope
from app.db.days import DAY_US, HOUR_US, day_number
from app.db.ingest import upsert_processes
from app.db.tables import (
    process_file_chunks,
    process_points,
    process_requests,
    processes,
    usage_day_keys,
    usage_days,
    users,
)
from app.db.usage import daily_statistics, daily_statistics_raw
from app.db.users import set_timezone
from app.migrate import upgrade
from app.security import issue_token
from app.services.ingest import merge_duplicates
from tests import servers
from tests.conftest import BACKENDS, TEST_SECRET, _private_postgres_database, postgres_url

FIRST, LAST = date(2026, 10, 1), date(2026, 12, 31)
BASE_US = day_number(date(2026, 11, 10)) * DAY_US
USERS = ("alice", "bob")
SERVICES = ("ROUTING", "UNIVERSAL", "STOCK")  # STOCK: a name only 6.20 knows
TYPES = ("PLAN", "TRACE", "PACK")  # PACK: likewise
REQUEST_SERVICES = ("ROUTING", "LONGHAUL")


def code_of(number):
    return f"00000000-0000-4000-8000-{number:012d}"


def row(user, number, day, hour, service, process_type, points, elements, keys, request=None):
    """A stored-row dict as app.services.ingest._to_row makes it; request (index, service)."""
    code = code_of(number)
    time_us = BASE_US + day * DAY_US + hour * HOUR_US
    requests = []
    if request is not None:
        index, request_service = request
        requests.append(
            {
                "process_code": code,
                "request_code": code_of(1000 + number * 10 + index),
                "username": user["username"],
                "company": user["company_key"],
                "service": request_service,
                "operation": "run",
                "env": "e",
                "pod": "p",
                "time_us": time_us,
            }
        )
    return {
        "process_code": code,
        "user_id": user["id"],
        "username": user["username"],
        "company": user["company_key"],
        "service": service,
        "process_type": process_type,
        "time_us": time_us,
        "status": "FINISHED_IN_TIME",
        "result_version": 1,
        "preparing_time": "PT1S",
        "business_validation_time": "PT1S",
        "math_validation_time": "PT1S",
        "waiting_time": "PT1S",
        "calculation_time": "PT1S",
        "request_points_count": points,
        "result_elements_count": elements,
        "requests": requests,
        "point_keys": sorted(keys),
    }


def store(app, rows):
    with app.app_context(), db.transaction() as conn:
        upsert_processes(conn, merge_duplicates(rows))


def change_timezone(app, user_id, hours):
    with app.app_context(), db.transaction() as conn:
        set_timezone(conn, user_id, hours)


def answers(conn, user_id, first=FIRST, last=LAST):
    """{dialect: (roll-up rows, raw rows)} for the user under their current timezone."""
    tz = conn.execute(select(users.c.timezone).where(users.c.id == user_id)).scalar_one()
    found = {}
    for name, names in (("v6", scope.EVERY), ("v79", scope.V79)):
        found[name] = (
            daily_statistics(conn, user_id, tz, first, last, names=names),
            daily_statistics_raw(conn, user_id, tz, first, last, names=names),
        )
    return found


def assert_equal_to_raw(engine, user_ids, first=FIRST, last=LAST):
    with engine.connect() as conn:
        for user_id in user_ids:
            for name, (rolled, raw) in answers(conn, user_id, first, last).items():
                assert rolled == raw, (name, user_id)


def empty_usage(engine):
    with engine.begin() as conn:
        for table in (usage_day_keys, usage_days, process_file_chunks, process_points, process_requests, processes):
            conn.execute(delete(table))
        conn.execute(update(users).values(timezone=0))


@pytest.fixture
def people(app, make_user):
    made = [make_user(username=name) for name in USERS]
    engine = app.extensions["account_db"]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(users).where(users.c.id.in_([m["id"] for m in made])))]


records = st.tuples(
    st.integers(0, 5),  # process number: its owner is USERS[number % 2]
    st.integers(0, 2),  # day
    st.integers(0, 23),  # hour
    st.sampled_from(SERVICES),
    st.sampled_from(TYPES),
    st.one_of(st.none(), st.integers(0, 40)),
    st.one_of(st.none(), st.integers(0, 40)),
    st.frozensets(st.sampled_from([f"k{n}" for n in range(5)]), max_size=3),
    st.one_of(st.none(), st.tuples(st.integers(0, 1), st.sampled_from(REQUEST_SERVICES))),
)
steps = st.one_of(
    st.tuples(st.just("batch"), st.lists(records, min_size=1, max_size=4)),
    st.tuples(st.just("tz"), st.integers(0, 1), st.sampled_from([-11, -3, 0, 5, 12])),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(steps, min_size=1, max_size=8))
def test_rollups_equal_the_raw_aggregate_for_random_histories(app, people, history):
    """Re-sent records move processes across days, services and types and change their
    figures and keys; keys are shared across processes and days; timezones change; names
    only 6.20 knows (in the process or a request) hide a process from 7.9 alone."""
    engine = app.extensions["account_db"]
    empty_usage(engine)
    for step in history:
        if step[0] == "tz":
            change_timezone(app, people[step[1]]["id"], step[2])
        else:
            store(app, [row(people[number % 2], number, *rest) for number, *rest in step[1]])
    assert_equal_to_raw(engine, [person["id"] for person in people])
    assert_same_as_rebuilt(engine)


def snapshot(conn):
    return [sorted(tuple(r) for r in conn.execute(select(table))) for table in (usage_days, usage_day_keys)]


def assert_same_as_rebuilt(engine):
    """The tables the increments left hold exactly what a rebuild from the raw rows
    writes: every count, the 7.9 ones and each key's references (none left at 0)."""
    with engine.connect() as conn:
        kept = snapshot(conn)
        rollups.rebuild_all(conn)
        rebuilt = snapshot(conn)
        conn.rollback()
    assert kept == rebuilt


def test_a_resent_record_moves_its_contribution(app, people, db):
    alice = people[0]
    store(
        app,
        [
            row(alice, 0, 0, 10, "ROUTING", "PLAN", 10, 2, {"a", "b"}),
            row(alice, 2, 0, 11, "ROUTING", "PLAN", 5, 1, {"b"}),
        ],
    )
    assert db("select day, unique_points, points, processes from usage_days") == [
        {"day": day_number(date(2026, 11, 10)), "unique_points": 2, "points": 15, "processes": 2}
    ]
    # Process 0 moves to the next day and TRACE; its keys merge (c added, a and b kept).
    store(app, [row(alice, 0, 1, 10, "ROUTING", "TRACE", 7, 2, {"c"})])
    first, second = day_number(date(2026, 11, 10)), day_number(date(2026, 11, 11))
    assert db("select day, process_type, unique_points, points, processes from usage_days order by day") == [
        {"day": first, "process_type": "PLAN", "unique_points": 1, "points": 5, "processes": 1},
        {"day": second, "process_type": "TRACE", "unique_points": 3, "points": 7, "processes": 1},
    ]
    assert db("select point_key, refs from usage_day_keys where process_type = 'PLAN'") == [
        {"point_key": "b", "refs": 1}
    ]
    assert_equal_to_raw(app.extensions["account_db"], [alice["id"]])


def test_a_request_naming_a_620_service_hides_the_process_from_79_only(app, people):
    alice = people[0]
    store(app, [row(alice, 0, 0, 10, "ROUTING", "PLAN", 10, 2, {"a"}, request=(0, "ROUTING"))])
    store(app, [row(alice, 0, 0, 10, "ROUTING", "PLAN", 10, 2, {"a"}, request=(1, "LONGHAUL"))])
    with app.extensions["account_db"].connect() as conn:
        day = date(2026, 11, 10)
        assert daily_statistics(conn, alice["id"], 0, day, day, names=scope.V79) == []
        assert daily_statistics(conn, alice["id"], 0, day, day) == [(day, "ROUTING", "PLAN", 1, 10, 2, 1)]
    # Re-sent with that request back on ROUTING: 7.9 shows it again.
    store(app, [row(alice, 0, 0, 10, "ROUTING", "PLAN", 10, 2, {"a"}, request=(1, "ROUTING"))])
    with app.extensions["account_db"].connect() as conn:
        assert daily_statistics(conn, alice["id"], 0, day, day, names=scope.V79) == [
            (day, "ROUTING", "PLAN", 1, 10, 2, 1)
        ]


def test_points_on_local_day_reads_the_rollup(app, people):
    alice = people[0]
    store(
        app, [row(alice, 0, 0, 22, "ROUTING", "PLAN", 10, 2, set()), row(alice, 2, 0, 23, "STOCK", "PACK", 4, 1, set())]
    )
    with app.extensions["account_db"].connect() as conn:
        assert rollups.points_on_local_day(conn, alice["id"], date(2026, 11, 10), "ROUTING", "PLAN") == 10
        assert rollups.points_on_local_day(conn, alice["id"], date(2026, 11, 10), "STOCK", "PACK") == 4
        assert rollups.points_on_local_day(conn, alice["id"], date(2026, 11, 11), "ROUTING", "PLAN") == 0
    change_timezone(app, alice["id"], 3)  # 22:00 UTC is the next local day at +3
    with app.extensions["account_db"].connect() as conn:
        assert rollups.points_on_local_day(conn, alice["id"], date(2026, 11, 10), "ROUTING", "PLAN") == 0
        assert rollups.points_on_local_day(conn, alice["id"], date(2026, 11, 11), "ROUTING", "PLAN") == 10


# ---------------------------------------------------------------- migration


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_migration_builds_rollups_from_rows_stored_before_it(kind, tmp_path):
    if kind == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'old.db'}"])
        context = None
    else:
        context = _private_postgres_database(postgres_url())
        urls = iter([context.__enter__()])
    url = next(urls)
    try:
        upgrade(url, "0005_requests_foreign_service")
        engine = create_engine(normalize_database_url(url))
        now = datetime(2026, 11, 1)
        rng = random.Random(12)
        with engine.begin() as conn:
            for name, tz in (("old_alice", 3), ("old_bob", -5)):
                conn.execute(
                    insert(users).values(
                        username=name, company_key="acme", password_hash="x", enabled=True, roles=["USER"],
                        timezone=tz, attributes=[], token_version=0, creation_date=now, edit_date=now,
                    )
                )  # fmt: skip
            ids = list(conn.execute(select(users.c.id).order_by(users.c.id)).scalars())
            stored = [
                row(
                    {"id": ids[n % 2], "username": ("old_alice", "old_bob")[n % 2], "company_key": "acme"},
                    n,
                    rng.randint(-2, 5),
                    rng.randint(0, 23),
                    rng.choice(SERVICES),
                    rng.choice(TYPES),
                    rng.choice([None, rng.randint(0, 99)]),
                    rng.randint(0, 9),
                    {f"k{rng.randint(0, 6)}" for _ in range(rng.randint(0, 4))},
                    request=(0, rng.choice(REQUEST_SERVICES)),
                )
                for n in range(120)
            ]
            conn.execute(
                insert(processes), [{k: v for k, v in r.items() if k not in ("requests", "point_keys")} for r in stored]
            )
            conn.execute(insert(process_requests), [q for r in stored for q in r["requests"]])
            conn.execute(
                insert(process_points),
                [{"process_code": r["process_code"], "point_key": k} for r in stored for k in r["point_keys"]],
            )
        upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(select(usage_days)).first() is not None
        assert_equal_to_raw(engine, ids)
        engine.dispose()
    finally:
        if context is not None:
            context.__exit__(None, None, None)


# ---------------------------------------------------------------- concurrency


def _batch(rng, people, size):
    chosen = rng.sample(range(30), size)
    records = []
    for number in chosen:
        person = people[number % 2]
        when = datetime.fromtimestamp((BASE_US + rng.randint(0, 3 * DAY_US)) / 1e6, UTC).isoformat()
        code = code_of(number)
        records.append(
            {
                "process_code": code,
                "process_type": rng.choice(("PLAN", "TRACE")),
                "username": person["username"],
                "company": person["company_key"],
                "service": rng.choice(("ROUTING", "UNIVERSAL")),
                "time": when,
                "requests": [
                    {
                        "process_code": code,
                        "request_code": code_of(5000 + number),
                        "username": person["username"],
                        "company": person["company_key"],
                        "service": "ROUTING",
                        "operation": "run",
                        "env": "edge",
                        "pod": "pod1",
                        "time": when,
                    }
                ],
                "statistics": {
                    "request_points_count": rng.randint(0, 50),
                    "result_elements_count": rng.randint(0, 5),
                    "calculation_info": {
                        "status": "FINISHED_IN_TIME",
                        "result_version": 1,
                        "preparing_time": "PT1S",
                        "business_validation_time": "PT1S",
                        "math_validation_time": "PT1S",
                        "waiting_time": "PT1S",
                        "calculation_time": "PT1S",
                    },
                },
                "point_keys": [f"k{rng.randint(0, 12)}" for _ in range(rng.randint(0, 6))],
            }
        )
    return records


@pytest.mark.postgresql_only
def test_overlapping_concurrent_batches_stay_exact(database_url, tmp_path):
    """Threads post overlapping batches (the same processes, moved across days, services,
    types and keys) to a real gunicorn, while the CLI changes a timezone: every batch
    succeeds (no deadlock) and the roll-ups equal the raw aggregate."""
    import json

    engine = create_engine(normalize_database_url(database_url))
    now = datetime(2026, 11, 1)
    with engine.begin() as conn:
        for name, roles in (("conc_alice", ["USER"]), ("conc_bob", ["USER"]), ("conc_bot", ["ADMIN"])):
            conn.execute(
                insert(users).values(
                    username=name, company_key="acme", password_hash="x", enabled=True, roles=roles,
                    timezone=3, attributes=[], token_version=0, creation_date=now, edit_date=now,
                )
            )  # fmt: skip
        people = [dict(r._mapping) for r in conn.execute(select(users).order_by(users.c.id))]
    token = issue_token({**DEFAULTS, "JWT_SECRET": TEST_SECRET}, people[2], 3600)
    failures = []
    with servers.gunicorn(database_url, tmp_path, JWT_SECRET=TEST_SECRET, BCRYPT_ROUNDS="4") as server:

        def post(seed):
            rng = random.Random(seed)
            for _ in range(6):
                body = json.dumps({"processes": _batch(rng, people[:2], 20)}).encode()
                status, answer = servers.call(server, token, "POST", "/account/processes", body, "application/json")
                if status != 200:
                    failures.append((status, answer[:300]))

        def retime():
            for hours in (-4, 7, 0, 3):
                servers.cli(server, "set-timezone", "conc_alice", str(hours))

        threads = [threading.Thread(target=post, args=(seed,)) for seed in range(6)]
        threads.append(threading.Thread(target=retime))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert_equal_to_raw(engine, [people[0]["id"], people[1]["id"]])
        with engine.connect() as conn:
            assert conn.execute(select(users.c.timezone).where(users.c.id == people[0]["id"])).scalar_one() == 3
    engine.dispose()
