"""Log lines (LOG_FORMAT) and X-Request-Id: one line per request, errors with their
traceback in one field, gunicorn's own lines in the same format, and never a password,
token or hash."""

import json
import logging
import re
import urllib.error
import urllib.request
import uuid

import pytest
from sqlalchemy import text

from app.db.tables import quotas
from tests import servers
from tests.conftest import PASSWORD
from tests.test_metrics import BufferedClient

REQUEST_FIELDS = {"request_code", "method", "path", "operation", "username", "status", "duration_ms", "bytes"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "LOG_FORMAT": "json"}


@pytest.fixture
def client(app):
    app.test_client_class = BufferedClient
    return app.test_client()


def json_lines(output):
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def request_lines(output):
    return [line for line in json_lines(output) if line["logger"] == "account.request"]


def test_one_json_line_per_request(client, auth, capsys):
    headers = auth()
    capsys.readouterr()
    code = str(uuid.uuid4())
    response = client.get("/account/info?secret=in-the-query", headers={**headers, "X-Request-Id": code.upper()})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == code
    [line] = request_lines(capsys.readouterr().err)
    assert set(line) == {"time", "level", "logger", "message"} | REQUEST_FIELDS
    assert line["time"].endswith("+00:00") and line["level"] == "info"
    assert line["message"] == "GET /account/info 200"
    assert {key: line[key] for key in REQUEST_FIELDS - {"duration_ms"}} == {
        "request_code": code,
        "method": "GET",
        "path": "/account/info",
        "operation": "read_info",
        "username": "alice",
        "status": 200,
        "bytes": len(response.data),
    }
    assert 0 < line["duration_ms"] < 60_000


def test_anonymous_requests_and_their_request_code(client, capsys):
    response = client.get("/account/quota")
    assert response.status_code == 401
    code = response.get_json()["tracedata"]["request_code"]
    assert response.headers["X-Request-Id"] == code
    [line] = request_lines(capsys.readouterr().err)
    assert (line["request_code"], line["username"], line["operation"], line["status"]) == (
        code,
        "anonymous",
        "read_quota",
        401,
    )


@pytest.mark.parametrize(
    "incoming,used",
    [
        ("0b7a4f7e-3c1d-4a55-9c59-6f1d2e0f9a10", True),
        ("0B7A4F7E-3C1D-4A55-9C59-6F1D2E0F9A10", True),  # the same UUID, lower-cased
        ("0b7a4f7e3c1d4a559c596f1d2e0f9a10", False),  # not the 8-4-4-4-12 form
        ("{0b7a4f7e-3c1d-4a55-9c59-6f1d2e0f9a10}", False),
        ("not-a-uuid", False),
        ("0b7a4f7e-3c1d-4a55-9c59-6f1d2e0f9a10 x", False),
        ("", False),
    ],
)
def test_an_incoming_uuid_is_the_request_code(client, incoming, used):
    for path, body_code in (
        ("/account/quota", lambda body: body["tracedata"]["request_code"]),
        ("/no/such/path", lambda body: body["detail"]["tracedata"]["request_code"]),
        ("/v6/account/quota", lambda body: body["tracedata"]["code"]),
    ):
        response = client.get(path, headers={"X-Request-Id": incoming})
        code = response.headers["X-Request-Id"]
        assert body_code(response.get_json()) == code
        assert uuid.UUID(code) and len(code) == 36
        assert (code == incoming.lower()) is used


def test_every_response_carries_its_request_code(client, auth):
    headers = auth()
    for response in (
        client.get("/account/system/check"),
        client.get("/account/info", headers=headers),
        client.get("/account/report?from=2026-11-01&to=2026-11-02", headers=headers),
        client.get("/account/openapi/openapi.json"),
        client.get("/livez"),
        client.get("/metrics"),
    ):
        assert response.status_code == 200
        assert uuid.UUID(response.headers["X-Request-Id"])


def test_an_error_is_one_json_line_with_its_traceback(app, client, auth, capsys):
    headers = auth()
    with app.extensions["account_db"].begin() as conn:
        conn.execute(text("DROP TABLE quotas"))
    try:
        capsys.readouterr()
        response = client.get("/account/quota", headers=headers)
    finally:
        quotas.create(app.extensions["account_db"])
    assert response.status_code == 500
    code = response.get_json()["tracedata"]["request_code"]
    lines = json_lines(capsys.readouterr().err)  # every line is JSON, the traceback included
    [error] = [line for line in lines if line["level"] == "error"]
    assert error["request_code"] == code and error["logger"] == "app"
    assert error["traceback"].startswith("Traceback (most recent call last)") and "\n" in error["traceback"]
    [request_line] = [line for line in lines if line["logger"] == "account.request"]
    assert (request_line["request_code"], request_line["status"], request_line["level"]) == (code, 500, "warning")


