"""The legacy 6.20 dialect under /v6: shapes, mapping and what 7.9 must not see, through the
Flask test client on each database (the reference client drives it in test_v6_contract)."""

import io
import uuid
from datetime import date

import openpyxl
import pytest
from sqlalchemy import create_engine, inspect

from app.api.v6.mapping import duration_seconds, render_duration
from app.jsonbody import MAX_DEPTH
from app.migrate import downgrade, upgrade
from tests.conftest import PASSWORD, process_record

TRACEDATA_KEYS = {"code", "client", "server", "service", "operation", "time"}


def assert_v6_tracedata(tracedata, operation, username="anonymous", company="anonymous"):
    assert set(tracedata) == TRACEDATA_KEYS
    assert tracedata["client"] == f"{company}_|_{username}"
    assert tracedata["server"] == "test_pod"
    assert tracedata["service"] == "ACCOUNT"
    assert tracedata["operation"] == operation
    assert str(uuid.UUID(tracedata["code"])) == tracedata["code"]
    assert tracedata["time"].endswith("+00:00")


def assert_general400(response, operation, username="anonymous", company="anonymous", status=400):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert_v6_tracedata(body["tracedata"], operation, username, company)
    return body["message"]


def assert_general404(response, operation, resource_id, username="alice", company="acme"):
    assert response.status_code == 404, response.get_json()
    body = response.get_json()
    assert set(body) == {"resource_id", "detail"}
    assert body["resource_id"] == resource_id
    assert_v6_tracedata(body["detail"]["tracedata"], operation, username, company)


def v6_record(service="UNIVERSAL", process_type="PLAN", request_service=None, **kwargs):
    record = process_record(service=service, process_type=process_type, **kwargs)
    for request in record["requests"]:
        request["service"] = request_service or service
    return record


@pytest.fixture
def ingest_v6(client, producer):
    def post(*records, headers=None):
        response = client.post(
            "/v6/account/processes", json={"processes": list(records)}, headers=headers or producer()
        )
        assert response.status_code == 200, response.get_json()
        return response

    return post


def v6_login(client, username="alice", password=PASSWORD):
    response = client.post("/v6/account/token/generation", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()}"}


# Tokens and passwords


def test_tokens_are_shared_between_the_dialects(client, make_user, login):
    make_user()
    v6 = v6_login(client)
    v7 = {"Authorization": f"Bearer {login()}"}
    for headers in (v6, v7):
        assert client.get("/account/info", headers=headers).get_json()["username"] == "alice"
        assert client.get("/v6/account/info", headers=headers).get_json()["username"] == "alice"
    token = v6["Authorization"].split(" ", 1)[1]
    for path in ("/v6/account/token/validation", "/account/token/validation"):
        assert client.post(path, json=token).get_json() == {"valid": True, "roles": ["USER"]}


def test_token_generation_bounds_and_failures(client, make_user, db):
    make_user()
    # 6.20 takes passwords of 1..1000 characters: a short wrong one is a 401, not a 400.
    response = client.post("/v6/account/token/generation", json={"username": "alice", "password": "x"})
    assert_general400(response, "run_token_generation", status=401)
    response = client.post("/v6/account/token/generation", json={"username": "alice", "password": ""})
    assert "password" in assert_general400(response, "run_token_generation")
    response = client.post("/v6/account/token/generation", json={"username": "alice", "password": "x" * 1001})
    assert "password" in assert_general400(response, "run_token_generation")
    response = client.post("/v6/account/token/generation", data="{}", content_type="text/plain")
    assert_general400(response, "run_token_generation", status=415)
    operations = db(
        "SELECT r.operation, p.status FROM processes p JOIN process_requests r ON r.process_code = p.process_code"
    )
    assert operations == [{"operation": "run_token_generation", "status": "FAILED"}]


def test_token_validation(client, make_user):
    make_user()
    assert client.post("/v6/account/token/validation", json="x").get_json() == {"valid": False, "roles": []}
    assert client.post("/v6/account/token/validation", json="a.b.c").get_json() == {"valid": False, "roles": []}
    assert_general400(client.post("/v6/account/token/validation", json=""), "run_token_validation")
    assert_general400(client.post("/v6/account/token/validation", json="x" * 1001), "run_token_validation")
    assert_general400(client.post("/v6/account/token/validation", json={"token": "x"}), "run_token_validation")


