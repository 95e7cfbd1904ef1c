"""Fixtures: the app on each database, a client, a CLI runner and small factories.

The suite runs on SQLite always, and on PostgreSQL when CI=true (the CI server at
postgresql://postgres@127.0.0.1:5432/test; unreachable is a failure, not a skip) or when
ACCOUNT_TEST_DATABASE_URL names a PostgreSQL database.

One app per backend per session: create_app builds two OpenAPI documents (7.9 and 6.20)
and was a third of the suite's time when each test built its own. After each test the
`app` fixture puts back what a test may change: every table emptied (children first), the
app's config, extensions and attributes, the module-level Api objects (smorest keeps the
last app's document in them), the log formatter, the token cache and the connection
pool. A test that needs other settings overrides `app_config` and gets an app of its own
(kept for the session while it uses the session's database), or calls create_app itself.

Markers that choose the backends of a test (its other variants are deselected, not
skipped, so no skip stands in for a test):
- postgresql_only: PostgreSQL alone (none when the run has no PostgreSQL).
- validation_only: input refused before any query of its feature, so the backend cannot
  change the answer: SQLite alone.
- one_backend: heavy, run once (the fuzzing; the API docs in Chromium, which no database
  changes): on PostgreSQL when the run has it (the stricter database), SQLite otherwise.
"""

import os
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, delete, text
from sqlalchemy.engine import make_url

from app import create_app, security
from app import logs as logs_module
from app.config import normalize_database_url
from app.db import quotas as quota_queries
from app.db import transaction
from app.db import users as user_queries
from app.db.tables import metadata
from app.migrate import upgrade
from app.security import hash_password

CI_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
TEST_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "long_strong_password"


def postgres_url():
    url = os.environ.get("ACCOUNT_TEST_DATABASE_URL")
    if not url and os.environ.get("CI", "").lower() == "true":
        url = CI_DATABASE_URL
    return url


BACKENDS = ["sqlite"] + (["postgresql"] if postgres_url() else [])


@contextmanager
def _private_postgres_database(url):
    """A fresh database beside the given one, dropped at the end: concurrent runs on one
    server (developers, CI) never see each other's tables."""
    base = make_url(normalize_database_url(url))
    name = f"{base.database}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a CI run must fail loudly when its database is missing
        admin.dispose()
        pytest.fail(f"PostgreSQL test server at {url} is unreachable: {exc}", pytrace=False)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _backend_kept(item, on):
    """Whether the variant of item on backend `on` (None: not parametrized) runs."""
    if on is None:
        return True
    if item.get_closest_marker("postgresql_only"):
        return on == "postgresql"
    if item.get_closest_marker("validation_only"):
        return on == "sqlite"
    if item.get_closest_marker("one_backend"):
        return on == BACKENDS[-1]
    return True