def test_text_format(build_text_app, capsys):
    client = build_text_app.test_client()
    response = client.get("/account/system/version", buffered=True)
    code = response.headers["X-Request-Id"]
    [line] = [line for line in capsys.readouterr().err.splitlines() if "account.request" in line]
    assert re.search(r" INFO account\.request GET /account/system/version 200 ", line)
    assert f"request_code={code} " in line and " operation=version " in line and " username=anonymous " in line


@pytest.fixture
def build_text_app(app_config, tmp_path, monkeypatch):
    from app import create_app

    monkeypatch.setenv("ACCOUNT_INSTANCE_PATH", str(tmp_path / "text-instance"))
    app = create_app({**app_config, "LOG_FORMAT": "text"})
    yield app
    app.extensions["account_db"].dispose()


def _call(server, method, path, body=None, headers=None):
    request = urllib.request.Request(f"{server.host}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=servers.CALL_SECONDS) as response:
            return response.status, response.headers["X-Request-Id"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["X-Request-Id"], exc.read()


def _json(value):
    return json.dumps(value).encode(), {"Content-Type": "application/json"}


def test_gunicorn_json_logs_have_one_line_per_request_and_no_secret(database_url, tmp_path, make_user, db):
    make_user()
    new_password = "brand_new_password_42"
    calls = []
    with servers.gunicorn(database_url, tmp_path, LOG_FORMAT="json", BCRYPT_ROUNDS="4") as server:

        def call(method, path, value=None, token=None, headers=None):
            body, sent = _json(value) if value is not None else (None, {})
            if token:
                sent["Authorization"] = f"Bearer {token}"
            calls.append(_call(server, method, path, body, {**sent, **(headers or {})}))
            return calls[-1]

        status, _, body = call("POST", "/account/token/generation", {"username": "alice", "password": PASSWORD})
        assert status == 200
        token = json.loads(body)
        assert (
            call("POST", "/account/token/generation", {"username": "alice", "password": "wrong_" + PASSWORD})[0] == 401
        )
        assert json.loads(call("POST", "/account/token/validation", token)[2]) == {"valid": True, "roles": ["USER"]}
        assert call("GET", f"/account/info?access_token={token}")[0] == 401
        change = {"current_password": PASSWORD, "new_password": new_password}
        status, _, body = call("POST", "/account/password", change, token=token)
        assert status == 200
        new_token = json.loads(body)
        assert call("GET", "/account/info", token=token)[0] == 401
        assert call("GET", "/account/info", token=new_token)[0] == 200
        assert call("POST", "/v6/account/token/validation", new_token)[0] == 200
        password_hash = db("SELECT password_hash FROM users WHERE username = 'alice'")[0]["password_hash"]
    output = (tmp_path / "gunicorn.out").read_text() + (tmp_path / "gunicorn.err").read_text()

    secrets = [PASSWORD, new_password, token, new_token, password_hash, "$2b$"]
    secrets += [part for jwt in (token, new_token) for part in jwt.split(".")[1:]]  # claims and signature
    for secret in secrets:
        assert secret not in output

    lines = json_lines(output)  # every line of gunicorn's and the app's is JSON
    assert any(line["logger"] == "gunicorn.error" and line["message"].startswith("Booting worker") for line in lines)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    checks = [line for line in access if line["path"] == "/account/system/check"]  # the server's start-up wait
    assert len(access) == len(calls) + len(checks)  # one line a request
    by_code = {line["request_code"]: line for line in access}
    ours = [by_code[code] for _, code, _ in calls]  # workers write in their own order: matched by code
    for (status, _, body), line in zip(calls, ours, strict=True):
        assert (line["status"], line["bytes"]) == (status, len(body))
        assert set(line) == {"time", "level", "logger", "message"} | REQUEST_FIELDS
        assert "?" not in line["path"]
    assert [(line["operation"], line["username"]) for line in ours] == [
        ("run_token_generation", "alice"),
        ("run_token_generation", "anonymous"),
        ("run_token_validation", "anonymous"),
        ("read_info", "anonymous"),
        ("change_password", "alice"),
        ("read_info", "anonymous"),
        ("read_info", "alice"),
        ("run_token_validation", "anonymous"),
    ]


def test_the_development_servers_request_line_is_left_out(app, caplog):
    """`flask run` logs each request with its query string: the service's line replaces it."""
    caplog.set_level(logging.INFO, logger="werkzeug")
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.info('127.0.0.1 - - [27/Nov/2026 12:00:00] "%s" %s %s', "GET /account/info?token=abc HTTP/1.1", "401", "-")
    werkzeug.info(" * Running on http://127.0.0.1:5000")
    assert [record.getMessage() for record in caplog.records] == [" * Running on http://127.0.0.1:5000"]