def test_missing_token_is_general401(client):
    response = client.get("/v6/account/info")
    assert_general400(response, "read_info", status=401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_password_change_through_v6(client, make_user, login):
    make_user()
    headers = v6_login(client)
    response = client.post(
        "/v6/account/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=headers
    )
    assert "new_password" in assert_general400(response, "change_password", "alice", "acme")
    response = client.post(
        "/v6/account/password",
        json={"current_password": "wrong", "new_password": "another_long_password"},
        headers=headers,
    )
    assert_general400(response, "change_password", "alice", "acme", status=403)
    assert client.get("/v6/account/info", headers=headers).status_code == 200  # nothing changed yet

    response = client.post(
        "/v6/account/password",
        json={"current_password": PASSWORD, "new_password": "another_long_password"},
        headers=headers,
    )
    assert response.status_code == 200
    new_headers = {"Authorization": f"Bearer {response.get_json()}"}
    assert client.get("/v6/account/info", headers=headers).status_code == 401
    assert client.get("/account/info", headers=headers).status_code == 401
    assert client.get("/account/info", headers=new_headers).status_code == 200
    login("alice", "another_long_password")  # the new password works through 7.9 too


# Account information


def test_read_and_replace_account_info(client, make_user, db):
    make_user(timezone=3)
    headers = v6_login(client)
    info = client.get("/v6/account/info", headers=headers).get_json()
    assert info == {
        "username": "alice",
        "name": None,
        "email": None,
        "phone": None,
        "company_key": "acme",
        "timezone": 3,
    }
    whole = {
        "username": "alice",
        "name": "Alice A.",
        "email": "alice@example.com",
        "phone": "+71112223333",
        "company_key": "acme",
        "timezone": -5,
    }
    response = client.put("/v6/account/info", json=whole, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == whole
    assert client.get("/v6/account/info", headers=headers).get_json() == whole
    user = client.get("/account/info", headers=headers).get_json()
    assert (user["specification"], user["email"], user["phone"], user["timezone"]) == (
        "Alice A.",
        "alice@example.com",
        "+71112223333",
        -5,
    )

    # The whole object: what is left out takes its documented default.
    response = client.put("/v6/account/info", json={"username": "alice", "company_key": "acme"}, headers=headers)
    assert response.get_json() == {**whole, "name": None, "email": None, "phone": None, "timezone": 0}
    row = db("SELECT specification, email, phone, timezone FROM users WHERE username = 'alice'")[0]
    assert row == {"specification": None, "email": None, "phone": None, "timezone": 0}
    operations = db("SELECT r.operation FROM process_requests r WHERE r.operation = 'update_info' ORDER BY r.time_us")
    assert len(operations) == 2


@pytest.mark.parametrize(
    "change",
    [{"username": "mallory"}, {"company_key": "other_co"}, {"username": "mallory", "company_key": "other_co"}],
)
def test_identity_cannot_change(client, make_user, db, change):
    make_user()
    make_user(username="mallory", company="other_co")
    headers = v6_login(client)
    body = {"username": "alice", "company_key": "acme", "name": "Changed", "timezone": 7, **change}
    response = client.put("/v6/account/info", json=body, headers=headers)
    message = assert_general400(response, "update_info", "alice", "acme", status=403)
    assert next(iter(change)) in message
    rows = db("SELECT username, company_key, specification, timezone FROM users ORDER BY id")
    assert rows == [
        {"username": "alice", "company_key": "acme", "specification": None, "timezone": 0},
        {"username": "mallory", "company_key": "other_co", "specification": None, "timezone": 0},
    ]


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "bad,field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"timezone": 13}, "timezone"),
        ({"name": "x"}, "name"),
        ({"phone": "1"}, "phone"),
        ({"specification": "7.9 name"}, "specification"),
        ({"username": None}, "username"),
    ],
)
def test_bad_account_info_is_general400(client, make_user, db, bad, field):
    make_user()
    headers = v6_login(client)
    body = {"username": "alice", "company_key": "acme", **bad}
    assert field in assert_general400(
        client.put("/v6/account/info", json=body, headers=headers), "update_info", "alice", "acme"
    )
    assert db("SELECT email, timezone FROM users")[0] == {"email": None, "timezone": 0}


# Statistics, report, audit: records of both producers, read by both dialects


@pytest.fixture
def usage(client, make_user, ingest, ingest_v6, clock):
    """alice's records: 7.9 names through the 7.9 producer, 6.20-only names through /v6."""
    make_user()
    records = {
        "plan": process_record(time="2026-11-10T10:00:00+00:00", points=10, point_keys=["a", "b"]),
        "pack": v6_record("STOCK", "PACK", time="2026-11-10T11:00:00+00:00", points=20, point_keys=["a"]),
        "predict": v6_record("UNIVERSAL", "PREDICT", time="2026-11-11T09:00:00+00:00", points=5),
        "routing": v6_record(
            "ROUTING", "PLAN", request_service="LONGHAUL", time="2026-11-11T10:00:00+00:00", points=7, requests=2
        ),
    }
    ingest(records["plan"])
    ingest_v6(records["pack"], records["predict"], records["routing"])
    return records


