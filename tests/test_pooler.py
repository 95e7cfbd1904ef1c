"""Behind a transaction pooler (PgBouncer, pool_mode = transaction) a statement may run on
any server connection, and session state does not survive: the hot path must not depend on
it (no SQL PREPARE). Here PgBouncer also discards every server connection's state after
each transaction (server_reset_query_always), so a statement prepared by one request is
never there for the next: the hot path on today's main fails on its first request."""

import pytest

from tests import servers
from tests.conftest import PASSWORD

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def pooled_url(database_url, tmp_path):
    """database_url through a PgBouncer in transaction pooling mode."""
    with servers.pgbouncer(database_url, tmp_path, pool_size=4) as url:
        yield url


@pytest.fixture
def app_config(app_config, pooled_url):
    return {**app_config, "DATABASE_URL": pooled_url}


def test_token_validation_and_revocation_behind_a_transaction_pooler(app, client, make_user, login):
    make_user()
    token = login()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(10):
        validation = client.post("/account/token/validation", json=token)
        assert (validation.status_code, validation.get_json()) == (200, {"valid": True, "roles": ["USER"]})
        info = client.get("/account/info", headers=headers)
        assert info.status_code == 200 and info.get_json()["username"] == "alice"
    changed = client.post(
        "/account/password",
        json={"current_password": PASSWORD, "new_password": "another_long_password"},
        headers=headers,
    )
    assert changed.status_code == 200
    # Revocation through the pooler too: the earlier token is refused at once.
    assert client.post("/account/token/validation", json=token).get_json() == {"valid": False, "roles": []}
    assert client.get("/account/info", headers=headers).status_code == 401
    fresh = changed.get_json()
    assert client.post("/account/token/validation", json=fresh).get_json() == {"valid": True, "roles": ["USER"]}
