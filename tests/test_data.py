"""GET /account/data/{process_code}: the stored raw files of the caller's own processes."""

import random
import re
import uuid

import pytest

from app.api import data as data_api
from tests.conftest import PASSWORD, assert_tracedata, process_record

OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def alice(auth, clock):
    return auth("alice")


@pytest.fixture
def upload(client, producer):
    def put(process_code, payload, flow="INPUT"):
        response = client.put(
            f"/account/data/{process_code}",
            query_string={"data_flow_type": flow},
            data=payload,
            headers={**producer(), **OCTET},
        )
        assert response.status_code == 204, response.get_json()

    return put


@pytest.fixture
def with_files(alice, ingest, upload):
    """A process of alice with both files."""
    record = process_record()
    ingest(record)
    upload(record["process_code"], b"\x00input\xffbytes")
    upload(record["process_code"], b"output bytes", flow="OUTPUT")
    return record["process_code"]


def read_data_actions(db):
    return db("select username, time_us from process_requests where operation = 'read_data'")


def filename(response):
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    return re.search(r'filename="?([^";]+)"?', disposition).group(1)


def test_stored_bytes_come_back_as_an_octet_stream(client, alice, with_files):
    response = client.get(f"/account/data/{with_files}", headers=alice)
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert response.data == b"\x00input\xffbytes"
    name = filename(response)
    assert with_files in name and "input" in name.lower()

    response = client.get(
        f"/account/data/{with_files}",
        query_string={"data_flow_type": "OUTPUT", "data_flow_stage": "RAW"},
        headers=alice,
    )
    assert response.status_code == 200
    assert response.data == b"output bytes"
    assert "output" in filename(response).lower()
    assert filename(response) != name


def test_input_is_the_default_flow(client, alice, with_files):
    explicit = client.get(f"/account/data/{with_files}?data_flow_type=INPUT&data_flow_stage=RAW", headers=alice)
    assert client.get(f"/account/data/{with_files}", headers=alice).data == explicit.data == b"\x00input\xffbytes"


def test_an_uppercase_uuid_names_the_same_process(client, alice, with_files):
    response = client.get(f"/account/data/{with_files.upper()}", headers=alice)
    assert response.status_code == 200
    assert response.data == b"\x00input\xffbytes"


def test_a_file_of_many_chunks_streams_back_in_order(client, alice, ingest, upload, db, monkeypatch):
    monkeypatch.setattr(data_api, "CHUNK", 1000)
    record = process_record()
    ingest(record)
    payload = random.Random(3).randbytes(25_500)
    upload(record["process_code"], payload)
    assert db("select count(*) as n from process_file_chunks")[0]["n"] == 26
    response = client.get(f"/account/data/{record['process_code']}", headers=alice)
    assert response.status_code == 200
    assert response.data == payload


def test_a_file_replaced_during_a_download_comes_back_whole_and_unmixed(
    app, client, alice, ingest, upload, monkeypatch
):
    monkeypatch.setattr(data_api, "CHUNK", 1000)
    record = process_record()
    ingest(record)
    old = b"o" * 10_500
    upload(record["process_code"], old)
    response = client.get(f"/account/data/{record['process_code']}", headers=alice, buffered=False)
    assert response.status_code == 200
    parts = iter(response.response)
    received = next(parts)
    upload(record["process_code"], b"n" * 2_500)  # replaced, with fewer chunks, mid-download
    received += b"".join(parts)
    response.close()
    assert received == old
    assert client.get(f"/account/data/{record['process_code']}", headers=alice).data == b"n" * 2_500


def test_a_download_is_recorded_as_an_account_action(client, alice, clock, with_files, db):
    assert read_data_actions(db) == []
    assert client.get(f"/account/data/{with_files}", headers=alice).status_code == 200
    assert read_data_actions(db) == [{"username": "alice", "time_us": 1_794_744_000_000_000}]  # 2026-11-15T12:00Z
    response = client.get("/account/audit", query_string={"operation": "read_data"}, headers=alice)
    (action,) = response.get_json()["actions"]
    assert (action["service"], action["process_type"], action["username"]) == ("ACCOUNT", "NOTRACE", "alice")
    assert action["time"] == "2026-11-15T12:00:00+00:00"
    assert action["requests"][0]["operation"] == "read_data"
    assert action["process_code"] != with_files


def _not_found(client, headers, process_code, **query):
    response = client.get(f"/account/data/{process_code}", query_string=query, headers=headers)
    assert response.status_code == 404, response.data
    body = response.get_json()
    assert set(body) == {"resource_key", "detail"}
    assert set(body["detail"]) == {"tracedata"}
    assert body["resource_key"] == process_code
    assert_tracedata(body, "read_data", "alice", "acme")
    return body


def test_another_users_process_unknown_code_and_missing_file_look_the_same(
    client, alice, auth, ingest, upload, with_files, db
):
    auth("bob")
    bobs = process_record(username="bob")
    ingest(bobs)
    upload(bobs["process_code"], b"bob's secret")
    no_file = process_record()
    ingest(no_file)
    only_input = process_record()
    ingest(only_input)
    upload(only_input["process_code"], b"in")

    bodies = [
        _not_found(client, alice, bobs["process_code"]),
        _not_found(client, alice, bobs["process_code"], data_flow_type="OUTPUT"),
        _not_found(client, alice, str(uuid.uuid4())),
        _not_found(client, alice, no_file["process_code"]),
        _not_found(client, alice, only_input["process_code"], data_flow_type="OUTPUT"),
    ]
    shapes = {
        (tuple(sorted(body)), tuple(sorted(body["detail"])), tuple(sorted(body["detail"]["tracedata"])))
        for body in bodies
    }
    assert len(shapes) == 1
    assert all("bob" not in str(body).lower() for body in bodies)
    assert read_data_actions(db) == []
    # Bob reads his own file.
    bob = {"Authorization": f"Bearer {_token(client, 'bob')}"}
    assert client.get(f"/account/data/{bobs['process_code']}", headers=bob).data == b"bob's secret"


def _token(client, username):
    response = client.post("/account/token/generation", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    return response.get_json()


def test_the_uploading_bot_and_an_admin_cannot_read_a_users_file(client, alice, producer, with_files):
    for headers in (producer(), producer("root", company="platform", roles=("ADMIN",))):
        response = client.get(f"/account/data/{with_files}", headers=headers)
        assert response.status_code == 404
        assert set(response.get_json()) == {"resource_key", "detail"}


@pytest.mark.validation_only
@pytest.mark.parametrize("process_code", ["not-a-uuid", "12345", "z" * 36, "%20", "1" * 33])
def test_a_malformed_uuid_is_400(client, alice, process_code, db):
    response = client.get(f"/account/data/{process_code}", headers=alice)
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert "process_code" in body["message"]
    assert_tracedata(body, "read_data", "alice", "acme")
    assert read_data_actions(db) == []


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "query",
    [{"data_flow_type": "MIDDLE"}, {"data_flow_type": "input"}, {"data_flow_stage": "JSON"}, {"data_flow_stage": "0"}],
)
def test_bad_flow_parameters_are_400(client, alice, with_files, query):
    response = client.get(f"/account/data/{with_files}", query_string=query, headers=alice)
    assert response.status_code == 400
    assert set(response.get_json()) == {"tracedata", "message"}


def test_without_a_token_is_401(client, with_files):
    response = client.get(f"/account/data/{with_files}")
    assert response.status_code == 401
    assert response.data != b"\x00input\xffbytes"