def test_statistics_name_every_stored_group_in_v6_and_only_known_ones_in_79(client, usage):
    headers = v6_login(client)
    query = "?from=2026-11-10&to=2026-11-11"
    v6 = client.get(f"/v6/account/statistics{query}", headers=headers)
    assert v6.status_code == 200
    assert v6.get_json() == {
        "username": "alice",
        "dates": [
            {
                "date": "2026-11-10",
                "services": [
                    {"service": "STOCK", "methods": [{"method_group": "PACK", "unique_points_per_day": 1, "points_per_day": 20}]},
                    {"service": "UNIVERSAL", "methods": [{"method_group": "PLAN", "unique_points_per_day": 2, "points_per_day": 10}]},
                ],
            },
            {
                "date": "2026-11-11",
                "services": [
                    {"service": "ROUTING", "methods": [{"method_group": "PLAN", "unique_points_per_day": 0, "points_per_day": 7}]},
                    {"service": "UNIVERSAL", "methods": [{"method_group": "PREDICT", "unique_points_per_day": 0, "points_per_day": 5}]},
                ],
            },
        ],
    }  # fmt: skip
    v7 = client.get(f"/account/statistics{query}", headers=headers).get_json()
    # The ROUTING process has a LONGHAUL request: the 7.9 audit leaves it out, so 7.9's
    # statistics do as well.
    assert [(day["date"], [s["service"] for s in day["services"]]) for day in v7["dates"]] == [
        ("2026-11-10", ["UNIVERSAL"]),
    ]
    # The default period (this month up to yesterday) and the period errors are 7.9's.
    assert client.get("/v6/account/statistics", headers=headers).get_json() == v6.get_json()
    response = client.get("/v6/account/statistics?from=2026-11-12&to=2026-11-10", headers=headers)
    assert_general400(response, "generate_statistics", "alice", "acme")


def test_statistics_saturate_at_the_620_bound(client, make_user, ingest_v6, clock):
    make_user()
    ingest_v6(v6_record("CLUSTER", "ANALYTICS", time="2026-11-10T10:00:00+00:00", points=10**8))
    body = client.get("/v6/account/statistics?from=2026-11-10&to=2026-11-10", headers=v6_login(client)).get_json()
    assert body["dates"][0]["services"][0]["methods"][0]["points_per_day"] == 10**7


def _sheet(content, name="Data"):
    return [tuple(row) for row in openpyxl.load_workbook(io.BytesIO(content))[name].iter_rows(values_only=True)]


