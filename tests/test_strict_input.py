"""Input the database cannot store, and query strings read as strictly as bodies (issue 10,
items 2 and 4), in both dialects.

PostgreSQL refuses U+0000 in text and psycopg2 cannot encode an unpaired surrogate, so
before these checks such a body was a 500 there and stored on SQLite; now it is the same
General400 naming the field on both. Those refusals come before any query, and SQLite
(which would store the text) shows a missing check as plainly as PostgreSQL: they run on
SQLite alone (validation_only); what is stored runs on both."""

import pytest

from tests.conftest import PASSWORD, assert_tracedata, process_record
from tests.test_v6_api import assert_general400, v6_login

NUL = "a\x00b"
LONE_SURROGATE = "a\ud800b"
PROBLEM = "text must not hold U+0000 or an unpaired surrogate"


def _stored_processes(db):
    return db("SELECT COUNT(*) AS n FROM processes WHERE service <> 'ACCOUNT'")[0]["n"]


def _bad_point_key(record, text):
    record["point_keys"] = ["fine", text]
    return "processes.0.point_keys.1"


def _bad_operation(record, text):
    record["requests"][0]["operation"] = text
    return "processes.0.requests.0.operation"


def _bad_env(record, text):
    record["requests"][0]["env"] = text
    return "processes.0.requests.0.env"


