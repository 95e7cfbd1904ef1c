"""Several hosts: two service instances (gunicorn, two workers each) behind PgBouncer in
transaction pooling mode in front of PostgreSQL, sharing Redis, behave as one service.
PostgreSQL only; PgBouncer is Debian's package (`make test` installs it when missing)."""

import json
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import normalize_database_url
from tests import servers
from tests.conftest import PASSWORD, process_record

pytestmark = pytest.mark.postgresql_only

SECRET = "instances-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
REDIS_URL = "redis://127.0.0.1:6379/15"
MAX_FAILURES = 4


@pytest.fixture(scope="module")
def bouncer(database_url, tmp_path_factory):
    with servers.pgbouncer(database_url, tmp_path_factory.mktemp("pgbouncer")) as url:
        yield url


@pytest.fixture(scope="module")
def instances(bouncer, tmp_path_factory):
    """Two instances on the PgBouncer URL, with one secret and one Redis. Each request
    names its client address in X-Forwarded-For (one trusted proxy), so the login counters
    in the shared Redis db 15 are the test's own."""
    settings = {
        "JWT_SECRET": SECRET,
        "BCRYPT_ROUNDS": "4",
        "REDIS_URL": REDIS_URL,
        "TRUSTED_PROXIES": "1",
        "LOGIN_MAX_FAILURES": str(MAX_FAILURES),
        "MAX_CONTENT_LENGTH": str(16 * 1024 * 1024),
    }
    with (
        servers.gunicorn(bouncer, tmp_path_factory.mktemp("instance_a"), POD_ID="pod-a", **settings) as a,
        servers.gunicorn(bouncer, tmp_path_factory.mktemp("instance_b"), POD_ID="pod-b", **settings) as b,
    ):
        yield a, b


@pytest.fixture
def address():
    """A client address of this test alone; its Redis counters are removed afterwards."""
    from redis import Redis

    value = f"2001:db8::{uuid.uuid4().hex[:4]}"
    yield value
    Redis.from_url(REDIS_URL).delete(f"account:login-failures:addr:{value}")


@pytest.fixture
def make_user(instances):
    a, _ = instances
    made = []

    def create(role="USER", company="acme"):
        name = f"inst_{uuid.uuid4().hex[:10]}"
        servers.cli(a, "create-user", name, "--company", company, "--role", role, "--password-stdin", stdin=PASSWORD)
        made.append(name)
        return name

    yield create
    from redis import Redis

    if made:
        Redis.from_url(REDIS_URL).delete(*(f"account:login-failures:user:{name}" for name in made))


def _request(server, method, path, body=None, token=None, address="2001:db8::1"):
    headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.host}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=servers.CALL_SECONDS) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _login(server, username, password=PASSWORD, address="2001:db8::1"):
    return _request(
        server, "POST", "/account/token/generation", {"username": username, "password": password}, address=address
    )


def _token(server, username, address="2001:db8::1"):
    status, body = _login(server, username, address=address)
    assert status == 200, body
    return body


def _direct(database_url, sql, **params):
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def test_login_throttling_is_shared_by_the_instances(instances, make_user, address):
    a, b = instances
    name = make_user()
    # Half the failures on each instance: neither alone has seen enough to lock.
    for server in (a, b, a, b):
        status, body = _login(server, name, "wrong_password_0", address=address)
        assert status == 401, body
    for server in (a, b):
        status, body = _login(server, name, address=address)
        assert status == 429, body
        assert body["message"]
    # A successful login on one instance, once unlocked, resets the count on both.
    servers.cli(a, "unlock", "--user", name)
    assert _login(b, name, address=address)[0] == 200
    for server in (a, b, a):
        assert _login(server, name, "wrong_password_0", address=address)[0] == 401
    assert _login(b, name, address=address)[0] == 200