def test_report_v6_holds_every_group_and_79_only_known_ones(client, usage, db):
    headers = v6_login(client)
    response = client.get("/v6/account/report?from=2026-11-10&to=2026-11-11", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "report_alice_2026-11-10_2026-11-11.xlsx" in response.headers["Content-Disposition"]
    rows = [(row[1], row[2], row[4]) for row in _sheet(response.data)[1:-1]]
    assert rows == [
        ("STOCK", "PACK", 20),
        ("UNIVERSAL", "PLAN", 10),
        ("ROUTING", "PLAN", 7),
        ("UNIVERSAL", "PREDICT", 5),
    ]
    v7 = client.get("/account/report?from=2026-11-10&to=2026-11-11", headers=headers)
    # ROUTING PLAN has a LONGHAUL request: left out of 7.9's report as of its audit.
    assert [(row[1], row[2]) for row in _sheet(v7.data)[1:-1]] == [("UNIVERSAL", "PLAN")]
    assert [
        row["operation"] for row in db("SELECT operation FROM process_requests WHERE operation LIKE '%report'")
    ] in (
        ["read_report", "generate_report"],
        ["generate_report", "read_report"],
    )


def _codes(body, records):
    names = {record["process_code"]: name for name, record in records.items()}
    return [names[action["tracedata"]["code"]] for action in body["actions"]]


def test_audit_in_620_shapes(client, usage):
    headers = v6_login(client)
    response = client.get("/v6/account/audit?from=2026-11-01T00:00:00Z&to=2026-11-12T00:00:00Z", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert _codes(body, usage) == ["plan", "pack", "predict", "routing"]
    assert body["statistics"]["filter"] == {"total": 4}
    assert body["statistics"]["overall"]["total"] == 5  # and the login
    plan = usage["plan"]
    assert body["actions"][0] == {
        "username": "alice",
        "company_key": "acme",
        "tracedata": {
            "code": plan["process_code"],
            "client": "acme_|_alice",
            "server": "pod-1",
            "service": "UNIVERSAL",
            "operation": "run_plan_calculation",
            "time": "2026-11-10T10:00:00+00:00",
        },
        "method_group": "PLAN",
        # PT1S + PT2S + PT3S + PT4S + PT1H45M
        "statistics": {"points_count": 10, "duration": "PT1H45M10S"},
    }
    assert [action["tracedata"]["service"] for action in body["actions"]] == [
        "UNIVERSAL",
        "STOCK",
        "UNIVERSAL",
        "ROUTING",
    ]
    assert [action["method_group"] for action in body["actions"]] == ["PLAN", "PACK", "PREDICT", "PLAN"]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("service_name=STOCK", ["pack"]),
        ("service_name=UNIVERSAL", ["plan", "predict"]),
        ("method_group=PLAN", ["plan", "routing"]),
        ("method_group=PREDICT", ["predict"]),
        ("method_group=", ["plan", "pack", "predict", "routing"]),
        ("operation_id=run_plan_calculation", ["plan", "pack", "predict", "routing"]),
        ("operation_id=run_nothing", []),
        ("sort_field=time&sort_direction=DESC", ["routing", "predict", "pack", "plan"]),
        ("sort_field=service_name", ["routing", "pack", "plan", "predict"]),
        ("sort_field=method_group&sort_direction=DESC", ["predict", "plan", "routing", "pack"]),
        ("limit=2&offset=1", ["pack", "predict"]),
    ],
)
def test_audit_filters_sorting_and_paging(client, usage, query, expected):
    headers = v6_login(client)
    period = "from=2026-11-01T00:00:00Z&to=2026-11-12T00:00:00Z"
    body = client.get(f"/v6/account/audit?{period}&{query}", headers=headers).get_json()
    if query.startswith("sort_field=method_group"):
        # PLAN ties break by code (DESC): compare the groups, then the tie as a set.
        groups = [action["method_group"] for action in body["actions"]]
        assert groups == ["PREDICT", "PLAN", "PLAN", "PACK"]
        assert set(_codes(body, usage)[1:3]) == {"plan", "routing"}
        return
    if query == "sort_field=service_name":
        assert [action["tracedata"]["service"] for action in body["actions"]] == [
            "ROUTING",
            "STOCK",
            "UNIVERSAL",
            "UNIVERSAL",
        ]
        assert set(_codes(body, usage)[2:]) == {"plan", "predict"}
        return
    assert _codes(body, usage) == expected


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "query", ["sort_field=status", "sort_field=process_type", "service_name=NOPE", "method_group=plan"]
)
def test_audit_bad_query_is_general400(client, usage, query):
    response = client.get(f"/v6/account/audit?{query}", headers=v6_login(client))
    assert assert_general400(response, "read_audit", "alice", "acme").startswith("Invalid request: ")


def test_79_audit_never_shows_what_79_cannot_name(client, usage):
    headers = v6_login(client)
    body = client.get("/account/audit?from=2026-11-01T00:00:00Z&to=2026-11-12T00:00:00Z", headers=headers).get_json()
    # pack (STOCK/PACK), predict (PREDICT) and routing (a LONGHAUL request) are 6.20-only.
    assert [action["process_code"] for action in body["actions"]] == [usage["plan"]["process_code"]]
    assert body["counters"] == {"overall": {"total": 2}, "filter": {"total": 1}}  # plan and the login
    for query in ("service=ROUTING", "process_type=PLAN", "operation=run_plan_calculation", "sort_field=service"):
        more = client.get(f"/account/audit?from=2026-11-01T00:00:00Z&to=2026-11-12T00:00:00Z&{query}", headers=headers)
        assert usage["routing"]["process_code"] not in more.get_data(as_text=True)
        assert "STOCK" not in more.get_data(as_text=True) and "PREDICT" not in more.get_data(as_text=True)


def test_duration_sums_the_five_stored_durations(client, make_user, ingest, clock):
    make_user()
    record = process_record(time="2026-11-10T10:00:00+00:00")
    record["statistics"]["calculation_info"].update(
        preparing_time="P1D",
        business_validation_time="PT0.25S",
        math_validation_time="PT59M",
        waiting_time="PT1M",
        calculation_time="PT23H0.5S",
    )
    no_requests = process_record(time="2026-11-10T11:00:00+00:00", requests=0, points=None)
    ingest(record, no_requests)
    body = client.get("/v6/account/audit?from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z", headers=v6_login(client))
    actions = body.get_json()["actions"]
    assert actions[0]["statistics"] == {"points_count": 10, "duration": "P2DT0.75S"}
    assert actions[1]["statistics"] == {"points_count": 0, "duration": "PT1H45M10S"}
    assert actions[1]["tracedata"]["operation"] == "unknown_operation"
    assert actions[1]["tracedata"]["server"] == "unknown_server"