@pytest.mark.validation_only
@pytest.mark.parametrize("text", [NUL, LONE_SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize("spoil", [_bad_point_key, _bad_operation, _bad_env])
@pytest.mark.parametrize("prefix", ["", "/v6"])
def test_unstorable_text_in_a_producer_record_is_general400(client, make_user, producer, db, text, spoil, prefix):
    make_user()
    good = process_record()
    bad = process_record()
    field = spoil(bad, text).replace("processes.0", "processes.1")
    response = client.post(f"{prefix}/account/processes", json={"processes": [good, bad]}, headers=producer())
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["message"] == f"Invalid request: {field}: {PROBLEM}"
    assert _stored_processes(db) == 0  # nothing of the batch, not even the good record


@pytest.mark.validation_only
def test_the_7_9_error_body_carries_tracedata(client, make_user, producer):
    make_user()
    record = process_record()
    record["point_keys"] = [NUL]
    response = client.post("/account/processes", json={"processes": [record]}, headers=producer())
    assert_tracedata(response.get_json(), "write_processes", "producer_bot", "acme")


def test_a_surrogate_pair_is_ordinary_text(client, make_user, producer, db):
    """An escaped pair ("\\ud83d\\ude9a") is one character: only an unpaired half is refused."""
    make_user()
    record = process_record(point_keys=["truck \U0001f69a"])
    response = client.post("/account/processes", json={"processes": [record]}, headers=producer())
    assert response.status_code == 200, response.get_json()
    assert db("SELECT point_key FROM process_points")[0]["point_key"] == "truck \U0001f69a"


@pytest.mark.validation_only
@pytest.mark.parametrize("text", [NUL, LONE_SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize(
    "body,field",
    [
        ({"specification": "?"}, "specification"),
        ({"attributes": [{"key": "k", "value": "?"}]}, "attributes.0.value"),
        ({"attributes": [{"key": "ok", "value": "v"}, {"key": "?", "value": "v"}]}, "attributes.1.key"),
    ],
)
def test_unstorable_text_in_the_profile_is_general400(client, auth, db, text, body, field):
    headers = auth()
    spoiled = _replace_marks(body, text)
    response = client.put("/account/info", json=spoiled, headers=headers)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["message"] == f"Invalid request: {field}: {PROBLEM}"
    assert db("SELECT specification, attributes FROM users")[0]["specification"] is None


@pytest.mark.validation_only
@pytest.mark.parametrize("text", [NUL, LONE_SURROGATE], ids=["nul", "surrogate"])
def test_unstorable_text_in_the_620_profile_is_general400(client, make_user, db, text):
    make_user()
    headers = v6_login(client)
    body = {"username": "alice", "company_key": "acme", "name": f"Alice {text}"}
    message = assert_general400(
        client.put("/v6/account/info", json=body, headers=headers), "update_info", "alice", "acme"
    )
    assert message == f"Invalid request: name: {PROBLEM}"
    assert db("SELECT specification FROM users")[0]["specification"] is None


@pytest.mark.validation_only
@pytest.mark.parametrize("prefix", ["", "/v6"])
def test_unstorable_text_in_a_login_is_general400_not_a_lookup(client, make_user, db, prefix):
    make_user()
    response = client.post(f"{prefix}/account/token/generation", json={"username": "ali\x00ce", "password": PASSWORD})
    assert response.status_code == 400
    assert response.get_json()["message"] == f"Invalid request: username: {PROBLEM}"


@pytest.mark.validation_only
def test_a_key_holding_nul_names_its_object(client, auth):
    headers = auth()
    response = client.put("/account/info", json={"attributes": [{"k\x00": "v"}]}, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["message"] == f"Invalid request: attributes.0: {PROBLEM}"


@pytest.mark.validation_only
def test_a_token_holding_nul_is_still_just_invalid(client):
    """Token validation answers valid=false for any malformed token, this one included."""
    response = client.post("/account/token/validation", json="eyJhbGciOiJIUzI1NiJ9.e30\x00.c" + "x" * 40)
    assert response.status_code == 200
    assert response.get_json() == {"valid": False, "roles": []}


def _replace_marks(value, text):
    if isinstance(value, dict):
        return {_replace_marks(k, text): _replace_marks(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_marks(v, text) for v in value]
    return value.replace("?", text) if isinstance(value, str) else value


# Query strings


@pytest.mark.validation_only
@pytest.mark.parametrize("prefix", ["", "/v6"])
@pytest.mark.parametrize(
    "path,query,name,problem",
    [
        ("/account/statistics", "from=2026-11-01&from=2026-11-20", "from", "Given more than once."),
        ("/account/statistics", "service=ROUTING&service=PACKER", "service", "Given more than once."),
        ("/account/audit", "limit=5&limit=7", "limit", "Given more than once."),
        ("/account/audit", "offset=0&offset=0", "offset", "Given more than once."),
        ("/account/statistics", "frm=2026-11-01", "frm", "Unknown field."),
        ("/account/audit", "sort=time", "sort", "Unknown field."),
        ("/account/report", "to=2026-11-20&too=2026-11-21", "too", "Unknown field."),
        ("/account/audit", "operation=abc%00def", "operation", PROBLEM),
    ],
)
def test_loose_query_strings_are_general400(client, auth, prefix, path, query, name, problem):
    headers = auth()
    response = client.get(f"{prefix}{path}?{query}", headers=headers)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["message"] == f"Invalid request: {name}: {problem}"


@pytest.mark.validation_only
@pytest.mark.parametrize("prefix", ["", "/v6"])
def test_a_file_query_is_strict_too(client, auth, prefix):
    headers = auth()
    code = "3f1f7a52-3c2e-4b3c-9a54-0e7e0f0d3c11"
    name = "data_flow_type" if not prefix else "data_flow_convert"
    response = client.get(f"{prefix}/account/data/{code}?{name}=X&{name}=Y", headers=headers)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["message"] == f"Invalid request: {name}: Given more than once."
    response = client.get(f"{prefix}/account/data/{code}?flow=INPUT", headers=headers)
    assert response.get_json()["message"] == "Invalid request: flow: Unknown field."


def test_a_documented_query_still_answers(client, auth):
    headers = auth()
    response = client.get("/account/audit?from=2026-11-01T00:00:00Z&limit=5&service=&sort_field=time", headers=headers)
    assert response.status_code == 200, response.get_json()


# The administration commands


@pytest.mark.parametrize(
    "args",
    [
        ["set-roles", "ali\udcffce", "--role", "USER"],
        ["disable-user", "ali\udcffce"],
        ["create-user", "alice2", "--company", "ac\udcffme", "--password-stdin"],
        [
            "set-quota",
            "ali\udcffce",
            "ROUTING",
            "PLAN",
            "--points-per-request",
            "1",
            "--points-per-day",
            "1",
            "--max-concurrent",
            "1",
        ],
    ],
    ids=["set-roles", "disable-user", "create-user", "set-quota"],
)
def test_an_argument_the_database_cannot_store_is_one_error_line(runner, make_user, db, args):
    """Bytes that are not UTF-8 in a command line reach Python as unpaired surrogates."""
    make_user()
    result = runner.invoke(args=["account", *args], input=PASSWORD + "\n")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    name = "company" if "create-user" in args else "username"
    assert result.output.strip().splitlines()[-1] == f"Error: {name}: {PROBLEM}"
    assert db("SELECT username, roles, enabled FROM users")[0]["enabled"] in (True, 1)
    assert len(db("SELECT id FROM users")) == 1