def pytest_collection_modifyitems(config, items):
    """Keep only the variants the markers above ask for; the others are deselected."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on = callspec.params.get("database_url") if callspec is not None else None
        (kept if _backend_kept(item, on) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'account.db'}"
        upgrade(url)
        yield url
        return
    with _private_postgres_database(postgres_url()) as url:
        upgrade(url)
        yield url


@pytest.fixture
def backend(database_url):
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def app_config(database_url):
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "BCRYPT_ROUNDS": 4,
        "ENV_ID": "test_env",
        "POD_ID": "test_pod",
    }


class _Saved:
    """What a test may change of an app and of the modules create_app wrote to, taken once
    the app is built; restore() puts it back, activate() makes the app the one the
    module-level Api objects and the log formatter serve."""

    def __init__(self, app):
        self.app = app
        self.attributes = dict(vars(app))
        self.config = dict(app.config)
        self.extensions = dict(app.extensions)
        self.apis = [(entry["ext_obj"], dict(vars(entry["ext_obj"]))) for entry in _smorest_apis(app)]
        self.formatter = logs_module._handler.formatter

    def activate(self):
        for api, attributes in self.apis:
            vars(api).update(attributes)
        logs_module._handler.setFormatter(self.formatter)

    def restore(self):
        app = self.app
        for name in set(vars(app)) - set(self.attributes):
            delattr(app, name)
        vars(app).update(self.attributes)
        app.config.clear()
        app.config.update(self.config)
        for name, value in list(app.extensions.items()):
            if self.extensions.get(name) is not value:
                _dispose(value)
                del app.extensions[name]
        app.extensions.update(self.extensions)
        _clear_token_cache()
        engine = self.extensions["account_db"]
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))
        # No pooled connection outlives its test: on SQLite (WAL) one left holding a read
        # snapshot by threads of the test would see the schema of before a later test's
        # ALTER TABLE (tests/test_faults.py then tests/test_health.py showed it).
        engine.dispose()
        self.activate()


def _clear_token_cache():
    """app.security keeps verified tokens per process: a test starts with none."""
    security._verified.clear()


def _smorest_apis(app):
    return app.extensions["flask-smorest"]["apis"].values()


def _dispose(value):
    if isinstance(value, Engine):
        value.dispose()


def _clean_environment(monkeypatch, instance):
    for name in list(os.environ):
        if name.startswith("ACCOUNT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACCOUNT_INSTANCE_PATH", str(instance))


@pytest.fixture(scope="session")
def _apps(database_url):
    """The session's apps on one backend, by settings: {settings key: _Saved}."""
    built = {}
    yield built
    for saved in built.values():
        saved.extensions["account_db"].dispose()


def _settings_key(config):
    return tuple(sorted((name, repr(value)) for name, value in config.items()))


@pytest.fixture
def app(app_config, database_url, _apps, tmp_path, tmp_path_factory, monkeypatch):
    _clean_environment(monkeypatch, tmp_path / "instance")
    if app_config.get("DATABASE_URL") != database_url:  # a server of the test's own: an app of its own
        app = create_app(app_config)
        saved = _Saved(app)
        try:
            yield app
        finally:
            saved.restore()
            app.extensions["account_db"].dispose()
        return
    key = _settings_key(app_config)
    saved = _apps.get(key)
    if saved is None:
        with pytest.MonkeyPatch.context() as session_env:
            _clean_environment(session_env, tmp_path_factory.mktemp("instance"))
            saved = _apps[key] = _Saved(create_app(app_config))
    saved.activate()
    try:
        yield saved.app
    finally:
        saved.restore()


@pytest.fixture
def client(app):
    """The app's test client. Its answers are closed when the test ends, the last first: a
    streamed answer left unread holds its request context, and the garbage collector
    closing it during a later test would pop that context off the later request's."""
    test_client = app.test_client()
    opened = []
    open_request = test_client.open

    def open_and_keep(*args, **kwargs):
        response = open_request(*args, **kwargs)
        opened.append(response)
        return response

    test_client.open = open_and_keep
    yield test_client
    for response in reversed(opened):
        response.close()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """Read what the database holds: db(sql, **params) -> list of row mappings."""

    def query(sql, **params):
        with app.extensions["account_db"].connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql), params)]

    return query


@pytest.fixture
def make_user(app):
    def factory(username="alice", company="acme", password=PASSWORD, roles=("USER",), timezone=0, enabled=True):
        with app.app_context(), transaction() as conn:
            user = user_queries.create_user(
                conn, username, company, hash_password(password, app.config["BCRYPT_ROUNDS"]), roles, timezone
            )
        if not enabled:
            with app.app_context(), transaction() as conn:
                user_queries.set_enabled(conn, username, False)
        return user

    return factory


@pytest.fixture
def login(client):
    """login(username, password) -> the token string (without its JSON quotes)."""

    def do_login(username="alice", password=PASSWORD, **extra):
        response = client.post("/account/token/generation", json={"username": username, "password": password, **extra})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return do_login


@pytest.fixture
def auth(make_user, login):
    """A user and the Authorization header of a fresh token of theirs."""

    def factory(username="alice", **kwargs):
        make_user(username=username, **kwargs)
        return {"Authorization": f"Bearer {login(username)}"}

    return factory


