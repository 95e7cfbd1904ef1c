"""Probes (/livez, /readyz), the health of /account/system/check, and the graceful
shutdown of a real gunicorn on SIGTERM."""

import http.client
import json
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from app import health
from app.config import normalize_database_url
from tests import servers
from tests.conftest import process_record

UNREACHABLE = "postgresql+psycopg2://nobody@127.0.0.1:9/none"


@contextmanager
def altered(app, change, undo):
    """The schema changed by one statement, and restored whatever happens."""
    engine = app.extensions["account_db"]
    with engine.begin() as conn:
        conn.execute(text(change))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(undo))


def assert_not_ready(response, reason):
    assert response.status_code == 503
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert body["message"] == f"Not ready: {reason}"
    assert body["tracedata"]["operation"] == "readyz"
    assert response.headers["Retry-After"] == "1"


def test_ready(client):
    assert client.get("/livez").get_json() == {"status": "alive"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}


def test_unreachable_database(app, client):
    app.extensions["account_db"] = create_engine(UNREACHABLE, connect_args={"connect_timeout": 1})
    assert client.get("/livez").status_code == 200  # no dependency
    assert_not_ready(client.get("/readyz"), "the database is unreachable")
    assert client.get("/account/system/check").get_json() == {"health": 0.0}


def test_schema_behind_the_latest_migration(app, client):
    [head] = health.schema_heads()
    with altered(
        app,
        "UPDATE alembic_version SET version_num = '0004_quota_date_window'",
        f"UPDATE alembic_version SET version_num = '{head}'",
    ):
        reason = "the schema is not at the latest migration (run: flask --app wsgi account migrate)"
        assert_not_ready(client.get("/readyz"), reason)
        assert client.get("/account/system/check").get_json() == {"health": 0.0}
    assert client.get("/readyz").status_code == 200


def test_schema_not_created(app, client):
    with altered(
        app,
        "ALTER TABLE alembic_version RENAME TO alembic_version_gone",
        "ALTER TABLE alembic_version_gone RENAME TO alembic_version",
    ):
        assert_not_ready(client.get("/readyz"), "the schema is not created (run: flask --app wsgi account migrate)")
        assert client.get("/account/system/check").get_json() == {"health": 0.0}


@pytest.mark.parametrize(
    "change,undo",
    [
        ("ALTER TABLE quotas RENAME TO quotas_gone", "ALTER TABLE quotas_gone RENAME TO quotas"),
        ("ALTER TABLE users RENAME COLUMN phone TO phone_gone", "ALTER TABLE users RENAME COLUMN phone_gone TO phone"),
    ],
)
def test_a_table_missing_or_changed(app, client, change, undo):
    with altered(app, change, undo):
        assert_not_ready(client.get("/readyz"), "a table is missing or differs from the service's")
        assert client.get("/account/system/check").get_json() == {"health": 0.0}
    assert client.get("/readyz").status_code == 200
    assert client.get("/account/system/check").get_json() == {"health": 1.0}


@pytest.mark.postgresql_only
def test_a_database_that_does_not_answer_within_a_second(app, client, database_url):
    locker = create_engine(normalize_database_url(database_url))
    try:
        with locker.begin() as conn:
            conn.execute(text("LOCK TABLE quotas IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            response = client.get("/readyz")
            elapsed = time.monotonic() - started
            assert_not_ready(response, "the database did not answer within 1 s")
            # It waited for the deadline and not for the lock (held until the end of the
            # test); the upper bound is loose: the machine is shared.
            assert 1.0 <= elapsed < 10
            started = time.monotonic()
            assert client.get("/account/system/check").get_json() == {"health": 0.0}
            assert time.monotonic() - started < 10
    finally:
        locker.dispose()
    # Ready again once the lock is gone: the check that was waiting on it may still be
    # finishing (probes share a running check), so the next ones get a fresh answer.
    deadline = time.monotonic() + 10
    while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.get("/readyz").status_code == 200


def test_draining(client):
    health.DRAINING.set()
    try:
        assert_not_ready(client.get("/readyz"), "shutting down")
        assert client.get("/livez").status_code == 200
    finally:
        health.DRAINING.clear()
    assert client.get("/readyz").status_code == 200


def _request(server, path, method="GET", body=None, headers=None):
    request = urllib.request.Request(f"{server.host}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_sigterm_drains_then_stops_with_in_flight_requests_finished(database_url, tmp_path, make_user, db):
    make_user(username="bot", roles=("BOT",))
    make_user()
    delay = 2
    with servers.gunicorn(database_url, tmp_path, SHUTDOWN_DELAY=str(delay), LOG_FORMAT="json") as server:
        login = json.dumps({"username": "bot", "password": "long_strong_password"}).encode()
        status, token = _request(
            server, "/account/token/generation", "POST", login, {"Content-Type": "application/json"}
        )
        assert status == 200
        auth = {"Authorization": f"Bearer {token}"}
        record = process_record()
        batch = json.dumps({"processes": [record]}).encode()
        assert (
            _request(server, "/account/processes", "POST", batch, {**auth, "Content-Type": "application/json"})[0]
            == 200
        )
        assert _request(server, "/readyz") == (200, {"status": "ready"})

        # An upload in flight: the headers and half of the body now, the rest after the drain.
        payload = uuid.uuid4().hex.encode() * 64
        host = urllib.parse.urlsplit(server.host)
        upload = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        upload.putrequest("PUT", f"/account/data/{record['process_code']}?data_flow_type=INPUT&data_flow_stage=RAW")
        for name, value in {**auth, "Content-Type": "application/octet-stream", "Content-Length": len(payload)}.items():
            upload.putheader(name, str(value))
        upload.endheaders()
        upload.send(payload[: len(payload) // 2])
        time.sleep(0.5)  # a worker has taken it and waits for the rest of the body

        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        readiness = []
        while time.monotonic() - signalled < delay - 0.5:
            readiness.append(_request(server, "/readyz"))  # answered by the other worker
            if readiness[-1][0] == 503:
                break
            time.sleep(0.05)
        assert readiness[-1][0] == 503 and readiness[-1][1]["message"] == "Not ready: shutting down"
        assert server.process.poll() is None

        time.sleep(delay + 0.5 - (time.monotonic() - signalled))  # past the delay: no more accepting
        upload.send(payload[len(payload) // 2 :])
        response = upload.getresponse()
        assert response.status == 204
        upload.close()
        assert server.process.wait(timeout=30) == 0
        assert delay <= time.monotonic() - signalled < 30
        stored = db(  # before the helper empties the tables
            "SELECT data FROM process_file_chunks WHERE process_code = :code AND flow_type = 'INPUT' ORDER BY seq",
            code=record["process_code"],
        )
    assert b"".join(bytes(row["data"]) for row in stored) == payload
    lines = [json.loads(line) for line in (tmp_path / "gunicorn.err").read_text().splitlines()]
    assert any(line["message"].startswith("SIGTERM: /readyz answers 503") for line in lines)
    access = [json.loads(line) for line in (tmp_path / "gunicorn.out").read_text().splitlines()]
    assert [(line["operation"], line["status"]) for line in access if line["method"] == "PUT"] == [("write_data", 204)]