@pytest.mark.parametrize(
    "seconds,text",
    [
        ("0", "PT0S"),
        ("0.0004", "PT0S"),
        ("1.5", "PT1.5S"),
        ("60", "PT1M"),
        ("3600", "PT1H"),
        ("86400", "P1D"),
        ("90061.25", "P1DT1H1M1.25S"),
        ("863999999.4", "P9999DT23H59M59S"),  # 18 characters with the fraction: rounded to the second
        ("863999999.999", "P10000D"),
        ("8640000000", "P100000D"),
        (str(10**20), "P99999999999999D"),
    ],
)
def test_render_duration(seconds, text):
    from decimal import Decimal

    rendered = render_duration(Decimal(seconds))
    assert rendered == text
    assert 3 <= len(rendered) <= 16


@pytest.mark.parametrize(
    "text,seconds",
    [("PT1H45M", 6300), ("P1W", 604800), ("P1Y", 31536000), ("P1M", 2592000), ("PT0.5S", 0.5), ("nonsense", 0)],
)
def test_duration_seconds(text, seconds):
    assert float(duration_seconds(text)) == seconds


# Data


@pytest.fixture
def files(client, make_user, ingest, producer):
    """alice's process with JSON input, binary output; bob's process with a file."""
    make_user()
    make_user(username="bob")
    mine = process_record(time="2026-11-10T10:00:00+00:00")
    other = process_record(username="bob", time="2026-11-10T10:00:00+00:00")
    ingest(mine, other)
    stored = {
        (
            mine["process_code"],
            "INPUT",
        ): b'[{"point": "=HYPERLINK(1)", "n": 1, "tags": ["a"]}, {"point": "b", "ok": true}]',
        (mine["process_code"], "OUTPUT"): b"\x00\x01binary\xff",
        (other["process_code"], "INPUT"): b'{"x": 1}',
    }
    for (code, flow), payload in stored.items():
        response = client.put(
            f"/account/data/{code}?data_flow_type={flow}",
            data=payload,
            content_type="application/octet-stream",
            headers=producer(),
        )
        assert response.status_code == 204
    return mine["process_code"], other["process_code"], stored