def assert_tracedata(body, operation, username="anonymous", company="anonymous"):
    tracedata = body["detail"]["tracedata"] if "detail" in body else body["tracedata"]
    assert tracedata["service"] == "ACCOUNT"
    assert tracedata["operation"] == operation
    assert tracedata["username"] == username
    assert tracedata["company"] == company
    assert tracedata["env"] == "test_env"
    assert tracedata["pod"] == "test_pod"
    assert len(tracedata["request_code"]) == 36
    assert tracedata["time"].endswith("+00:00")
    return tracedata


def drop_idle_connections(app, backend):
    """What a server restart does to the pool: every idle connection is gone (PostgreSQL:
    terminated by the server; SQLite: the pool disposed)."""
    if backend != "postgresql":
        app.extensions["account_db"].dispose()
        return
    killer = create_engine(app.config["DATABASE_URL"])
    try:
        with killer.begin() as conn:
            killed = conn.execute(
                text(
                    "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                    "where datname = current_database() and pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        killer.dispose()
    assert killed >= 1


class FixedClock:
    """The service's clock, set by the test: clock.now = datetime(..., tzinfo=UTC)."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app):
    fixed = FixedClock(datetime(2026, 11, 15, 12, 0, tzinfo=UTC))
    app.config["CLOCK"] = fixed
    return fixed


def process_record(
    username="alice",
    company="acme",
    service="UNIVERSAL",
    process_type="PLAN",
    time="2026-11-10T10:00:00+00:00",
    points=10,
    elements=5,
    status="FINISHED_IN_TIME",
    point_keys=(),
    operation="run_plan_calculation",
    process_code=None,
    requests=1,
):
    """A valid producer record (AuditAction fields plus point_keys)."""
    code = process_code or str(uuid.uuid4())
    return {
        "process_code": code,
        "process_type": process_type,
        "username": username,
        "company": company,
        "service": service,
        "time": time,
        "requests": [
            {
                "process_code": code,
                "request_code": str(uuid.uuid4()),
                "username": username,
                "company": company,
                "service": service,
                "operation": operation,
                "env": "edge7",
                "pod": "pod-1",
                "time": time,
            }
            for _ in range(requests)
        ],
        "statistics": {
            "request_points_count": points,
            "result_elements_count": elements,
            "calculation_info": {
                "status": status,
                "result_version": 1,
                "preparing_time": "PT1S",
                "business_validation_time": "PT2S",
                "math_validation_time": "PT3S",
                "waiting_time": "PT4S",
                "calculation_time": "PT1H45M",
            },
        },
        "point_keys": list(point_keys),
    }


@pytest.fixture
def quota(app):
    """quota(username, per_request, per_day, concurrent, service=..., process_type=...)."""

    def set_quota(username, per_request, per_day, concurrent, service="UNIVERSAL", process_type="PLAN"):
        with app.app_context(), transaction() as conn:
            user_id = conn.execute(text("select id from users where username = :u"), {"u": username}).scalar_one()
            quota_queries.set_quota(
                conn,
                user_id,
                service,
                process_type,
                points_per_request=per_request,
                points_per_day=per_day,
                max_concurrent_execution=concurrent,
            )

    return set_quota


@pytest.fixture
def producer(make_user, login):
    """Headers of a BOT of company acme (created on first use)."""
    made = {}

    def headers(username="producer_bot", company="acme", roles=("BOT",)):
        if username not in made:
            make_user(username=username, company=company, roles=roles)
            made[username] = {"Authorization": f"Bearer {login(username)}"}
        return made[username]

    return headers


@pytest.fixture
def ingest(client, producer):
    """ingest(record, ...) posts the records through the producer API and asserts success."""

    def post(*records, headers=None):
        response = client.post("/account/processes", json={"processes": list(records)}, headers=headers or producer())
        assert response.status_code == 200, response.get_json()
        return response

    return post
