"""Quota decisions under load: a real gunicorn with two workers, many threads at once."""

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import servers
from tests.conftest import PASSWORD, TEST_SECRET

RESERVE = "/account/quota/reservations"


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("reservations_load")
    with servers.gunicorn(database_url, workdir, JWT_SECRET=TEST_SECRET, BCRYPT_ROUNDS="4") as running:
        yield running


def _login(server, username):
    status, body = servers.call(
        server,
        "",
        "POST",
        "/account/token/generation",
        json.dumps({"username": username, "password": PASSWORD}).encode(),
        "application/json",
    )
    assert status == 200, body
    return json.loads(body)


@pytest.fixture
def bot_token(server, make_user, quota):
    """The token of a BOT of acme, for alice (acme) whose UNIVERSAL/PLAN quota the test sets."""
    make_user("alice")
    make_user("load_bot", roles=("BOT",))
    return _login(server, "load_bot")


def _request(points=100, code=None):
    return {
        "username": "alice",
        "service": "UNIVERSAL",
        "process_type": "PLAN",
        "process_code": code or str(uuid.uuid4()),
        "points": points,
        "ttl_seconds": 600,
    }


def _all_at_once(server, token, bodies):
    """Send every body from its own thread, released together; [(status, answer)]."""
    start = threading.Barrier(len(bodies))

    def send(body):
        start.wait()
        status, raw = servers.call(server, token, "POST", RESERVE, json.dumps(body).encode(), "application/json")
        return status, json.loads(raw)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def _statuses(results):
    counts = {}
    for status, _ in results:
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_32_concurrent_reservations_with_5_slots_grant_exactly_5(server, bot_token, quota, db):
    quota("alice", 1000, 10**8, 5)
    results = _all_at_once(server, bot_token, [_request() for _ in range(32)])
    assert _statuses(results) == {200: 5, 429: 27}, results
    assert db("select count(*) as n from quota_reservations") == [{"n": 5}]
    assert db("select count(*) as n from processes where status = 'CANCELED_BY_QUOTA'") == [{"n": 27}]
    granted = {answer["process_code"] for status, answer in results if status == 200}
    assert {row["process_code"] for row in db("select process_code from quota_reservations")} == granted


def test_40_concurrent_reservations_of_100_with_1000_a_day_grant_exactly_10(server, bot_token, quota, db):
    quota("alice", 100, 1000, 1000)
    results = _all_at_once(server, bot_token, [_request(100) for _ in range(40)])
    assert _statuses(results) == {200: 10, 402: 30}, results
    assert all("points_per_day" in answer["message"] for status, answer in results if status == 402)
    assert db("select count(*) as n, sum(points) as points from quota_reservations") == [{"n": 10, "points": 1000}]
    assert sorted(answer["remaining"]["points_per_day"] for status, answer in results if status == 200) == list(
        range(0, 1000, 100)
    )


def test_a_resent_reservation_never_takes_a_second_slot(server, bot_token, quota, db):
    quota("alice", 1000, 10**8, 2)
    same = _request()
    results = _all_at_once(server, bot_token, [same] * 24)
    assert _statuses(results) == {200: 24}, results
    assert db("select count(*) as n from quota_reservations") == [{"n": 1}]
    assert {answer["remaining"]["concurrent_executions"] for _, answer in results} == {1}
    # The second slot is still free, and then there is none.
    results = _all_at_once(server, bot_token, [_request() for _ in range(8)] + [same] * 8)
    assert _statuses(results) == {200: 9, 429: 7}, results
    assert db("select count(*) as n from quota_reservations") == [{"n": 2}]
