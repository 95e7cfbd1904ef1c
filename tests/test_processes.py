"""The producer API: POST /account/processes (idempotent, all-or-nothing batches) and
PUT /account/data/{process_code} (raw input and output files)."""

import copy
import io
import random
import uuid

import pytest

from app.api import data as data_api
from tests.conftest import assert_tracedata, process_record

TABLES = ("processes", "process_requests", "process_points", "process_file_chunks")
PERIOD = {"from": "2026-11-01", "to": "2026-11-14"}
OCTET = {"Content-Type": "application/octet-stream"}


def counts(db):
    return {table: db(f"select count(*) as n from {table}")[0]["n"] for table in TABLES}


def ingested(db):
    """Processes other than the service's own ACCOUNT actions (logins and the like)."""
    return db("select count(*) as n from processes where service <> 'ACCOUNT'")[0]["n"]


def stored_process(db, code):
    rows = db("select * from processes where process_code = :c", c=code)
    return rows[0] if rows else None


def stored_requests(db, code):
    return db("select * from process_requests where process_code = :c order by request_code", c=code)


def stored_keys(db, code):
    return sorted(
        row["point_key"] for row in db("select point_key from process_points where process_code = :c", c=code)
    )


def stored_chunks(db, code, flow="INPUT"):
    rows = db(
        "select seq, data from process_file_chunks where process_code = :c and flow_type = :f order by seq",
        c=code,
        f=flow,
    )
    return [bytes(row["data"]) for row in rows]


def post(client, records, headers):
    return client.post("/account/processes", json={"processes": records}, headers=headers)


