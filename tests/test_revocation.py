"""Revocation on the hot path, against gunicorn's two workers: a token every worker has
validated (and remembers as verified) is refused by all of them as soon as the password
change that revokes it has answered."""

import json
from concurrent.futures import ThreadPoolExecutor

from tests import servers
from tests.conftest import PASSWORD, TEST_SECRET

CALLS = 40


def _post(server, path, body, token=""):
    return servers.call(server, token, "POST", path, json.dumps(body).encode(), "application/json")


def _validations(server, token):
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _post(server, "/account/token/validation", token), range(CALLS)))
    return [(status, json.loads(body)) for status, body in answers]


def test_a_password_change_refuses_earlier_tokens_on_every_worker_at_once(database_url, tmp_path):
    with servers.gunicorn(database_url, tmp_path, JWT_SECRET=TEST_SECRET, BCRYPT_ROUNDS="4") as server:
        servers.cli(server, "create-user", "alice", "--company", "acme", "--password-stdin", stdin=PASSWORD + "\n")
        status, body = _post(server, "/account/token/generation", {"username": "alice", "password": PASSWORD})
        assert status == 200
        token = json.loads(body)
        assert _validations(server, token) == [(200, {"valid": True, "roles": ["USER"]})] * CALLS
        change = {"current_password": PASSWORD, "new_password": "another_long_password"}
        status, body = _post(server, "/account/password", change, token)
        assert status == 200
        assert _validations(server, token) == [(200, {"valid": False, "roles": []})] * CALLS
        status, _ = servers.call(server, token, "GET", "/account/info", None, "application/json")
        assert status == 401
        assert _validations(server, json.loads(body)) == [(200, {"valid": True, "roles": ["USER"]})] * CALLS
