"""Quota enforcement: POST/DELETE /account/quota/reservations, GET /account/quota/usage,
and the automatic release on ingestion."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.db import reservations as reservation_queries
from app.db import transaction
from app.db import usage as usage_queries
from tests.conftest import assert_tracedata, drop_idle_connections, process_record

RESERVE = "/account/quota/reservations"
NOON = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def alice(auth, clock, quota):
    """alice (acme, UTC+0) with a UNIVERSAL/PLAN quota of 1000 per request, 5000 a day, 2 at once."""
    headers = auth("alice")
    quota("alice", 1000, 5000, 2)
    return headers


@pytest.fixture
def bot(producer):
    return producer()


def body(points=100, username="alice", code=None, **extra):
    return {
        "username": username,
        "service": "UNIVERSAL",
        "process_type": "PLAN",
        "process_code": code or str(uuid.uuid4()),
        "points": points,
        **extra,
    }


def reserve(client, headers, **kwargs):
    request = body(**kwargs)
    return request, client.post(RESERVE, json=request, headers=headers)


def reservations(db):
    return db("select process_code, points, day, expires_us, released_us from quota_reservations order by granted_us")


def refused(db):
    return db(
        "select p.process_code, p.username, p.status, p.service, p.process_type, p.request_points_count,"
        " r.operation, r.service as request_service"
        " from processes p join process_requests r on r.process_code = p.process_code"
        " where p.status = 'CANCELED_BY_QUOTA' order by p.time_us"
    )


def usage(client, headers):
    response = client.get("/account/quota/usage", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def plan_usage(client, headers):
    (service,) = [s for s in usage(client, headers)["services"] if s["service"] == "UNIVERSAL"]
    (plan,) = [p for p in service["processes"] if p["process_type"] == "PLAN"]
    return plan


# ---------------------------------------------------------------- a grant


def test_a_reservation_within_every_limit_is_granted(client, alice, bot, db, clock):
    request, response = reserve(client, bot, points=700, ttl_seconds=120)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "process_code": request["process_code"],
        "username": "alice",
        "service": "UNIVERSAL",
        "process_type": "PLAN",
        "points": 700,
        "expires": "2026-11-15T12:02:00+00:00",
        "remaining": {"points_per_day": 4300, "concurrent_executions": 1},
    }
    stored = reservations(db)
    assert len(stored) == 1 and stored[0]["points"] == 700 and stored[0]["released_us"] is None
    assert refused(db) == []
    assert plan_usage(client, alice) == {
        "process_type": "PLAN",
        "points_per_request": 1000,
        "points_per_day": 5000,
        "max_concurrent_execution": 2,
        "points_per_date_window": None,
        "points_used": 0,
        "points_reserved": 700,
        "active_reservations": 1,
    }


def test_the_default_ttl_is_ten_minutes(client, alice, bot):
    _, response = reserve(client, bot)
    assert response.get_json()["expires"] == "2026-11-15T12:10:00+00:00"


def test_an_admin_may_reserve_for_any_company(client, alice, producer, auth, quota):
    auth("zed", company="other_co")
    quota("zed", 10, 10, 1)
    admin = producer("root_admin", company="admin_co", roles=("ADMIN",))
    assert reserve(client, admin, username="zed", points=10)[1].status_code == 200
    assert reserve(client, admin, points=10)[1].status_code == 200


# ---------------------------------------------------------------- every limit and its refusal body


def _assert_refusal(response, status, *phrases):
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert set(answer) == {"tracedata", "message"}
    assert_tracedata(answer, "create_quota_reservation", "producer_bot", "acme")
    for phrase in phrases:
        assert phrase in answer["message"], answer["message"]
    return answer


def test_over_points_per_request_is_a_402_naming_the_limit(client, alice, bot, db):
    request, response = reserve(client, bot, points=1001)
    _assert_refusal(response, 402, "points_per_request", "1001", "1000")
    assert reservations(db) == []
    assert refused(db) == [
        {
            "process_code": request["process_code"],
            "username": "alice",
            "status": "CANCELED_BY_QUOTA",
            "service": "UNIVERSAL",
            "process_type": "PLAN",
            "request_points_count": 0,
            "operation": "quota_refused_points_per_request",
            "request_service": "ACCOUNT",
        }
    ]


def test_over_points_per_day_counts_the_day_and_the_active_reservations(client, alice, bot, ingest, db):
    ingest(
        process_record(time="2026-11-15T08:00:00+00:00", points=3500),
        process_record(time="2026-11-14T23:59:59+00:00", points=4000),  # yesterday: not counted
        process_record(time="2026-11-15T09:00:00+00:00", points=999, process_type="TRACE"),  # another quota
    )
    assert reserve(client, bot, points=1000)[1].status_code == 200
    request, response = reserve(client, bot, points=600)
    _assert_refusal(
        response, 402, "points_per_day", "3500 points used today", "1000 held", "600 requested", "5100", "5000"
    )
    assert [(row["process_code"], row["operation"]) for row in refused(db)] == [
        (request["process_code"], "quota_refused_points_per_day")
    ]
    assert reserve(client, bot, points=500)[1].get_json()["remaining"] == {
        "points_per_day": 0,
        "concurrent_executions": 0,
    }


def test_over_max_concurrent_execution_is_a_429_with_retry_after(client, alice, bot, clock, db):
    assert reserve(client, bot, ttl_seconds=300)[1].status_code == 200
    clock.now = NOON + timedelta(seconds=100)
    assert reserve(client, bot, ttl_seconds=600)[1].status_code == 200
    clock.now = NOON + timedelta(seconds=130, microseconds=1)
    request, response = reserve(client, bot)
    _assert_refusal(response, 429, "max_concurrent_execution", "2 reservations active", "the limit is 2")
    assert response.headers["Retry-After"] == "170"  # the first one expires at 12:05:00
    assert [(row["process_code"], row["operation"]) for row in refused(db)] == [
        (request["process_code"], "quota_refused_max_concurrent_execution")
    ]
    clock.now = NOON + timedelta(seconds=300)
    assert reserve(client, bot, code=request["process_code"])[1].status_code == 200  # retried after it


def test_no_quota_for_the_service_and_type_is_a_402(client, alice, bot, db):
    request, response = reserve(client, bot, process_type="TRACE")
    _assert_refusal(response, 402, "No quota")
    assert (refused(db)[0]["process_type"], refused(db)[0]["operation"]) == ("TRACE", "quota_refused_no_quota")


def test_a_zero_concurrency_quota_allows_nothing(client, alice, bot, quota):
    quota("alice", 1000, 5000, 0)
    _assert_refusal(reserve(client, bot)[1], 402, "max_concurrent_execution is 0")


@pytest.mark.parametrize("enabled", [True, False])
def test_unknown_and_disabled_users_are_the_same_404(client, bot, make_user, enabled, quota, db, clock):
    if not enabled:
        make_user("ghost", enabled=False)
        quota("ghost", 10, 10, 1)
    response = reserve(client, bot, username="ghost", points=1)[1]
    assert response.status_code == 404
    answer = response.get_json()
    assert answer["resource_key"] == "user"
    assert_tracedata(answer, "create_quota_reservation", "producer_bot", "acme")
    assert reservations(db) == [] and refused(db) == []


def test_a_bot_may_reserve_only_for_its_own_company(client, alice, producer, db):
    other_bot = producer("other_bot", company="other_co")
    response = reserve(client, other_bot)[1]
    assert response.status_code == 403
    assert set(response.get_json()) == {"tracedata", "message"}
    assert reservations(db) == [] and refused(db) == []


def test_users_without_bot_or_admin_may_not_reserve(client, alice, db):
    response = reserve(client, alice)[1]
    assert response.status_code == 403
    assert "BOT or ADMIN" in response.get_json()["message"]
    assert_tracedata(response.get_json(), "create_quota_reservation", "alice", "acme")
    assert reservations(db) == [] and refused(db) == []
    # The caller is checked before the body: a user's bad body is still a 403.
    assert client.post(RESERVE, json={**body(), "points": -1}, headers=alice).status_code == 403


@pytest.mark.parametrize("how", ["disable-user", "password"])
def test_a_revoked_or_disabled_callers_token_reserves_nothing(app, client, alice, bot, runner, db, how):
    """A token revoked since it was issued (its user disabled, or an older token_version)
    is the same 401 as elsewhere, whatever the body, and nothing is stored."""
    if how == "disable-user":
        assert runner.invoke(args=["account", "disable-user", "producer_bot"]).exit_code == 0
    else:
        with app.app_context(), transaction() as conn:  # what a password change does to older tokens
            conn.execute(text("update users set token_version = token_version + 1 where username = 'producer_bot'"))
    for request in (body(), {**body(), "points": -1}, {}):
        response = client.post(RESERVE, json=request, headers=bot)
        assert response.status_code == 401, (request, response.get_json())
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert_tracedata(response.get_json(), "create_quota_reservation")
    assert reservations(db) == [] and refused(db) == []


@pytest.mark.parametrize(
    "change,field",
    [
        ({"points": -1}, "points"),
        ({"points": 100_000_001}, "points"),
        ({"points": "10"}, "points"),
        ({"ttl_seconds": 9}, "ttl_seconds"),
        ({"ttl_seconds": 86401}, "ttl_seconds"),
        ({"process_code": "not-a-uuid"}, "process_code"),
        ({"service": "NOPE"}, "service"),
        ({"process_type": "NOPE"}, "process_type"),
        ({"username": None}, "username"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, alice, bot, change, field, db):
    response = client.post(RESERVE, json={**body(), **change}, headers=bot)
    assert response.status_code == 400
    assert f"{field}:" in response.get_json()["message"]
    assert reservations(db) == [] and refused(db) == []


def test_refusals_show_in_the_users_audit_and_statistics(app, client, alice, bot):
    request, _ = reserve(client, bot, points=5000)
    audit = client.get("/account/audit", query_string={"status": "CANCELED_BY_QUOTA"}, headers=alice).get_json()
    (action,) = audit["actions"]
    assert action["process_code"] == request["process_code"]
    assert action["statistics"]["calculation_info"]["status"] == "CANCELED_BY_QUOTA"
    assert action["requests"][0]["operation"] == "quota_refused_points_per_request"
    stats = client.get(
        "/account/statistics", query_string={"from": "2026-11-15", "to": "2026-11-15"}, headers=alice
    ).get_json()
    (day,) = stats["dates"]
    figures = {
        (service["service"], process["process_type"]): process
        for service in day["services"]
        for process in service["processes"]
    }
    # the refusal (alice's own login is the ACCOUNT process beside it)
    assert figures["UNIVERSAL", "PLAN"]["processes_per_day"] == 1
    assert figures["UNIVERSAL", "PLAN"]["points_per_day"] == 0
    # refused again with the same code: still one process
    assert client.post(RESERVE, json=request, headers=bot).status_code == 402
    with app.app_context(), app.extensions["account_db"].connect() as conn:
        user_id = conn.execute(text("select id from users where username = 'alice'")).scalar_one()
        rolled = usage_queries.daily_statistics(conn, user_id, 0, date(2026, 11, 15), date(2026, 11, 15))
        raw = usage_queries.daily_statistics_raw(conn, user_id, 0, date(2026, 11, 15), date(2026, 11, 15))
    assert rolled == raw
    assert ("UNIVERSAL", "PLAN") in {(row[1], row[2]) for row in rolled}


# ---------------------------------------------------------------- idempotency and expiry


def test_a_resent_reservation_is_the_same_one_with_a_renewed_expiry(client, alice, bot, clock, db):
    request, first = reserve(client, bot, points=400, ttl_seconds=60)
    clock.now = NOON + timedelta(seconds=50)
    second = client.post(RESERVE, json=request, headers=bot)
    assert second.status_code == 200
    assert second.get_json()["expires"] == "2026-11-15T12:01:50+00:00"
    assert (
        second.get_json()["remaining"]
        == first.get_json()["remaining"]
        == {
            "points_per_day": 4600,
            "concurrent_executions": 1,
        }
    )
    (stored,) = reservations(db)
    assert stored["expires_us"] == int((NOON + timedelta(seconds=110)).timestamp()) * 1_000_000
    # Renewed: still counting after the first expiry.
    clock.now = NOON + timedelta(seconds=100)
    assert plan_usage(client, alice)["active_reservations"] == 1


def test_a_resent_reservation_needs_no_free_slot(client, alice, bot):
    first, _ = reserve(client, bot)
    reserve(client, bot)
    assert client.post(RESERVE, json=first, headers=bot).status_code == 200


@pytest.mark.parametrize(
    "change,field",
    [({"service": "ROUTING"}, "service"), ({"process_type": "TRACE"}, "process_type"), ({"points": 5}, "points")],
)
def test_the_same_code_for_another_reservation_is_a_400(client, alice, bot, quota, change, field, db):
    quota("alice", 1000, 5000, 2, service="ROUTING")
    quota("alice", 1000, 5000, 2, process_type="TRACE")
    request, _ = reserve(client, bot)
    response = client.post(RESERVE, json={**request, **change}, headers=bot)
    assert response.status_code == 400
    assert f"{field}:" in response.get_json()["message"]
    assert len(reservations(db)) == 1 and refused(db) == []


def test_the_same_code_for_another_user_is_a_400(client, alice, bot, auth, quota, db):
    auth("bob")
    quota("bob", 1000, 5000, 2)
    request, _ = reserve(client, bot)
    response = client.post(RESERVE, json={**request, "username": "bob"}, headers=bot)
    assert response.status_code == 400
    assert "process_code:" in response.get_json()["message"]


def test_a_code_of_another_users_process_or_an_ended_one_is_a_400(client, alice, bot, auth, quota, ingest):
    auth("bob")
    quota("bob", 1000, 5000, 2)
    bobs = process_record(username="bob", time="2026-11-15T11:00:00+00:00", status="IN_PROGRESS")
    ended = process_record(time="2026-11-15T11:00:00+00:00")
    ingest(bobs, ended)
    response = reserve(client, bot, code=bobs["process_code"])[1]
    assert response.status_code == 400 and "another user's process" in response.get_json()["message"]
    response = reserve(client, bot, code=ended["process_code"])[1]
    assert response.status_code == 400 and "has ended" in response.get_json()["message"]


def test_an_expired_reservation_stops_counting_at_expires(client, alice, bot, clock, quota):
    quota("alice", 1000, 5000, 1)
    request, _ = reserve(client, bot, points=900, ttl_seconds=60)
    clock.now = NOON + timedelta(seconds=59)
    assert reserve(client, bot)[1].status_code == 429
    assert plan_usage(client, alice)["points_reserved"] == 900
    clock.now = NOON + timedelta(seconds=60)
    plan = plan_usage(client, alice)
    assert (plan["points_reserved"], plan["active_reservations"]) == (0, 0)
    # Sent again after it expired, it is a new grant, checked against the limits again.
    response = client.post(RESERVE, json=request, headers=bot)
    assert response.status_code == 200
    assert response.get_json()["expires"] == "2026-11-15T12:02:00+00:00"
    assert plan_usage(client, alice)["active_reservations"] == 1


# ---------------------------------------------------------------- release


def test_delete_releases_and_is_idempotent(client, alice, bot, quota, clock, db):
    quota("alice", 1000, 5000, 1)
    request, _ = reserve(client, bot)
    code = request["process_code"]
    assert reserve(client, bot)[1].status_code == 429
    clock.now = NOON + timedelta(seconds=5)
    response = client.delete(f"{RESERVE}/{code}", headers=bot)
    assert response.status_code == 204 and response.data == b""
    assert reservations(db)[0]["released_us"] == int(clock.now.timestamp()) * 1_000_000
    assert client.delete(f"{RESERVE}/{code}", headers=bot).status_code == 204
    assert reserve(client, bot)[1].status_code == 200  # the slot is free
    assert plan_usage(client, alice)["points_reserved"] == 100


def test_delete_of_an_expired_unknown_or_foreign_reservation(client, alice, bot, producer, clock):
    request, _ = reserve(client, bot, ttl_seconds=10)
    code = request["process_code"]
    assert client.delete(f"{RESERVE}/{code}", headers=producer("other_bot", company="other_co")).status_code == 403
    clock.now = NOON + timedelta(seconds=11)
    assert client.delete(f"{RESERVE}/{code}", headers=bot).status_code == 204
    response = client.delete(f"{RESERVE}/{uuid.uuid4()}", headers=bot)
    assert response.status_code == 404 and response.get_json()["resource_key"] == "reservation"
    response = client.delete(f"{RESERVE}/nope", headers=bot)
    assert response.status_code == 400 and "process_code:" in response.get_json()["message"]
    assert client.delete(f"{RESERVE}/{code}", headers=alice).status_code == 403


@pytest.mark.parametrize("path", ["/account/processes", "/v6/account/processes"])
def test_a_final_record_releases_and_the_day_counts_its_points(client, alice, bot, db, path):
    request, _ = reserve(client, bot, points=800)
    record = process_record(process_code=request["process_code"], time="2026-11-15T11:30:00+00:00", points=300)
    response = client.post(path, json={"processes": [record]}, headers=bot)
    assert response.status_code == 200, response.get_json()
    assert reservations(db)[0]["released_us"] is not None
    assert {k: v for k, v in plan_usage(client, alice).items() if k.startswith(("points_u", "points_r", "active"))} == {
        "points_used": 300,
        "points_reserved": 0,
        "active_reservations": 0,
    }


@pytest.mark.parametrize("recorded,counted", [(300, 800), (1200, 1200)])
def test_a_running_record_counts_the_larger_of_it_and_its_reservation(
    client, alice, bot, ingest, db, recorded, counted
):
    request, _ = reserve(client, bot, points=800)
    ingest(
        process_record(
            process_code=request["process_code"],
            time="2026-11-15T11:30:00+00:00",
            points=recorded,
            status="IN_PROGRESS",
        )
    )
    assert reservations(db)[0]["released_us"] is None
    plan = plan_usage(client, alice)
    assert plan["points_used"] + plan["points_reserved"] == counted
    assert plan["active_reservations"] == 1
    remaining = reserve(client, bot, points=0)[1].get_json()["remaining"]
    assert remaining["points_per_day"] == 5000 - counted


def test_a_record_of_another_user_does_not_release(client, alice, bot, auth, ingest, db):
    auth("bob")
    request, _ = reserve(client, bot)
    ingest(process_record(username="bob", process_code=request["process_code"], time="2026-11-15T11:00:00+00:00"))
    assert reservations(db)[0]["released_us"] is None


# ---------------------------------------------------------------- the local day


def test_a_reservation_counts_on_the_local_day_it_was_granted(client, auth, bot, quota, clock, ingest):
    headers = auth("alice", timezone=3)
    quota("alice", 1000, 1000, 5)
    clock.now = datetime(2026, 11, 15, 20, 50, tzinfo=UTC)  # 23:50 local
    ingest(process_record(time="2026-11-15T21:00:00+00:00", points=999))  # 00:00 local, tomorrow
    ingest(process_record(time="2026-11-15T20:59:59+00:00", points=100))  # today
    _, granted = reserve(client, bot, points=900, ttl_seconds=3600)
    assert granted.status_code == 200
    assert usage(client, headers)["day"] == "2026-11-15"
    clock.now = datetime(2026, 11, 15, 21, 10, tzinfo=UTC)  # 00:10 local, the next day
    answer = usage(client, headers)
    assert answer["day"] == "2026-11-16" and answer["timezone"] == 3
    plan = answer["services"][0]["processes"][0]
    assert (plan["points_used"], plan["points_reserved"], plan["active_reservations"]) == (999, 0, 1)
    assert reserve(client, bot, points=1)[1].status_code == 200
    _assert_refusal(reserve(client, bot, points=1)[1], 402, "999 points used today", "1 held")


def test_usage_is_the_callers_own_and_lists_every_quota(client, alice, auth, quota):
    quota("alice", 5, 50, 1, service="ROUTING", process_type="MATRIX")
    bob = auth("bob")
    assert usage(client, bob)["services"] == []
    answer = usage(client, alice)
    assert answer["day"] == "2026-11-15"
    assert [(s["service"], [p["process_type"] for p in s["processes"]]) for s in answer["services"]] == [
        ("ROUTING", ["MATRIX"]),
        ("UNIVERSAL", ["PLAN"]),
    ]
    assert client.get("/account/quota/usage").status_code == 401


# ---------------------------------------------------------------- faults


def test_a_connection_killed_mid_reservation_leaves_nothing(app, client, alice, bot, db, monkeypatch, backend):
    original = reservation_queries.decision_snapshot
    url = app.config["DATABASE_URL"]
    calls = []

    def killed_midway(tx, *args):
        found = original(tx, *args)  # the quota is held and read ...
        calls.append(1)
        if backend == "postgresql":  # ... then the server kills the connection
            from sqlalchemy import create_engine

            pid = tx.execute(text("select pg_backend_pid()")).scalar_one()
            killer = create_engine(url)
            with killer.begin() as other:
                other.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
            killer.dispose()
            return found  # the grant's statement meets the dead connection
        raise RuntimeError("connection lost")

    monkeypatch.setattr(reservation_queries, "decision_snapshot", killed_midway)
    request, response = reserve(client, bot)
    assert response.status_code == 500
    assert set(response.get_json()) == {"tracedata", "message"}
    # On PostgreSQL the decision ran once more on a new connection, and met the same fault.
    assert len(calls) == (2 if backend == "postgresql" else 1)
    assert reservations(db) == [] and refused(db) == []
    monkeypatch.setattr(reservation_queries, "decision_snapshot", original)
    assert client.post(RESERVE, json=request, headers=bot).status_code == 200
    assert len(reservations(db)) == 1


def test_a_refusal_is_recorded_whole_or_not_at_all(client, alice, bot, db, monkeypatch):
    original = reservation_queries._refusal_statements

    def broken_second(tx):
        process_statement, _ = original(tx)
        return process_statement, text("select no_such_column from processes")

    monkeypatch.setattr(reservation_queries, "_refusal_statements", broken_second)
    request, response = reserve(client, bot, points=5000)
    assert response.status_code == 500
    assert db("select count(*) as n from processes where status = 'CANCELED_BY_QUOTA'") == [{"n": 0}]
    monkeypatch.setattr(reservation_queries, "_refusal_statements", original)
    assert client.post(RESERVE, json=request, headers=bot).status_code == 402
    assert len(refused(db)) == 1


def test_connections_dropped_while_idle_cost_no_reservation(app, client, alice, bot, db, backend):
    assert reserve(client, bot)[1].status_code == 200
    engine = app.extensions["account_db"]
    with engine.connect(), engine.connect(), engine.connect(), engine.connect():
        pass  # four idle connections in the pool: more than the token lookup's retry replaces
    drop_idle_connections(app, backend)
    request, response = reserve(client, bot)
    assert response.status_code == 200, response.get_json()
    assert len(reservations(db)) == 2


# ---------------------------------------------------------------- what a decision reads


def _scans(plan):
    """(node type, relation or index, rows read) of every scan in an EXPLAIN (FORMAT
    JSON) plan: the rows it returned and the ones its filters removed, over all loops."""
    found = []
    if "Scan" in plan["Node Type"]:
        counted = ("Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck")
        read = sum(plan.get(key, 0) for key in counted) * plan["Actual Loops"]
        found.append((plan["Node Type"], plan.get("Index Name") or plan.get("Relation Name"), read))
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


@pytest.mark.postgresql_only
def test_a_decision_reads_its_quota_only_whatever_the_plans_were_built_on(app, client, alice, bot):
    """The PL/pgSQL decision's plans are built at a connection's first call, from the
    statistics of that moment, and kept. Built while the tables were near empty, they
    must still read only the user's own rows among 300 users with the same quota, their
    active reservations and processes, each row once (0009's single statement, planned
    here, read all the user's processes of the day again for each active reservation;
    under the bench's load its plans read the quotas of the service and process type up to
    the user's and walked the reservations' primary key)."""
    import json

    import psycopg2

    from app.config import normalize_database_url

    assert reserve(client, bot)[1].status_code == 200
    url = normalize_database_url(app.config["DATABASE_URL"]).replace("postgresql+psycopg2://", "postgresql://", 1)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    now_us = int(NOON.timestamp() * 1_000_000)
    # other_300: the last of 300 users with the same quota (the highest id), 3 reservations each
    decide = "SELECT * FROM quota_decision_snapshot('other_300', 'UNIVERSAL', 'PLAN', %s, %s, true)"
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "INSERT INTO users (username, company_key, password_hash, enabled, roles, timezone, attributes,"
                " token_version, creation_date, edit_date)"
                " SELECT 'other_' || n, company_key, password_hash, enabled, roles, timezone, attributes, 0,"
                " creation_date, edit_date FROM users, generate_series(1, 300) AS n WHERE username = 'alice'"
            )
            cursor.execute(
                "INSERT INTO quotas (user_id, service, process_type, points_per_request, points_per_day,"
                " max_concurrent_execution) SELECT id, 'UNIVERSAL', 'PLAN', 1000, 5000, 5 FROM users"
                " WHERE username LIKE 'other_%%'"
            )
            cursor.execute(decide, (str(uuid.uuid4()), now_us))  # plans built now: no reservation, no process
            cursor.execute(
                "INSERT INTO quota_reservations (process_code, user_id, service, process_type, points, day,"
                " granted_us, expires_us) SELECT gen_random_uuid()::varchar, id, 'UNIVERSAL', 'PLAN', 10,"
                " %s / 86400000000, %s, %s + 600000000 FROM users, generate_series(1, 3)"
                " WHERE username LIKE 'other_%%'",
                (now_us, now_us, now_us),
            )
            cursor.execute(
                "INSERT INTO processes (process_code, user_id, username, company, service, process_type, time_us,"
                " status, result_version, preparing_time, business_validation_time, math_validation_time,"
                " waiting_time, calculation_time, request_points_count)"
                " SELECT process_code, user_id, 'other', 'acme', service, process_type, granted_us, 'IN_PROGRESS',"
                " 1, '', '', '', '', '', 5 FROM quota_reservations WHERE user_id <> (SELECT id FROM users"
                " WHERE username = 'alice')"
            )
            for setting in (
                "LOAD 'auto_explain'",
                "SET auto_explain.log_min_duration = 0",
                "SET auto_explain.log_analyze = on",
                "SET auto_explain.log_nested_statements = on",
                "SET auto_explain.log_format = json",
                "SET client_min_messages = log",
            ):
                cursor.execute(setting)
            del conn.notices[:]
            cursor.execute(decide, (str(uuid.uuid4()), now_us))
            row = cursor.fetchone()
            names = [column.name for column in cursor.description]
    finally:
        conn.close()
    answer = dict(zip(names, row, strict=True))
    # Its 3 reservations of 10 points, each with a running record of 5 today.
    assert [answer[name] for name in ("user_username", "active", "used", "reserved")] == ["other_300", 3, 15, 15]
    plans = [json.loads(notice.split("plan:", 1)[1])["Plan"] for notice in conn.notices if "plan:" in notice]
    scans = [scan for plan in plans for scan in _scans(plan)]
    assert any(name == "uq_quotas_user_service_type" for _, name, _ in scans), scans
    assert not [scan for scan in scans if scan[0] == "Seq Scan" or scan[2] > 3], scans