def test_data_origin_and_conversions(client, files, db):
    mine, _, stored = files
    headers = v6_login(client)
    response = client.get(f"/v6/account/data/{mine}", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert response.data == stored[(mine, "INPUT")]
    response = client.get(
        f"/v6/account/data/{mine}?data_flow_type=OUTPUT&data_flow_stage=0&data_flow_convert=ORIGIN", headers=headers
    )
    assert response.data == stored[(mine, "OUTPUT")]

    response = client.get(f"/v6/account/data/{mine}?data_flow_convert=JSON", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.data == stored[(mine, "INPUT")]
    assert response.headers["Content-Disposition"].endswith('_input_raw.json"')

    response = client.get(f"/v6/account/data/{mine}?data_flow_convert=XLSX", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert _sheet(response.data) == [
        ("point", "n", "tags", "ok"),
        ("'=HYPERLINK(1)", 1, '["a"]', None),  # a formula in the data stays text
        ("b", None, None, True),
    ]
    downloads = db("SELECT operation FROM process_requests WHERE operation = 'read_data'")
    assert len(downloads) == 4


@pytest.mark.parametrize("convert", ["JSON", "XLSX"])
def test_conversion_the_data_does_not_allow_is_general400(client, files, db, convert):
    mine, _, _ = files
    response = client.get(
        f"/v6/account/data/{mine}?data_flow_type=OUTPUT&data_flow_convert={convert}", headers=v6_login(client)
    )
    message = assert_general400(response, "read_data", "alice", "acme")
    assert message == "Invalid request: data_flow_convert: the stored data is not JSON; only ORIGIN serves it"
    assert db("SELECT operation FROM process_requests WHERE operation = 'read_data'") == []


def _nested(levels):
    """JSON text of levels nested levels: objects around a scalar (the scalar is one)."""
    return '{"a": ' * (levels - 1) + "1" + "}" * (levels - 1)


@pytest.mark.parametrize("method,path", [("PUT", "/v6/account/info"), ("POST", "/v6/account/token/generation")])
def test_a_deeply_nested_620_body_is_general400(client, make_user, db, method, path):
    """The 6.20 bodies go through the one strict parser: its depth limit holds for them."""
    make_user()
    headers = v6_login(client) if method == "PUT" else {}
    operation = "update_info" if method == "PUT" else "run_token_generation"
    user = ("alice", "acme") if method == "PUT" else ()
    body = '{"username": "alice", "company_key": "acme", "name": ' + _nested(MAX_DEPTH) + "}"
    response = client.open(path, method=method, data=body, content_type="application/json", headers=headers)
    message = assert_general400(response, operation, *user)
    assert message == f"Invalid request: body: nested deeper than {MAX_DEPTH} levels"
    assert db("SELECT specification FROM users")[0]["specification"] is None


@pytest.mark.parametrize("convert", ["JSON", "XLSX"])
def test_stored_data_nested_deeper_than_a_body_may_is_general400(client, make_user, ingest, producer, convert):
    """Converted stored data is read by the same strict parser as a body, depth limit
    included: an object, or an element of a top array, nested deeper is refused."""
    make_user()
    headers = v6_login(client)
    for data, allowed in (
        (_nested(MAX_DEPTH), True),
        (_nested(MAX_DEPTH + 1), False),
        ("[" + _nested(MAX_DEPTH - 1) + "]", True),
        ('[{"a": 1}, ' + _nested(MAX_DEPTH) + "]", False),
    ):
        record = process_record()
        ingest(record)
        code = record["process_code"]
        response = client.put(
            f"/account/data/{code}", data=data.encode(), content_type="application/octet-stream", headers=producer()
        )
        assert response.status_code == 204
        response = client.get(f"/v6/account/data/{code}?data_flow_convert={convert}", headers=headers)
        if allowed:
            assert response.status_code == 200, response.get_json()
        else:
            message = assert_general400(response, "read_data", "alice", "acme")
            assert message == (
                "Invalid request: data_flow_convert: the stored data is nested deeper than "
                f"{MAX_DEPTH} levels; only ORIGIN serves it"
            )
            assert client.get(f"/v6/account/data/{code}", headers=headers).data == data.encode()


def test_xlsx_needs_objects(client, make_user, ingest, producer):
    make_user()
    record = process_record()
    ingest(record)
    code = record["process_code"]
    client.put(f"/account/data/{code}", data=b"[1, 2]", content_type="application/octet-stream", headers=producer())
    headers = v6_login(client)
    response = client.get(f"/v6/account/data/{code}?data_flow_convert=XLSX", headers=headers)
    assert "an object or an array of objects" in assert_general400(response, "read_data", "alice", "acme")
    assert client.get(f"/v6/account/data/{code}?data_flow_convert=JSON", headers=headers).data == b"[1, 2]"


def test_data_not_found_and_bad_parameters(client, files):
    mine, other, _ = files
    headers = v6_login(client)
    for path in (
        f"/v6/account/data/{other}",
        f"/v6/account/data/{uuid.uuid4()}",
        f"/v6/account/data/{mine}?data_flow_stage=1",
        f"/v6/account/data/{mine}?data_flow_stage=3&data_flow_convert=JSON",
    ):
        code = path.split("/")[-1].split("?")[0]
        assert_general404(client.get(path, headers=headers), "read_data", code)
    for query, field in (
        ("data_flow_stage=4", "data_flow_stage"),
        ("data_flow_stage=-1", "data_flow_stage"),
        ("data_flow_stage=RAW", "data_flow_stage"),
        ("data_flow_convert=CSV", "data_flow_convert"),
        ("data_flow_type=BOTH", "data_flow_type"),
    ):
        response = client.get(f"/v6/account/data/{mine}?{query}", headers=headers)
        assert field in assert_general400(response, "read_data", "alice", "acme")
    response = client.get("/v6/account/data/not-a-uuid", headers=headers)
    assert "tracecode" in assert_general400(response, "read_data", "alice", "acme")


# Quotas


def _set_quota(runner, *args):
    result = runner.invoke(args=["account", "set-quota", "alice", *args])
    assert result.exit_code == 0, result.output
    return result


def test_quotas_with_window_and_620_only_names(client, make_user, runner, db):
    make_user()
    common = ["--points-per-request", "15", "--points-per-day", "1500", "--max-concurrent", "5"]
    _set_quota(runner, "UNIVERSAL", "PLAN", *common, "--points-per-date-window", "4500")
    _set_quota(runner, "STOCK", "PLAN", *common)
    _set_quota(runner, "UNIVERSAL", "PACK", *common, "--points-per-date-window", "0")
    headers = v6_login(client)
    body = client.get("/v6/account/quota", headers=headers).get_json()
    method = {"points_per_request": 15, "points_per_day": 1500, "max_concurrent_execution": 5}
    assert body == {
        "base": {
            "services": [
                {"service": "STOCK", "methods": [{"method_group": "PLAN", "points_per_date_window": None, **method}]},
                {
                    "service": "UNIVERSAL",
                    "methods": [
                        {"method_group": "PACK", "points_per_date_window": 0, **method},
                        {"method_group": "PLAN", "points_per_date_window": 4500, **method},
                    ],
                },
            ]
        }
    }
    v7 = client.get("/account/quota", headers=headers).get_json()
    assert v7 == {
        "base": {
            "services": [
                {
                    "service": "UNIVERSAL",
                    "processes": [
                        {
                            "process_type": "PLAN",
                            "points_per_request": 15,
                            "points_per_day": 1500,
                            "max_concurrent_execution": 5,
                        }
                    ],
                }
            ]
        }
    }
    # set-quota replaces the quota: without the option the window is unset again.
    _set_quota(runner, "UNIVERSAL", "PLAN", *common)
    assert db("SELECT points_per_date_window FROM quotas WHERE service = 'UNIVERSAL' AND process_type = 'PLAN'") == [
        {"points_per_date_window": None}
    ]


def test_only_620_quotas_are_a_79_general404(client, make_user, runner):
    make_user()
    _set_quota(
        runner, "LONGHAUL", "REFINE", "--points-per-request", "1", "--points-per-day", "2", "--max-concurrent", "3"
    )
    headers = v6_login(client)
    assert client.get("/v6/account/quota", headers=headers).status_code == 200
    response = client.get("/account/quota", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["resource_key"] == "quota"


def test_no_quota_is_general404(client, make_user):
    make_user()
    assert_general404(client.get("/v6/account/quota", headers=v6_login(client)), "read_quota", "quota")


@pytest.mark.parametrize(
    "args,problem",
    [
        (["NOPE", "PLAN"], "'NOPE' is not one of 'UNIVERSAL'"),
        (["STOCK", "NOPE"], "'NOPE' is not one of 'NOTRACE'"),
        (["STOCK", "PLAN", "--points-per-date-window", str(10**8 + 1)], "'--points-per-date-window'"),
    ],
)
def test_set_quota_refuses_bad_values(make_user, runner, db, args, problem):
    make_user()
    result = runner.invoke(
        args=[
            "account",
            "set-quota",
            "alice",
            *args,
            "--points-per-request",
            "1",
            "--points-per-day",
            "1",
            "--max-concurrent",
            "1",
        ]
    )
    assert result.exit_code == 2
    assert problem in result.output
    assert db("SELECT * FROM quotas") == []


# Producer extension with 6.20 names


def test_v6_producer_stores_620_names_and_79_producer_refuses_them(client, make_user, producer, db, ingest_v6):
    make_user()
    record = v6_record("CARGOTIMETABLE", "ANALYTICS", point_keys=["k"])
    response = client.post("/account/processes", json={"processes": [record]}, headers=producer())
    message = response.get_json()["message"]
    assert response.status_code == 400 and "processes.0.service" in message and "processes.0.process_type" in message
    assert db("SELECT count(*) AS n FROM processes") == [{"n": 1}]  # the BOT's login only

    ingest_v6(record)
    ingest_v6(record)  # idempotent, as the 7.9 producer
    row = db(
        "SELECT service, process_type, username FROM processes WHERE process_code = :code", code=record["process_code"]
    )
    assert row == [{"service": "CARGOTIMETABLE", "process_type": "ANALYTICS", "username": "alice"}]
    assert db("SELECT service FROM process_requests WHERE process_code = :code", code=record["process_code"]) == [
        {"service": "CARGOTIMETABLE"}
    ]


def test_v6_producer_rules(client, make_user, producer):
    make_user()
    make_user(username="outsider", company="other_co")
    headers = v6_login(client)
    record = v6_record("STOCK", "PACK")
    response = client.post("/v6/account/processes", json={"processes": [record]}, headers=headers)
    assert_general400(response, "write_processes", "alice", "acme", status=403)  # a USER is no producer
    response = client.post(
        "/v6/account/processes", json={"processes": [v6_record("STOCK", "NOPE")]}, headers=producer()
    )
    assert "processes.0.process_type" in assert_general400(response, "write_processes", "producer_bot", "acme")
    foreign = v6_record("STOCK", "PACK", username="outsider", company="other_co")
    response = client.post("/v6/account/processes", json={"processes": [foreign]}, headers=producer())
    assert "processes.0.company" in assert_general400(response, "write_processes", "producer_bot", "acme")


# System and documentation


def test_system_operations(client):
    from app.version import __version__

    assert client.get("/v6/account/system/check").get_json() == {"health": 1.0}
    assert client.get("/v6/account/system/version").get_json() == {"major": 6, "minor": 20, "build": __version__}


V6_OPERATIONS = (
    "run_token_generation",
    "run_token_validation",
    "change_password",
    "read_info",
    "update_info",
    "generate_statistics",
    "read_report",
    "read_audit",
    "read_data",
    "read_quota",
    "check",
    "version",
    "file",
    "write_processes",
)


def test_openapi_document_of_the_620_dialect(client):
    spec = client.get("/v6/account/openapi/openapi.json").get_json()
    assert spec["info"]["version"] == "6.20"
    operations = {
        op["operationId"]: path for path, ops in spec["paths"].items() for op in ops.values() if "operationId" in op
    }
    assert set(operations) == set(V6_OPERATIONS)
    assert all(path.startswith("/v6/account/") for path in operations.values())
    assert operations["read_data"] == "/v6/account/data/{tracecode}"
    schemas = spec["components"]["schemas"]
    assert set(schemas["Tracedata"]["properties"]) == TRACEDATA_KEYS
    assert set(schemas["General404"]["properties"]) == {"resource_id", "detail"}
    assert len(schemas["ServiceStatistics"]["properties"]["service"]["enum"]) == 12
    assert len(schemas["MethodStatistics"]["properties"]["method_group"]["enum"]) == 12
    assert "points_per_date_window" in schemas["MethodQuota"]["properties"]
    # The 7.9 document is untouched by the second one.
    v7 = client.get("/account/openapi/openapi.json").get_json()
    assert v7["info"]["version"] == "7.9"
    assert not any(path.startswith("/v6") for path in v7["paths"])
    assert "resource_key" in v7["components"]["schemas"]["General404"]["properties"]


@pytest.mark.parametrize("name,marker", [("file_en.html", "Operations"), ("file_ru.html", "Операции")])
def test_documentation_files(client, name, marker):
    response = client.get(f"/v6/account/file/{name}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert marker in page and "6.20" in page
    for operation in V6_OPERATIONS:
        assert operation in page
    assert "/v6/account/data/{tracecode}" in page
    if name == "file_ru.html":
        from app.api.v6 import ApiV6

        assert set(V6_OPERATIONS) <= set(ApiV6.SUMMARIES_RU)
    v7 = client.get(f"/account/file/{name}").get_data(as_text=True)
    assert "/v6/" not in v7 and "7.9" in v7


def test_documentation_openapi_file_is_the_620_document(client):
    response = client.get("/v6/account/file/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["info"]["version"] == "6.20"


def test_unknown_file_and_path_and_method_have_620_bodies(client):
    response = client.get("/v6/account/file/nothing.html")
    assert response.status_code == 404
    body = response.get_json()
    assert body["resource_id"] == "nothing.html"
    assert_v6_tracedata(body["detail"]["tracedata"], "file")
    response = client.get("/v6/account/nowhere")
    assert response.get_json()["resource_id"] == "/v6/account/nowhere"
    assert_v6_tracedata(response.get_json()["detail"]["tracedata"], "unknown_operation")
    response = client.delete("/v6/account/info")
    assert_general400(response, "unknown_operation", status=405)
    # 7.9 bodies stay 7.9's.
    assert set(client.get("/account/nowhere").get_json()) == {"resource_key", "detail"}


# Migration


def test_quota_window_migration_up_and_down(tmp_path):
    url = f"sqlite:///{tmp_path / 'migrate.db'}"
    upgrade(url, "0003_login_throttle")
    engine = create_engine(url)
    try:
        assert "points_per_date_window" not in {c["name"] for c in inspect(engine).get_columns("quotas")}
        upgrade(url)
        assert "points_per_date_window" in {c["name"] for c in inspect(engine).get_columns("quotas")}
        downgrade(url, "0003_login_throttle")
        assert "points_per_date_window" not in {c["name"] for c in inspect(engine).get_columns("quotas")}
    finally:
        engine.dispose()


def test_dates_of_statistics_are_dates():
    # The mapping keeps the query's date objects; the schema renders them.
    from app.api.v6.mapping import user_statistics
    from app.db.usage import StatisticsRow

    body = user_statistics("alice", [StatisticsRow(date(2026, 11, 10), "STOCK", "PACK", 1, 2, 3, 4)])
    assert body["dates"][0]["date"] == date(2026, 11, 10)
    assert body["dates"][0]["services"][0]["methods"] == [
        {"method_group": "PACK", "unique_points_per_day": 1, "points_per_day": 2}
    ]