def audit_actions(client, headers, **query):
    response = client.get(
        "/account/audit",
        query_string={"from": "2026-11-01T00:00:00Z", "to": "2026-11-14T23:59:59Z", "limit": 1000, **query},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def statistics(client, headers):
    response = client.get("/account/statistics", query_string=PERIOD, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def alice(auth, clock):
    """Alice (USER of acme) with a token; the clock fixed at 2026-11-15T12:00Z."""
    return auth("alice")


@pytest.fixture
def bob(make_user, login, clock):
    """Bob, a USER of another company."""
    make_user(username="bob", company="other")
    return {"Authorization": f"Bearer {login('bob')}"}


# ---------------------------------------------------------------- roles


def test_without_token_is_401(client, db):
    response = post(client, [process_record()], {})
    assert response.status_code == 401
    assert ingested(db) == 0


def test_user_role_is_403(client, alice, db):
    response = post(client, [process_record()], alice)
    assert response.status_code == 403
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert_tracedata(body, "write_processes", "alice", "acme")
    assert ingested(db) == 0


def test_partner_role_is_403(client, make_user, login, alice, db):
    make_user(username="partner", company="acme", roles=("PARTNER",))
    response = post(client, [process_record()], {"Authorization": f"Bearer {login('partner')}"})
    assert response.status_code == 403
    assert ingested(db) == 0


def test_bot_writes_a_record_of_its_company(client, alice, producer, db):
    record = process_record(point_keys=["k1", "k2", "k2"], requests=2, points=12, elements=7)
    response = post(client, [record], producer())
    assert response.status_code == 200
    assert response.get_json() == {"stored": 1}
    row = stored_process(db, record["process_code"])
    alice_id = db("select id from users where username = 'alice'")[0]["id"]
    assert row["user_id"] == alice_id
    assert (row["username"], row["company"], row["service"], row["process_type"]) == (
        "alice",
        "acme",
        "UNIVERSAL",
        "PLAN",
    )
    assert row["time_us"] == 1_794_304_800_000_000  # 2026-11-10T10:00:00Z
    assert row["status"] == "FINISHED_IN_TIME" and row["result_version"] == 1
    assert (row["request_points_count"], row["result_elements_count"]) == (12, 7)
    assert row["calculation_time"] == "PT1H45M" and row["waiting_time"] == "PT4S"
    assert not row["input_file_exists"] and not row["output_file_exists"]
    requests = stored_requests(db, record["process_code"])
    assert sorted(r["request_code"] for r in requests) == sorted(r["request_code"] for r in record["requests"])
    assert {(r["operation"], r["env"], r["pod"], r["time_us"]) for r in requests} == {
        ("run_plan_calculation", "edge7", "pod-1", 1_794_304_800_000_000)
    }
    assert stored_keys(db, record["process_code"]) == ["k1", "k2"]


def test_admin_writes_for_any_company(client, alice, bob, make_user, login, db):
    make_user(username="root", company="platform", roles=("ADMIN",))
    admin = {"Authorization": f"Bearer {login('root')}"}
    records = [process_record(), process_record(username="bob", company="other")]
    response = post(client, records, admin)
    assert response.status_code == 200
    assert {
        (r["username"], r["company"]) for r in db("select username, company from processes where service = 'UNIVERSAL'")
    } == {
        ("alice", "acme"),
        ("bob", "other"),
    }


def test_bot_for_a_user_of_another_company_is_400(client, alice, bob, producer, db):
    records = [process_record(), process_record(username="bob", company="other")]
    response = post(client, records, producer())
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert "processes.1.company" in body["message"]
    assert_tracedata(body, "write_processes", "producer_bot", "acme")
    assert ingested(db) == 0


def test_record_company_must_be_the_users_company_even_for_admin(client, alice, make_user, login, db):
    make_user(username="root", company="platform", roles=("ADMIN",))
    admin = {"Authorization": f"Bearer {login('root')}"}
    response = post(client, [process_record(company="other")], admin)
    assert response.status_code == 400
    assert "processes.0.company" in response.get_json()["message"]
    assert ingested(db) == 0


# ---------------------------------------------------------------- idempotence and merging


def test_the_same_batch_twice_changes_nothing(client, alice, producer, ingest, db):
    batch = [
        process_record(point_keys=["a", "b"], requests=2),
        process_record(time="2026-11-11T10:00:00+00:00", point_keys=["b", "c"]),
        process_record(service="ROUTING", process_type="MATRIX", points=None, elements=None),
    ]
    ingest(*batch)
    before_counts = counts(db)
    before_rows = db("select * from processes order by process_code")
    before_requests = db("select * from process_requests order by process_code, request_code")
    before_stats = statistics(client, alice)
    before_audit = audit_actions(client, alice)
    ingest(*copy.deepcopy(batch))
    assert counts(db) == before_counts
    assert before_counts["processes"] == 5  # the batch, alice's and the bot's logins
    assert before_counts["process_requests"] == 6
    assert before_counts["process_points"] == 4
    assert db("select * from processes order by process_code") == before_rows
    assert db("select * from process_requests order by process_code, request_code") == before_requests
    assert statistics(client, alice) == before_stats
    assert audit_actions(client, alice) == before_audit


def test_a_resent_record_updates_status_durations_and_counts(client, alice, ingest, db):
    record = process_record(status="IN_PROGRESS", points=10, elements=None)
    ingest(record)
    changed = copy.deepcopy(record)
    changed["statistics"]["request_points_count"] = 25
    changed["statistics"]["result_elements_count"] = 9
    changed["statistics"]["calculation_info"].update(
        status="FINISHED_OUT_OF_TIME", result_version=3, calculation_time="PT2H", waiting_time="PT0S"
    )
    ingest(changed)
    row = stored_process(db, record["process_code"])
    assert (row["status"], row["result_version"], row["calculation_time"], row["waiting_time"]) == (
        "FINISHED_OUT_OF_TIME",
        3,
        "PT2H",
        "PT0S",
    )
    assert (row["request_points_count"], row["result_elements_count"]) == (25, 9)
    assert db("select count(*) as n from processes where process_code = :c", c=record["process_code"])[0]["n"] == 1
    assert len(stored_requests(db, record["process_code"])) == 1
    (action,) = audit_actions(client, alice, service="UNIVERSAL")["actions"]
    assert action["statistics"]["calculation_info"]["status"] == "FINISHED_OUT_OF_TIME"
    assert action["statistics"]["request_points_count"] == 25
    day = statistics(client, alice)["dates"][0]
    assert day["services"][0]["processes"][0]["points_per_day"] == 25


def test_requests_merge_by_request_code(client, alice, ingest, db):
    record = process_record(point_keys=["a", "b"])
    code = record["process_code"]
    first_request = record["requests"][0]
    ingest(record)

    again = copy.deepcopy(record)
    again["requests"][0]["pod"] = "pod-2"  # the known request, re-sent with a change
    added = {**first_request, "request_code": str(uuid.uuid4()), "operation": "read_plan_result"}
    again["requests"].append(added)
    again["point_keys"] = ["b", "c"]
    ingest(again)
    requests = stored_requests(db, code)
    assert len(requests) == 2
    assert {r["request_code"]: r["pod"] for r in requests} == {
        first_request["request_code"]: "pod-2",
        added["request_code"]: "pod-1",
    }
    assert stored_keys(db, code) == ["a", "b", "c"]

    # A later send naming only a new request keeps the earlier ones.
    third = copy.deepcopy(record)
    third["requests"] = [{**first_request, "request_code": str(uuid.uuid4()), "operation": "cancel_plan"}]
    third["point_keys"] = []
    ingest(third)
    assert len(stored_requests(db, code)) == 3
    assert stored_keys(db, code) == ["a", "b", "c"]
    (action,) = audit_actions(client, alice, service="UNIVERSAL")["actions"]
    assert sorted(r["operation"] for r in action["requests"]) == [
        "cancel_plan",
        "read_plan_result",
        "run_plan_calculation",
    ]


def test_duplicate_process_code_within_a_batch_is_merged(client, alice, producer, db):
    first = process_record(status="IN_PROGRESS", point_keys=["a", "b"], points=1)
    second = process_record(process_code=first["process_code"], point_keys=["b", "c"], points=2)
    response = post(client, [first, second], producer())
    assert response.status_code == 200
    assert db("select count(*) as n from processes where service = 'UNIVERSAL'")[0]["n"] == 1
    row = stored_process(db, first["process_code"])
    assert (row["status"], row["request_points_count"]) == ("FINISHED_IN_TIME", 2)  # the last record wins
    assert {r["request_code"] for r in stored_requests(db, first["process_code"])} == {
        first["requests"][0]["request_code"],
        second["requests"][0]["request_code"],
    }
    assert stored_keys(db, first["process_code"]) == ["a", "b", "c"]


def test_a_resend_keeps_the_file_flags(client, alice, producer, ingest, db):
    record = process_record()
    ingest(record)
    response = client.put(f"/account/data/{record['process_code']}", data=b"in", headers={**producer(), **OCTET})
    assert response.status_code == 204
    ingest(record)
    assert stored_process(db, record["process_code"])["input_file_exists"]
    assert stored_chunks(db, record["process_code"]) == [b"in"]


def test_file_flags_are_not_accepted_from_a_producer(client, alice, producer, db):
    record = {**process_record(), "input_file_exists": True}
    response = post(client, [record], producer())
    assert response.status_code == 400
    assert "processes.0.input_file_exists" in response.get_json()["message"]
    assert ingested(db) == 0


# ---------------------------------------------------------------- all or nothing


def _unknown_user(record):
    record["username"] = "nobody"


def _other_company_user(record):
    record["username"], record["company"] = "bob", "other"


def _bad_process_type(record):
    record["process_type"] = "FLY"


def _bad_service(record):
    record["service"] = "WEATHER"


def _bad_status(record):
    record["statistics"]["calculation_info"]["status"] = "DONE"


def _too_many_points(record):
    record["statistics"]["request_points_count"] = 100_000_001


def _negative_elements(record):
    record["statistics"]["result_elements_count"] = -1


def _too_big_result_version(record):
    record["statistics"]["calculation_info"]["result_version"] = 1_000_001


def _bad_duration(record):
    record["statistics"]["calculation_info"]["calculation_time"] = "1H"


def _time_without_offset(record):
    record["time"] = "2026-11-10T10:00:00"


def _bad_uuid(record):
    record["process_code"] = "not-a-uuid"


def _points_as_string(record):
    record["statistics"]["request_points_count"] = "10"


def _foreign_request(record):
    record["requests"][0]["process_code"] = str(uuid.uuid4())


def _long_point_key(record):
    record["point_keys"] = ["a" * 257]


def _missing_statistics(record):
    del record["statistics"]


BAD_RECORDS = [
    (_unknown_user, "processes.2.username"),
    (_other_company_user, "processes.2.company"),
    (_bad_process_type, "processes.2.process_type"),
    (_bad_service, "processes.2.service"),
    (_bad_status, "processes.2.statistics.calculation_info.status"),
    (_too_many_points, "processes.2.statistics.request_points_count"),
    (_negative_elements, "processes.2.statistics.result_elements_count"),
    (_too_big_result_version, "processes.2.statistics.calculation_info.result_version"),
    (_bad_duration, "processes.2.statistics.calculation_info.calculation_time"),
    (_time_without_offset, "processes.2.time"),
    (_bad_uuid, "processes.2.process_code"),
    (_points_as_string, "processes.2.statistics.request_points_count"),
    (_foreign_request, "processes.2.requests.0.process_code"),
    (_long_point_key, "processes.2.point_keys.0"),
    (_missing_statistics, "processes.2.statistics"),
]


# The rules that read the users table (or the batch as a whole) run on both databases; the
# schema's refusals come before any query and run once.
BATCH_RULES = (_unknown_user, _other_company_user, _foreign_request)


@pytest.mark.parametrize(
    "spoil, field",
    [
        pytest.param(
            spoil,
            field,
            id=spoil.__name__.strip("_"),
            marks=() if spoil in BATCH_RULES else pytest.mark.validation_only,
        )
        for spoil, field in BAD_RECORDS
    ],
)
def test_one_bad_record_rejects_the_whole_batch(client, alice, bob, producer, ingest, db, spoil, field):
    known = process_record(status="IN_PROGRESS", point_keys=["x"])
    ingest(known)
    before = counts(db)
    before_rows = db("select * from processes order by process_code")
    resent = copy.deepcopy(known)  # a valid update in the same batch must not happen either
    resent["statistics"]["calculation_info"]["status"] = "FAILED"
    resent["point_keys"] = ["y"]
    bad = process_record(point_keys=["z"])
    spoil(bad)
    response = post(client, [process_record(point_keys=["w"]), resent, bad], producer())
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert body["message"].startswith("Invalid request: ")
    assert field in body["message"]
    assert "processes.0" not in body["message"] and "processes.1" not in body["message"]
    assert counts(db) == before
    assert db("select * from processes order by process_code") == before_rows
    assert stored_keys(db, known["process_code"]) == ["x"]


def test_a_process_code_of_another_user_is_400(client, alice, make_user, producer, ingest, db):
    make_user(username="carol", company="acme")
    record = process_record(point_keys=["a"])
    ingest(record)
    taken = process_record(username="carol", process_code=record["process_code"], point_keys=["b"])
    response = post(client, [process_record(username="carol"), taken], producer())
    assert response.status_code == 400
    assert "processes.1.process_code" in response.get_json()["message"]
    row = stored_process(db, record["process_code"])
    assert row["username"] == "alice"
    assert stored_keys(db, record["process_code"]) == ["a"]
    assert db("select count(*) as n from processes where username = 'carol'")[0]["n"] == 0


def test_a_batch_of_1000_is_accepted_and_1001_refused(client, alice, producer, db):
    records = [process_record(requests=0, point_keys=[f"p{i}"]) for i in range(1001)]
    response = post(client, records, producer())
    assert response.status_code == 400
    assert "processes" in response.get_json()["message"]
    assert ingested(db) == 0
    response = post(client, records[:1000], producer())
    assert response.status_code == 200
    assert response.get_json() == {"stored": 1000}
    assert db("select count(*) as n from processes where service = 'UNIVERSAL'")[0]["n"] == 1000
    assert counts(db)["process_points"] == 1000


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "body",
    [{"processes": []}, {}, {"processes": None}, {"processes": {}}, [], {"processes": [process_record()], "x": 1}],
    ids=["empty", "missing", "null", "object", "array", "unknown-field"],
)
def test_malformed_batches_are_400(client, alice, producer, db, body):
    response = client.post("/account/processes", json=body, headers=producer())
    assert response.status_code == 400
    assert set(response.get_json()) == {"tracedata", "message"}
    assert ingested(db) == 0


@pytest.mark.validation_only
def test_a_batch_that_is_not_json_is_415(client, alice, producer, db):
    response = client.post(
        "/account/processes", data=b"processes", headers={**producer(), "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert ingested(db) == 0


# ---------------------------------------------------------------- PUT /account/data


@pytest.fixture
def stored(alice, ingest):
    """A process of alice, stored through the producer API."""
    record = process_record()
    ingest(record)
    return record["process_code"]


def put(client, code, payload, headers, flow="INPUT", **kwargs):
    return client.put(
        f"/account/data/{code}",
        query_string={"data_flow_type": flow},
        data=payload,
        headers={**headers, **OCTET},
        **kwargs,
    )


def test_upload_stores_bytes_and_sets_the_flag(client, alice, producer, stored, db):
    response = put(client, stored, b"input-bytes", producer())
    assert response.status_code == 204
    assert response.data == b""
    assert stored_chunks(db, stored, "INPUT") == [b"input-bytes"]
    assert stored_chunks(db, stored, "OUTPUT") == []
    row = stored_process(db, stored)
    assert row["input_file_exists"] and not row["output_file_exists"]
    (action,) = audit_actions(client, alice, service="UNIVERSAL")["actions"]
    assert (action["input_file_exists"], action["output_file_exists"]) == (True, False)

    response = put(client, stored, b"output-bytes", producer(), flow="OUTPUT")
    assert response.status_code == 204
    assert stored_chunks(db, stored, "OUTPUT") == [b"output-bytes"]
    assert stored_chunks(db, stored, "INPUT") == [b"input-bytes"]
    (action,) = audit_actions(client, alice, service="UNIVERSAL")["actions"]
    assert (action["input_file_exists"], action["output_file_exists"]) == (True, True)
    assert client.get(f"/account/data/{stored}?data_flow_type=OUTPUT", headers=alice).data == b"output-bytes"
    assert client.get(f"/account/data/{stored}?data_flow_type=INPUT", headers=alice).data == b"input-bytes"


def test_upload_takes_the_documented_stage(client, alice, producer, stored, db):
    response = client.put(
        f"/account/data/{stored}?data_flow_type=INPUT&data_flow_stage=RAW", data=b"x", headers={**producer(), **OCTET}
    )
    assert response.status_code == 204
    response = client.put(
        f"/account/data/{stored}?data_flow_type=INPUT&data_flow_stage=JSON", data=b"y", headers={**producer(), **OCTET}
    )
    assert response.status_code == 400
    assert stored_chunks(db, stored) == [b"x"]


def test_reupload_replaces_the_file(client, alice, producer, stored, db, monkeypatch):
    monkeypatch.setattr(data_api, "CHUNK", 4)
    assert put(client, stored, b"0123456789", producer()).status_code == 204
    assert stored_chunks(db, stored) == [b"0123", b"4567", b"89"]
    assert put(client, stored, b"abcde", producer()).status_code == 204
    assert stored_chunks(db, stored) == [b"abcd", b"e"]
    assert client.get(f"/account/data/{stored}", headers=alice).data == b"abcde"


def test_an_empty_file_is_stored_and_read_back_empty(client, alice, producer, stored, db):
    assert put(client, stored, b"", producer()).status_code == 204
    assert stored_process(db, stored)["input_file_exists"]
    response = client.get(f"/account/data/{stored}", headers=alice)
    assert response.status_code == 200
    assert response.data == b""


def test_too_large_is_413_and_keeps_the_previous_file(app, client, alice, producer, stored, db):
    app.config["DATA_MAX_CONTENT_LENGTH"] = 1000
    assert put(client, stored, b"k" * 1000, producer()).status_code == 204
    response = put(client, stored, b"x" * 1001, producer())
    assert response.status_code == 413
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert "1000" in body["message"]
    assert_tracedata(body, "write_data", "producer_bot", "acme")
    assert stored_chunks(db, stored) == [b"k" * 1000]
    assert client.get(f"/account/data/{stored}", headers=alice).data == b"k" * 1000


def test_too_large_without_content_length_is_413_and_stores_nothing(app, client, alice, producer, stored, db):
    app.config["DATA_MAX_CONTENT_LENGTH"] = 1000
    response = client.put(
        f"/account/data/{stored}",
        input_stream=io.BytesIO(b"x" * 5000),
        headers={**producer(), **OCTET},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert set(response.get_json()) == {"tracedata", "message"}
    assert stored_chunks(db, stored) == []
    assert not stored_process(db, stored)["input_file_exists"]


def test_a_file_larger_than_one_chunk_round_trips(client, alice, producer, stored, db):
    payload = random.Random(7).randbytes(data_api.CHUNK * 2 + data_api.CHUNK // 2)
    assert put(client, stored, payload, producer()).status_code == 204
    chunks = stored_chunks(db, stored)
    assert len(chunks) == 3
    assert all(len(chunk) <= data_api.CHUNK for chunk in chunks)
    assert b"".join(chunks) == payload
    response = client.get(f"/account/data/{stored}", headers=alice)
    assert response.status_code == 200
    assert response.data == payload


def test_upload_for_an_unknown_process_is_404(client, alice, producer, db):
    code = str(uuid.uuid4())
    response = put(client, code, b"x", producer())
    assert response.status_code == 404
    body = response.get_json()
    assert set(body) == {"resource_key", "detail"}
    assert body["resource_key"] == code
    assert_tracedata(body, "write_data", "producer_bot", "acme")
    assert counts(db)["process_file_chunks"] == 0


def test_upload_by_a_bot_of_another_company_is_404(client, alice, producer, stored, db):
    response = put(client, stored, b"x", producer("other_bot", company="other"))
    assert response.status_code == 404
    assert set(response.get_json()) == {"resource_key", "detail"}
    assert counts(db)["process_file_chunks"] == 0
    assert not stored_process(db, stored)["input_file_exists"]


def test_upload_by_an_admin_of_another_company_is_stored(client, alice, producer, stored, db):
    response = put(client, stored, b"x", producer("root", company="platform", roles=("ADMIN",)))
    assert response.status_code == 204
    assert stored_chunks(db, stored) == [b"x"]


def test_upload_by_a_user_is_403_even_for_their_own_process(client, alice, stored, db):
    response = put(client, stored, b"x", alice)
    assert response.status_code == 403
    assert set(response.get_json()) == {"tracedata", "message"}
    assert counts(db)["process_file_chunks"] == 0


@pytest.mark.validation_only
@pytest.mark.parametrize("code", ["not-a-uuid", "12345", "g" * 36])
def test_upload_with_a_malformed_uuid_is_400(client, alice, producer, code, db):
    response = put(client, code, b"x", producer())
    assert response.status_code == 400
    assert set(response.get_json()) == {"tracedata", "message"}
    assert counts(db)["process_file_chunks"] == 0


@pytest.mark.validation_only
def test_upload_with_a_bad_flow_type_is_400(client, alice, producer, stored, db):
    response = put(client, stored, b"x", producer(), flow="MIDDLE")
    assert response.status_code == 400
    assert "data_flow_type" in response.get_json()["message"]
    assert counts(db)["process_file_chunks"] == 0
