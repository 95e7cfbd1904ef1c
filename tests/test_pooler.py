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


def test_quota_reservations_behind_a_transaction_pooler(app, client, auth, producer, quota):
    """The decision's transaction spans two queries on a driver connection of the token
    lookup's (BEGIN with the locked read, the write with COMMIT): the pooler keeps one
    server connection for it, and discards the function's plans between transactions."""
    import uuid

    from sqlalchemy import text

    from app.db import transaction

    auth("alice")
    bot = producer()
    quota("alice", 100, 1000, 2)
    codes = [str(uuid.uuid4()) for _ in range(3)]

    def reserve(code, points=10):
        body = {"username": "alice", "service": "UNIVERSAL", "process_type": "PLAN", "process_code": code}
        return client.post("/account/quota/reservations", json={**body, "points": points}, headers=bot)

    for _ in range(3):  # the same reservation again: no second slot
        granted = reserve(codes[0])
        assert granted.status_code == 200, granted.get_json()
        assert granted.get_json()["remaining"] == {"points_per_day": 990, "concurrent_executions": 1}
    assert reserve(codes[1]).status_code == 200
    refused = reserve(codes[2])
    assert refused.status_code == 429 and "max_concurrent_execution" in refused.get_json()["message"]
    assert reserve(codes[2], points=101).status_code == 402
    assert client.delete(f"/account/quota/reservations/{codes[1]}", headers=bot).status_code == 204
    assert reserve(codes[2]).status_code == 200
    with app.app_context(), transaction() as conn:
        held = conn.execute(
            text("select process_code from quota_reservations where released_us is null order by process_code")
        ).scalars()
        assert list(held) == sorted([codes[0], codes[2]])
        refusals = conn.execute(text("select count(*) from processes where status = 'CANCELED_BY_QUOTA'"))
        assert refusals.scalar_one() == 1  # the two refusals share the code: one process