def test_a_password_change_on_one_instance_revokes_the_token_on_the_other_at_once(instances, make_user):
    a, b = instances
    name = make_user()
    token = _token(a, name)
    assert _request(b, "POST", "/account/token/validation", token) == (200, {"valid": True, "roles": ["USER"]})
    assert _request(b, "GET", "/account/info", token=token)[0] == 200

    status, new_token = _request(
        a, "POST", "/account/password", {"current_password": PASSWORD, "new_password": "another_long_password"}, token
    )
    assert status == 200, new_token
    # At once, on the other instance (both workers of it, whatever they remembered).
    for _ in range(4):
        assert _request(b, "POST", "/account/token/validation", token) == (200, {"valid": False, "roles": []})
        assert _request(b, "GET", "/account/info", token=token)[0] == 401
        assert _request(b, "GET", "/account/info", token=new_token)[0] == 200
    assert _login(b, name)[0] == 401
    assert _login(b, name, "another_long_password")[0] == 200


def test_overlapping_producer_batches_through_both_instances_are_stored_once(instances, make_user, database_url):
    a, b = instances
    bot = make_user(role="BOT")
    owner = make_user()
    token = _token(a, bot)
    records = [
        process_record(username=owner, point_keys=[f"k{i}", f"k{i + 1}"], requests=2, time="2026-11-10T10:00:00+00:00")
        for i in range(300)
    ]
    # Three rounds; in each, A and B get batches that overlap by half, at the same time.
    batches = [(records[0:150], records[75:225]), (records[150:300], records[0:150]), (records, records)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for first, second in batches:
            futures = [
                pool.submit(_request, server, "POST", "/account/processes", {"processes": batch}, token)
                for server, batch in ((a, first), (b, second))
            ]
            results = [future.result() for future in futures]
            assert results == [(200, {"stored": len(first)}), (200, {"stored": len(second)})]

    counts = _direct(
        database_url,
        "select (select count(*) from processes where username = :u) as processes,"
        " (select count(*) from process_requests where username = :u) as requests,"
        " (select count(*) from process_points pp join processes p using (process_code) where p.username = :u)"
        " as points",
        u=owner,
    )
    assert counts == [{"processes": 300, "requests": 600, "points": 600}]
    # And what a user reads back through either instance agrees.
    owner_token = _token(b, owner)
    path = "/account/statistics?from=2026-11-10&to=2026-11-10"
    assert _request(a, "GET", path, token=owner_token) == _request(b, "GET", path, token=owner_token)


def test_the_instances_really_go_through_pgbouncer(instances, bouncer, make_user):
    a, b = instances
    name = make_user()
    for server in (a, b):
        assert _request(server, "GET", "/account/info", token=_token(server, name))[0] == 200
    url = make_url(bouncer)
    admin = psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname="pgbouncer")
    admin.autocommit = True  # the admin console has no transactions
    try:
        with admin.cursor() as cursor:
            cursor.execute("SHOW POOLS")
            columns = [column.name for column in cursor.description]
            pools = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            cursor.execute("SHOW CONFIG")
            config = {row[0]: row[1] for row in cursor.fetchall()}
    finally:
        admin.close()
    assert config["pool_mode"] == "transaction"
    ours = [pool for pool in pools if pool["database"] == url.database]
    assert ours and ours[0]["pool_mode"] == "transaction"
    # Both instances' workers hold client connections to PgBouncer.
    assert ours[0]["cl_active"] + ours[0]["cl_waiting"] >= 2


def test_concurrent_token_checks_through_both_instances_never_fail(instances, make_user):
    """Every authenticated request reads the user's token version. Behind a transaction
    pooler consecutive statements of one service connection land on different server
    connections, so nothing may rely on server-session state (a PREPAREd statement)."""
    a, b = instances
    names = [make_user() for _ in range(4)]
    tokens = {name: _token(a, name) for name in names}

    def session(index):
        server, name = (a, b)[index % 2], names[index % len(names)]
        answers = []
        for _ in range(40):
            answers.append(_request(server, "POST", "/account/token/validation", tokens[name]))
            answers.append(_request(server, "GET", "/account/info", token=tokens[name])[0])
        return answers

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(session, range(8)))
    for answers in results:
        assert answers == [(200, {"valid": True, "roles": ["USER"]}), 200] * 40
