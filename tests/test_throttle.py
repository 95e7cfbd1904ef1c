"""The login lockout under real concurrency: many simultaneous attempts against gunicorn
(two worker processes, several threads each), with the database counters and with Redis,
on each database. However many arrive at once, at most LOGIN_MAX_FAILURES passwords are
checked per window and username, and LOGIN_MAX_FAILURES_PER_ADDRESS per address; every
other attempt is the documented 429."""

import json
import random
import threading
import urllib.error
import urllib.request
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text

from app.config import normalize_database_url
from tests import servers
from tests.conftest import PASSWORD, TEST_SECRET

ATTEMPTS = 40
LIMIT = 5
REDIS_URL = "redis://127.0.0.1:6379/15"
WRONG = "wrong_password_9"


@pytest.fixture(params=["database", "redis"])
def server(request, database_url, tmp_path, monkeypatch):
    # Two workers as `make run` has, each with threads: more attempts in flight at once.
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--threads 4")
    settings = {
        "JWT_SECRET": TEST_SECRET,
        "BCRYPT_ROUNDS": "8",
        "LOGIN_MAX_FAILURES": str(LIMIT),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": str(LIMIT),
        "TRUSTED_PROXIES": "1",  # each test's own addresses, in X-Forwarded-For
    }
    if request.param == "redis":
        settings["REDIS_URL"] = REDIS_URL
    with servers.gunicorn(database_url, tmp_path, **settings) as running:
        running.store = request.param
        running.tag = uuid.uuid4().hex[:12]  # names and addresses of this test's own
        yield running
    if request.param == "redis":  # only this test's keys: others may share the database
        client = redis.Redis.from_url(REDIS_URL)
        names = list(client.scan_iter(f"account:login-attempts:user:*{running.tag}*"))
        names += [f"account:login-attempts:addr:{_address(running.tag, i)}" for i in range(-1, ATTEMPTS)]
        client.delete(*names)


@pytest.fixture
def tag(server):
    return server.tag


def _address(tag, index):
    """A private address of this test's own (the Redis counters outlive the server)."""
    seed = random.Random(f"{tag}-{index}")
    return f"10.{seed.randrange(256)}.{seed.randrange(256)}.{seed.randrange(1, 255)}"


def _post(server, path, body, address, token=None):
    headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{server.host}{path}", data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=servers.CALL_SECONDS) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def _all_at_once(calls):
    """Run the calls in as many threads, released together; their answers in order."""
    start = threading.Barrier(len(calls))
    answers = [None] * len(calls)

    def run(index, call):
        start.wait()
        answers[index] = call()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=servers.CALL_SECONDS)
    return answers


def _statuses(answers, evaluated):
    """The statuses; every answer that is not `evaluated` must be the documented 429."""
    for status, headers, body in answers:
        if status != evaluated:
            assert status == 429, body
            assert set(body) == {"tracedata", "message"}
            assert body["message"] == "Too many failed attempts; try again later"
            assert 0 < int(headers["Retry-After"]) <= 900
    return [status for status, _, _ in answers]


def _create_user(server, username):
    servers.cli(server, "create-user", username, "--company", "acme", "--password-stdin", stdin=PASSWORD + "\n")


def _rows(database_url, sql, **params):
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def _attempts_held(server, database_url, key):
    if server.store == "redis":
        return int(redis.Redis.from_url(REDIS_URL).hget(f"account:login-attempts:{key}", "n"))
    return _rows(database_url, "select failures from login_failures where key = :key", key=key)[0]["failures"]


def test_concurrent_wrong_passwords_for_one_username(server, tag, database_url):
    username = f"victim_{tag}"
    _create_user(server, username)
    body = {"username": username, "password": WRONG}
    answers = _all_at_once(
        [
            lambda i=i: _post(server, "/account/token/generation", body, _address(tag, i))
            for i in range(ATTEMPTS)  # each from its own address: only the username's count applies
        ]
    )
    statuses = _statuses(answers, 401)
    assert statuses.count(401) == LIMIT, statuses
    assert statuses.count(429) == ATTEMPTS - LIMIT
    assert _attempts_held(server, database_url, f"user:{username}") == LIMIT
    recorded = _rows(database_url, "select status from processes where username = :name", name=username)
    assert sorted(row["status"] for row in recorded) == ["CANCELED_BY_QUOTA"] * (ATTEMPTS - LIMIT) + ["FAILED"] * LIMIT
    # Locked: the right password too, from yet another address.
    assert _post(server, "/account/token/generation", {**body, "password": PASSWORD}, _address(tag, -1))[0] == 429


def test_concurrent_attempts_from_one_address(server, tag, database_url):
    address = _address(tag, 0)
    _create_user(server, f"user_{tag}")
    answers = _all_at_once(
        [
            lambda i=i: _post(
                server, "/account/token/generation", {"username": f"u{i}_{tag}", "password": WRONG}, address
            )
            for i in range(ATTEMPTS)  # unknown usernames, each its own: only the address's count applies
        ]
    )
    statuses = _statuses(answers, 401)
    assert statuses.count(401) == LIMIT, statuses
    assert _attempts_held(server, database_url, f"addr:{address}") == LIMIT
    status, _, _ = _post(
        server, "/account/token/generation", {"username": f"user_{tag}", "password": PASSWORD}, address
    )
    assert status == 429
    status, _, body = _post(
        server, "/account/token/generation", {"username": f"user_{tag}", "password": PASSWORD}, _address(tag, 1)
    )
    assert status == 200 and isinstance(body, str)


def test_concurrent_wrong_current_passwords(server, tag, database_url):
    username = f"owner_{tag}"
    _create_user(server, username)
    status, _, token = _post(
        server, "/account/token/generation", {"username": username, "password": PASSWORD}, _address(tag, -1)
    )
    assert status == 200
    body = {"current_password": WRONG, "new_password": "another_long_password"}
    answers = _all_at_once(
        [lambda i=i: _post(server, "/account/password", body, _address(tag, i), token) for i in range(ATTEMPTS)]
    )
    statuses = _statuses(answers, 403)
    assert statuses.count(403) == LIMIT, statuses
    assert _attempts_held(server, database_url, f"user:{username}") == LIMIT
    # The password did not change: the token still validates and the old password is the one.
    status, _, result = _post(server, "/account/token/validation", token, _address(tag, -1))
    assert (status, result["valid"]) == (200, True)
