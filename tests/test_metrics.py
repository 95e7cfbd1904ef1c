"""GET /metrics: what is counted, how it is served (METRICS), and prometheus_client's
multiprocess mode under a real gunicorn (directory cleared at start, a dead worker's
counters kept and its files removed)."""

import json
import os
import re
import signal
import time
import urllib.error
import urllib.request

import prometheus_client  # noqa: F401 (imported before any test sets PROMETHEUS_MULTIPROC_DIR)
import pytest
from flask.testing import FlaskClient
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from app import create_app
from app.config import ConfigError
from app.db.tables import quotas
from tests import servers
from tests.conftest import PASSWORD, process_record

METRICS_TOKEN = "metrics-token-0123456789abcdef"


class BufferedClient(FlaskClient):
    """Reads every response whole, as a server does: a request is counted once its body
    has been sent."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = BufferedClient
    return app.test_client()


def parse(exposition):
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def scrape(client, headers=None):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    return parse(response.get_data(as_text=True))


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_the_prometheus_text_format(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    families = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {
        "account_requests",
        "account_request_duration_seconds",
        "account_logins",
        "account_login_failures",
        "account_lockouts",
        "account_records_ingested",
        "account_reports_generated",
        "account_database_errors",
        "account_db_pool_in_use",
    } <= families


def test_requests_are_counted_by_operation_and_status_with_their_latency(client, auth):
    headers = auth()
    before = scrape(client)
    assert client.get("/account/info", headers=headers).status_code == 200
    assert client.get("/account/info", headers=headers).status_code == 200
    assert client.get("/account/info").status_code == 401
    assert client.get("/no/such/path").status_code == 404
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("account_requests_total", operation="read_info", status="200") == 2
    assert delta("account_requests_total", operation="read_info", status="401") == 1
    assert delta("account_requests_total", operation="unknown_operation", status="404") == 1
    assert delta("account_request_duration_seconds_count", operation="read_info") == 3
    assert delta("account_request_duration_seconds_bucket", operation="read_info", le="+Inf") == 3
    assert delta("account_request_duration_seconds_sum", operation="read_info") > 0


def test_logins_failures_and_lockouts(app, client, make_user, auth):
    app.config["LOGIN_MAX_FAILURES"] = 2
    make_user()
    before = scrape(client)
    good = {"username": "alice", "password": PASSWORD}
    bad = {"username": "alice", "password": "wrong_password_1"}
    assert client.post("/account/token/generation", json=good).status_code == 200
    assert client.post("/account/token/generation", json=bad).status_code == 401
    assert client.post("/account/token/generation", json=bad).status_code == 401
    assert client.post("/account/token/generation", json=good).status_code == 429
    headers = auth("bob")  # a second login
    change = {"current_password": "wrong_password_1", "new_password": "new_password_123"}
    assert client.post("/account/password", json=change, headers=headers).status_code == 403
    after = scrape(client)
    assert value(after, "account_logins_total") - value(before, "account_logins_total") == 2
    assert value(after, "account_login_failures_total") - value(before, "account_login_failures_total") == 3
    assert value(after, "account_lockouts_total") - value(before, "account_lockouts_total") == 1


def test_records_ingested_and_reports_generated(client, ingest, auth):
    headers = auth()
    before = scrape(client)
    ingest(process_record(), process_record())
    ingest(process_record())
    assert client.get("/account/report?from=2026-11-01&to=2026-11-10", headers=headers).status_code == 200
    assert client.get("/v6/account/report?from=2026-11-01&to=2026-11-10", headers=headers).status_code == 200
    after = scrape(client)
    assert value(after, "account_records_ingested_total") - value(before, "account_records_ingested_total") == 3
    assert value(after, "account_reports_generated_total") - value(before, "account_reports_generated_total") == 2


def test_a_database_error_is_counted_once(app, client, auth):
    headers = auth()
    before = scrape(client)
    with app.extensions["account_db"].begin() as conn:
        conn.execute(text("DROP TABLE quotas"))
    try:
        assert client.get("/account/quota", headers=headers).status_code == 500
    finally:
        quotas.create(app.extensions["account_db"])
    after = scrape(client)
    assert value(after, "account_database_errors_total") - value(before, "account_database_errors_total") == 1


def test_a_database_that_cannot_be_reached_is_counted(app, client, auth):
    headers = auth()
    before = scrape(client)
    # An engine without the app's listeners: the failed request is counted by the error handler.
    app.extensions["account_db"] = create_engine(
        "postgresql+psycopg2://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 1}
    )
    assert client.get("/account/info", headers=headers).status_code == 500
    after = scrape(client)
    assert value(after, "account_database_errors_total") - value(before, "account_database_errors_total") == 1


def test_connections_in_use(app, client):
    before = value(scrape(client), "account_db_pool_in_use")
    with app.extensions["account_db"].connect(), app.extensions["account_db"].connect():
        assert value(scrape(client), "account_db_pool_in_use") == before + 2
    assert value(scrape(client), "account_db_pool_in_use") == before


@pytest.fixture
def build_app(app_config, tmp_path, monkeypatch):
    """build_app(**settings): an app of its own, for the tests of a setting."""
    for name in list(os.environ):
        if name.startswith("ACCOUNT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACCOUNT_INSTANCE_PATH", str(tmp_path / "instance"))
    built = []

    def build(**settings):
        built.append(create_app({**app_config, **settings}))
        built[-1].test_client_class = BufferedClient
        return built[-1]

    yield build
    for app in built:
        app.extensions["account_db"].dispose()


def test_metrics_behind_a_token(build_app):
    client = build_app(METRICS="token", METRICS_TOKEN=METRICS_TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": METRICS_TOKEN}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        body = response.get_json()
        assert set(body) == {"tracedata", "message"} and body["tracedata"]["operation"] == "metrics"
    assert "account_requests_total" in client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text


def test_metrics_off(build_app):
    response = build_app(METRICS="off").test_client().get("/metrics")
    assert response.status_code == 404
    assert set(response.get_json()) == {"resource_key", "detail"}


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"METRICS": "private"}, "METRICS must be one of"),
        ({"METRICS": "token"}, "METRICS_TOKEN of at least 16"),
        ({"METRICS": "token", "METRICS_TOKEN": "short"}, "METRICS_TOKEN of at least 16"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of"),
        ({"SHUTDOWN_DELAY": -1}, "SHUTDOWN_DELAY"),
    ],
)
def test_bad_settings_stop_the_start(build_app, settings, message):
    with pytest.raises(ConfigError, match=message):
        build_app(**settings)


def _get(server, path, headers=None, body=None):
    request = urllib.request.Request(f"{server.host}{path}", data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=servers.CALL_SECONDS) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _login(server, password):
    body = json.dumps({"username": "alice", "password": password}).encode()
    return _get(server, "/account/token/generation", {"Content-Type": "application/json"}, body)[0]


def _workers(pid):
    return set(map(int, open(f"/proc/{pid}/task/{pid}/children").read().split()))


def test_gunicorn_workers_add_up_and_a_dead_workers_counts_stay(database_url, tmp_path, monkeypatch, make_user):
    directory = tmp_path / "metrics"
    directory.mkdir()
    stale = MmapedDict(str(directory / "counter_999999.db"))  # left by an earlier run
    stale.write_value(mmap_key("account_logins", "account_logins_total", [], [], "x"), 1000.0, 0.0)
    stale.close()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    make_user()
    with servers.gunicorn(database_url, tmp_path, BCRYPT_ROUNDS="4") as server:
        statuses = [_login(server, PASSWORD) for _ in range(6)] + [_login(server, "wrong_password_1")]
        assert statuses == [200] * 6 + [401]
        status, body = _get(server, "/metrics")
        assert status == 200
        first = parse(body.decode())
        assert value(first, "account_logins_total") == 6  # not 1006: the directory was cleared
        assert value(first, "account_login_failures_total") == 1
        assert value(first, "account_requests_total", operation="run_token_generation", status="200") == 6
        assert not (directory / "counter_999999.db").exists()

        workers = _workers(server.process.pid)
        assert len(workers) == 2
        dead = min(workers)
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            dead in _workers(server.process.pid) or len(_workers(server.process.pid)) < 2
        ):
            time.sleep(0.1)
        assert dead not in _workers(server.process.pid)
        while time.monotonic() < deadline and (directory / f"counter_{dead}.db").exists():
            time.sleep(0.1)

        files = set(os.listdir(directory))
        assert not {name for name in files if name.endswith(f"_{dead}.db")}
        assert "counter_archive.db" in files
        second = parse(_get(server, "/metrics")[1].decode())
        assert value(second, "account_logins_total") == 6
        assert value(second, "account_login_failures_total") == 1
        assert value(second, "account_requests_total", operation="run_token_generation", status="200") == 6
        assert value(second, "account_request_duration_seconds_count", operation="run_token_generation") == 7
        assert value(second, "account_db_pool_in_use") == 0
    assert directory.exists()  # the operator's directory is left in place
    # LOG_FORMAT=text: gunicorn's access line, with the request's code at its end.
    logins = [line for line in (tmp_path / "gunicorn.out").read_text().splitlines() if "/token/generation" in line]
    assert len(logins) == 7
    access_line = re.compile(r'"POST /account/token/generation HTTP/1.1" (200|401) .* [0-9a-f-]{36}$')
    assert all(access_line.search(line) for line in logins)


def test_metrics_on_a_port_of_their_own(database_url, tmp_path, make_user):
    """METRICS=port: gunicorn's master serves them on METRICS_HOST:METRICS_PORT, summed over
    the workers; the service's own port has no /metrics."""
    import socket

    with socket.socket() as probe:  # a free port for the listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    make_user()
    with servers.gunicorn(database_url, tmp_path, BCRYPT_ROUNDS="4", METRICS="port", METRICS_PORT=str(port)) as server:
        assert [_login(server, PASSWORD) for _ in range(3)] == [200] * 3
        status, body = _get(server, "/metrics")
        assert status == 404 and set(json.loads(body)) == {"resource_key", "detail"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            scraped = parse(response.read().decode())
        assert value(scraped, "account_logins_total") == 3
        assert value(scraped, "account_requests_total", operation="run_token_generation", status="200") == 3
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=30)
        assert missing.value.code == 404
    with pytest.raises(OSError):  # the listener goes with the server
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)


@pytest.mark.parametrize("port", ["0", "70000"])
def test_metrics_port_mode_needs_a_port(app_config, port):
    with pytest.raises(ConfigError, match="METRICS_PORT"):
        create_app({**app_config, "METRICS": "port", "METRICS_PORT": int(port)})
