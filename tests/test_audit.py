"""GET /account/audit: the caller's processes, filtered, sorted and paged by the database."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.conftest import PASSWORD, assert_tracedata, process_record

DAY = {"from": "2026-11-10T00:00:00Z", "to": "2026-11-10T23:59:59.999999Z"}


def code(digit):
    return f"{digit}0000000-0000-4000-8000-000000000000"


# Five processes of one day whose orders differ by every sort field (A and E tie on time,
# process type, service and status, so the process_code tie-breaker shows too).
A, B, C, D, E = code(3), code(1), code(4), code(2), code(0)
SORTABLE = {
    A: {
        "time": "2026-11-10T10:00:00+00:00",
        "process_type": "PLAN",
        "service": "UNIVERSAL",
        "status": "FINISHED_IN_TIME",
    },
    B: {"time": "2026-11-10T11:00:00+00:00", "process_type": "TRACE", "service": "ROUTING", "status": "FAILED"},
    C: {"time": "2026-11-10T09:00:00+00:00", "process_type": "MATRIX", "service": "PACKER", "status": "CANCELED"},
    D: {"time": "2026-11-10T12:00:00+00:00", "process_type": "ACTUALIZE", "service": "AGRO", "status": "WAITING"},
    E: {
        "time": "2026-11-10T10:00:00+00:00",
        "process_type": "PLAN",
        "service": "UNIVERSAL",
        "status": "FINISHED_IN_TIME",
    },
}
OPERATIONS = {A: "run_plan", B: "run_trace", C: "run_matrix", D: "run_actualize", E: "read_plan"}


def audit(client, headers, **query):
    response = client.get("/account/audit", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def codes(body):
    return [action["process_code"] for action in body["actions"]]


def totals(body):
    return body["counters"]["overall"]["total"], body["counters"]["filter"]["total"]


@pytest.fixture
def alice(auth, clock):
    return auth("alice")


@pytest.fixture
def sortable(alice, ingest):
    ingest(
        *(
            process_record(process_code=process_code, operation=OPERATIONS[process_code], **fields)
            for process_code, fields in SORTABLE.items()
        )
    )
    return alice


# ---------------------------------------------------------------- content and counters


def test_each_action_lists_its_requests_and_statistics(client, alice, ingest):
    record = process_record(requests=3, points=12, elements=None, status="FINISHED_OUT_OF_TIME")
    record["requests"][0]["time"] = "2026-11-10T10:05:00.000123+00:00"
    record["requests"][1]["time"] = "2026-11-10T13:01:00+03:00"  # 10:01 UTC
    record["requests"][2].update(operation="read_plan_result", pod="pod-9", env="edge8")
    ingest(record)
    body = audit(client, alice, **DAY)
    assert body["counters"] == {"overall": {"total": 2}, "filter": {"total": 1}}
    (action,) = body["actions"]
    info = record["statistics"]["calculation_info"]
    assert action == {
        "process_code": record["process_code"],
        "process_type": "PLAN",
        "username": "alice",
        "company": "acme",
        "service": "UNIVERSAL",
        "time": "2026-11-10T10:00:00+00:00",
        "requests": [  # in time order
            {**record["requests"][2], "time": "2026-11-10T10:00:00+00:00"},
            {**record["requests"][1], "time": "2026-11-10T10:01:00+00:00"},
            {**record["requests"][0], "time": "2026-11-10T10:05:00.000123+00:00"},
        ],
        "statistics": {"request_points_count": 12, "result_elements_count": None, "calculation_info": info},
        "input_file_exists": False,
        "output_file_exists": False,
    }


def test_counters_overall_is_everything_and_filter_what_matches(client, sortable, ingest):
    ingest(process_record(time="2026-10-01T10:00:00+00:00"), process_record(time="2026-11-12T10:00:00+00:00"))
    everything = 5 + 2 + 1  # the day's five, two on other days, alice's login
    assert totals(audit(client, sortable, **DAY)) == (everything, 5)
    assert totals(audit(client, sortable, **DAY, service="UNIVERSAL")) == (everything, 2)
    assert totals(audit(client, sortable, **DAY, service="UNIVERSAL", status="FAILED")) == (everything, 0)
    assert totals(audit(client, sortable, **DAY, limit=1, offset=3)) == (everything, 5)
    assert totals(audit(client, sortable, **{"from": "2000-01-01T00:00:00Z"})) == (everything, everything)


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"service": "UNIVERSAL"}, {A, E}),
        ({"service": "ROUTING"}, {B}),
        ({"service": "ACCOUNT"}, set()),
        ({"process_type": "PLAN"}, {A, E}),
        ({"process_type": "ACTUALIZE"}, {D}),
        ({"process_type": "CONVERT"}, set()),
        ({"status": "FAILED"}, {B}),
        ({"status": "FINISHED_IN_TIME"}, {A, E}),
        ({"status": "IN_PROGRESS"}, set()),
        ({"operation": "run_plan"}, {A}),
        ({"operation": "read_plan"}, {E}),
        ({"operation": "run_"}, set()),  # exact, not a prefix
        ({"operation": "run_plan_calculation"}, set()),
        ({"service": "UNIVERSAL", "operation": "run_plan"}, {A}),
        ({"service": "UNIVERSAL", "process_type": "PLAN", "status": "FINISHED_IN_TIME"}, {A, E}),
        ({"service": "ROUTING", "process_type": "PLAN"}, set()),
        ({"service": ""}, {A, B, C, D, E}),
        ({"process_type": ""}, {A, B, C, D, E}),
    ],
)
def test_filters(client, sortable, query, expected):
    body = audit(client, sortable, **DAY, **query)
    assert set(codes(body)) == expected
    assert len(codes(body)) == len(expected)
    assert body["counters"]["filter"]["total"] == len(expected)


def test_operation_filter_matches_any_request_and_keeps_all_of_them(client, alice, ingest):
    record = process_record(requests=2)
    record["requests"][1]["operation"] = "cancel_plan"
    ingest(record, process_record())
    body = audit(client, alice, **DAY, operation="cancel_plan")
    assert codes(body) == [record["process_code"]]
    assert sorted(r["operation"] for r in body["actions"][0]["requests"]) == ["cancel_plan", "run_plan_calculation"]


def test_from_and_to_are_inclusive_to_the_microsecond(client, alice, ingest):
    times = {
        "before": "2026-11-10T09:59:59.999999+00:00",
        "start": "2026-11-10T10:00:00+00:00",
        "middle": "2026-11-10T11:00:00+00:00",
        "end": "2026-11-10T12:00:00.000001+00:00",
        "after": "2026-11-10T12:00:00.000002+00:00",
    }
    records = {name: process_record(time=moment) for name, moment in times.items()}
    ingest(*records.values())
    body = audit(client, alice, **{"from": "2026-11-10T10:00:00Z", "to": "2026-11-10T12:00:00.000001Z"})
    assert codes(body) == [records[name]["process_code"] for name in ("start", "middle", "end")]
    assert body["actions"][-1]["time"] == "2026-11-10T12:00:00.000001+00:00"
    # A single instant is a valid period.
    body = audit(client, alice, **{"from": "2026-11-10T11:00:00Z", "to": "2026-11-10T11:00:00Z"})
    assert codes(body) == [records["middle"]["process_code"]]


def test_period_with_offsets_and_without(client, alice, ingest):
    early, late = process_record(time="2026-11-10T08:00:00+00:00"), process_record(time="2026-11-10T20:00:00+00:00")
    ingest(early, late)
    # 10:00..23:00 at +03:00 is 07:00..20:00 UTC: both.
    body = audit(client, alice, **{"from": "2026-11-10T10:00:00+03:00", "to": "2026-11-10T23:00:00+03:00"})
    assert codes(body) == [early["process_code"], late["process_code"]]
    body = audit(client, alice, **{"from": "2026-11-10T12:00:00+03:00", "to": "2026-11-10T22:59:59+03:00"})
    assert codes(body) == []
    # Without an offset a date-time is UTC.
    body = audit(client, alice, **{"from": "2026-11-10T08:00:00", "to": "2026-11-10T19:59:59"})
    assert codes(body) == [early["process_code"]]


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-11-10T12:00:00Z", "to": "2026-11-10T11:59:59.999999Z"},
        {"from": "2026-11-10T12:00:00+00:00", "to": "2026-11-10T14:00:00+03:00"},
        {"from": "2026-11-32T00:00:00Z"},
        {"to": "yesterday"},
        {"service": "WEATHER"},
        {"process_type": "FLY"},
        {"status": "DONE"},
        {"operation": "ab"},
        {"operation": "x" * 257},
        {"sort_direction": "asc"},
        {"sort_direction": "UP"},
        {"sort_direction": ""},
    ],
)
def test_bad_queries_are_400(client, alice, query):
    response = client.get("/account/audit", query_string=query, headers=alice)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert body["message"].startswith("Invalid request: ")
    assert_tracedata(body, "read_audit", "alice", "acme")


def test_without_a_token_is_401(client):
    assert client.get("/account/audit").status_code == 401


# ---------------------------------------------------------------- sorting


def _expected_order(field, descending):
    def value(process_code):
        if field == "process_code":
            return process_code
        if field in ("username", "company"):
            return {"username": "alice", "company": "acme"}[field]
        return SORTABLE[process_code][field]

    return sorted(SORTABLE, key=lambda c: (value(c), c), reverse=descending)


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("field", ["time", "process_code", "process_type", "service", "username", "company", "status"])
def test_sort_by_each_field_and_direction(client, sortable, field, direction):
    body = audit(client, sortable, **DAY, sort_field=field, sort_direction=direction)
    expected = _expected_order(field, direction == "DESC")
    assert codes(body) == expected
    values = [
        action[field] if field != "status" else action["statistics"]["calculation_info"]["status"]
        for action in body["actions"]
    ]
    assert values == sorted(values, reverse=direction == "DESC")


def test_the_sort_orders_differ(client, sortable):
    orders = {
        field: tuple(codes(audit(client, sortable, **DAY, sort_field=field)))
        for field in ("time", "process_code", "process_type", "service", "status")
    }
    assert len(set(orders.values())) == len(orders)


def test_default_sort_is_time_ascending(client, sortable):
    assert codes(audit(client, sortable, **DAY)) == [C, E, A, B, D]
    assert codes(audit(client, sortable, **DAY, sort_direction="DESC")) == [D, B, A, E, C]


def test_sort_by_username_and_company_uses_the_stored_values(app, client, sortable):
    # Rows recorded under earlier names (as a rename would leave them) sort by those names.
    with app.extensions["account_db"].begin() as conn:
        conn.execute(text("update processes set username = 'zed', company = 'aaa' where process_code = :c"), {"c": B})
        conn.execute(text("update processes set username = 'abe', company = 'zzz' where process_code = :c"), {"c": C})
    assert codes(audit(client, sortable, **DAY, sort_field="username")) == [C, E, D, A, B]
    assert codes(audit(client, sortable, **DAY, sort_field="username", sort_direction="DESC")) == [B, A, D, E, C]
    assert codes(audit(client, sortable, **DAY, sort_field="company")) == [B, E, D, A, C]
    assert codes(audit(client, sortable, **DAY, sort_field="company", sort_direction="DESC")) == [C, A, D, E, B]


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "field",
    [
        "password",
        "password_hash",
        "time; drop table users",
        "time desc",
        "",
        "TIME",
        "requests",
        "statistics",
        "user_id",
        "time_us",
        "input_file_exists",
        "1",
        "x" * 65,
    ],
)
def test_unknown_sort_field_is_400(client, sortable, field, db):
    response = client.get("/account/audit", query_string={"sort_field": field}, headers=sortable)
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert "sort_field" in body["message"]
    assert db("select count(*) as n from users")[0]["n"] == 2


# ---------------------------------------------------------------- paging


def test_offset_beyond_the_end_gives_no_actions_but_the_counters(client, sortable):
    body = audit(client, sortable, **DAY, offset=5)
    assert body["actions"] == []
    assert totals(body) == (6, 5)
    body = audit(client, sortable, **DAY, offset=10_000_000)
    assert body["actions"] == [] and totals(body) == (6, 5)


def test_limit_and_offset_page_through_the_order(client, sortable):
    order = [C, E, A, B, D]
    assert codes(audit(client, sortable, **DAY, limit=1)) == order[:1]
    assert codes(audit(client, sortable, **DAY, limit=1, offset=4)) == order[4:]
    assert codes(audit(client, sortable, **DAY, limit=2, offset=1)) == order[1:3]
    assert codes(audit(client, sortable, **DAY, limit=2, offset=4)) == order[4:]
    pages = [codes(audit(client, sortable, **DAY, limit=2, offset=offset)) for offset in (0, 2, 4)]
    assert sum(pages, []) == order
    assert codes(audit(client, sortable, **DAY, limit=10_000_000)) == order
    assert codes(audit(client, sortable, **DAY, limit=2, offset=1, sort_direction="DESC")) == order[::-1][1:3]


def test_default_limit_is_100(client, alice, ingest):
    ingest(*(process_record(requests=0) for _ in range(101)))
    body = audit(client, alice, **DAY)
    assert len(body["actions"]) == 100
    assert totals(body) == (102, 101)
    assert len(audit(client, alice, **DAY, offset=100)["actions"]) == 1


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=-1",
        "limit=10000001",
        "offset=-1",
        "offset=10000001",
        "limit=1e3",
        "limit=1_000",
        "limit=%205%20",
        "limit=%D9%A3",
        "offset=%D9%A3",
        "limit=1.0",
        "limit=",
        "offset=0x10",
        "limit=99999999999999999999",
    ],
)
def test_bad_offsets_and_limits_are_400(client, alice, query):
    response = client.get(f"/account/audit?{query}", headers=alice)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert ("limit" in body["message"]) or ("offset" in body["message"])


def test_limit_and_offset_bounds_are_inclusive(client, sortable):
    assert audit(client, sortable, limit=10_000_000, offset=10_000_000)["actions"] == []
    assert len(audit(client, sortable, **DAY, limit="00001", offset="0")["actions"]) == 1


# ---------------------------------------------------------------- default period


def test_default_period_is_today_in_the_users_timezone_up_to_now(client, auth, clock, ingest):
    headers = auth("alice", timezone=3)  # 2026-11-15T12:00Z is 15:00 at +3: today began at 11-14T21:00Z
    records = {
        "yesterday": process_record(time="2026-11-14T20:59:59.999999+00:00"),
        "midnight": process_record(time="2026-11-14T21:00:00+00:00"),
        "now": process_record(time="2026-11-15T12:00:00+00:00"),
        "future": process_record(time="2026-11-15T12:00:00.000001+00:00"),
    }
    ingest(*records.values())
    body = audit(client, headers, service="UNIVERSAL")
    assert codes(body) == [records["midnight"]["process_code"], records["now"]["process_code"]]
    # No to: up to now.
    body = audit(client, headers, service="UNIVERSAL", **{"from": "2026-11-14T00:00:00Z"})
    assert codes(body) == [records[name]["process_code"] for name in ("yesterday", "midnight", "now")]
    # No from: from the start of today.
    body = audit(client, headers, service="UNIVERSAL", to="2026-11-16T00:00:00Z")
    assert codes(body) == [records[name]["process_code"] for name in ("midnight", "now", "future")]
    # The login is today's ACCOUNT action.
    assert totals(audit(client, headers)) == (5, 3)


def test_default_period_at_a_negative_timezone(client, auth, clock, ingest):
    clock.now = datetime(2026, 11, 15, 3, 0, tzinfo=UTC)  # 22:00 on 11-14 at -5: today began at 11-14T05:00Z
    headers = auth("alice", timezone=-5)
    before, after = process_record(time="2026-11-14T04:59:59+00:00"), process_record(time="2026-11-14T05:00:00+00:00")
    ingest(before, after)
    assert codes(audit(client, headers, service="UNIVERSAL")) == [after["process_code"]]


def test_the_default_period_moves_with_the_clock(client, alice, clock, ingest):
    record = process_record(time="2026-11-15T08:00:00+00:00")
    ingest(record)
    assert record["process_code"] in codes(audit(client, alice))
    clock.now = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    assert codes(audit(client, alice)) == []
    assert totals(audit(client, alice)) == (2, 0)


# ---------------------------------------------------------------- isolation


def test_another_users_processes_never_appear(client, sortable, auth, ingest, make_user, login):
    bob = auth("bob")
    ingest(
        process_record(username="bob", process_type="PLAN"),
        process_record(username="bob", time="2026-11-10T09:00:00+00:00", operation="run_plan"),
    )
    body = audit(client, sortable, **DAY)
    assert set(codes(body)) == set(SORTABLE)
    assert totals(body) == (6, 5)
    assert codes(audit(client, sortable, **DAY, operation="run_plan")) == [A]
    bob_body = audit(client, bob, **DAY)
    assert totals(bob_body) == (3, 2)
    assert {action["username"] for action in bob_body["actions"]} == {"bob"}
    # An ADMIN reads only their own audit too.
    make_user(username="root", company="platform", roles=("ADMIN",))
    admin = {"Authorization": f"Bearer {login('root')}"}
    admin_body = audit(client, admin, **DAY)
    assert admin_body["actions"] == [] and totals(admin_body) == (1, 0)


# ---------------------------------------------------------------- own actions


def test_logins_password_changes_and_info_updates_are_account_actions(client, alice, clock, db):
    clock.now = datetime(2026, 11, 15, 12, 5, tzinfo=UTC)
    response = client.post(
        "/account/password", json={"current_password": PASSWORD, "new_password": "another_long_password"}, headers=alice
    )
    assert response.status_code == 200
    headers = {"Authorization": f"Bearer {response.get_json()}"}
    clock.now = datetime(2026, 11, 15, 12, 10, tzinfo=UTC)
    assert client.put("/account/info", json={"specification": "Alice"}, headers=headers).status_code == 200
    clock.now = datetime(2026, 11, 15, 12, 15, tzinfo=UTC)
    failed = client.post("/account/token/generation", json={"username": "alice", "password": "wrong_password_1"})
    assert failed.status_code == 401

    body = audit(client, headers)
    assert totals(body) == (4, 4)
    assert [
        (a["requests"][0]["operation"], a["statistics"]["calculation_info"]["status"]) for a in body["actions"]
    ] == [
        ("run_token_generation", "FINISHED_IN_TIME"),
        ("change_password", "FINISHED_IN_TIME"),
        ("update_info", "FINISHED_IN_TIME"),
        ("run_token_generation", "FAILED"),
    ]

    body = audit(client, headers, operation="change_password")
    (action,) = body["actions"]
    assert totals(body) == (4, 1)
    assert (action["service"], action["process_type"], action["username"], action["company"]) == (
        "ACCOUNT",
        "NOTRACE",
        "alice",
        "acme",
    )
    assert action["time"] == "2026-11-15T12:05:00+00:00"
    assert action["statistics"]["request_points_count"] == 0
    (request,) = action["requests"]
    assert request["process_code"] == action["process_code"]
    assert (request["service"], request["operation"], request["env"], request["pod"], request["time"]) == (
        "ACCOUNT",
        "change_password",
        "test_env",
        "test_pod",
        "2026-11-15T12:05:00+00:00",
    )
    assert codes(audit(client, headers, operation="update_info")) != []
    assert len(audit(client, headers, operation="run_token_generation")["actions"]) == 2
    assert len(audit(client, headers, service="ACCOUNT", status="FAILED")["actions"]) == 1
    stored = db("select operation, username from process_requests where service = 'ACCOUNT' order by time_us")
    assert [row["operation"] for row in stored] == [
        "run_token_generation",
        "change_password",
        "update_info",
        "run_token_generation",
    ]


def test_the_foreign_service_index_names_exactly_the_79_services():
    """The partial index of migration 0005 serves the audit's NOT EXISTS only while its
    list is the query's: 7.9's services."""
    import importlib.util

    from app.migrate import MIGRATIONS
    from schemas.common import SERVICES

    path = MIGRATIONS / "versions" / "0005_requests_foreign_service.py"
    spec = importlib.util.spec_from_file_location("migration_0005", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.SERVICES_79 == tuple(sorted(SERVICES))
