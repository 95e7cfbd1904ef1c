"""Faults: database failures mid-write, restarts, outages, concurrent writers."""

import threading

import pytest
from sqlalchemy import create_engine, text

from app.db import ingest as ingest_queries
from app.db import users as user_queries
from tests.conftest import PASSWORD, drop_idle_connections, process_record


def _counts(db):
    return {
        table: db(f"select count(*) as n from {table}")[0]["n"]
        for table in ("processes", "process_requests", "process_points")
    }


def test_a_failure_mid_write_rolls_back_the_whole_batch(app, client, producer, auth, db, monkeypatch, backend):
    auth()
    headers = producer()
    before = _counts(db)
    original = ingest_queries.upsert_processes
    url = app.config["DATABASE_URL"]

    def killed_midway(conn, records):
        original(conn, records[:1])  # part of the batch is written ...
        if backend == "postgresql":  # ... then the server kills the connection
            pid = conn.execute(text("select pg_backend_pid()")).scalar_one()
            killer = create_engine(url)
            with killer.begin() as other:
                other.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
            killer.dispose()
            conn.execute(text("select 1"))
        raise RuntimeError("connection lost")

    monkeypatch.setattr(ingest_queries, "upsert_processes", killed_midway)
    batch = [process_record(point_keys=["a", "b"]), process_record(point_keys=["c"])]
    response = client.post("/account/processes", json={"processes": batch}, headers=headers)
    assert response.status_code == 500
    assert set(response.get_json()) == {"tracedata", "message"}
    assert _counts(db) == before

    monkeypatch.setattr(ingest_queries, "upsert_processes", original)
    response = client.post("/account/processes", json={"processes": batch}, headers=headers)
    assert response.status_code == 200
    assert _counts(db)["processes"] == before["processes"] + 2


def test_connections_dropped_while_idle_cost_no_request(app, client, auth, backend):
    headers = auth()
    assert client.get("/account/info", headers=headers).status_code == 200
    drop_idle_connections(app, backend)
    assert client.get("/account/info", headers=headers).status_code == 200


def test_during_an_outage_calls_fail_fast_with_the_documented_body(app, client, auth):
    headers = auth()
    app.extensions["account_db"] = create_engine(
        "postgresql+psycopg2://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 1}
    )
    assert client.get("/account/system/check").get_json() == {"health": 0.0}
    for method, path in (("get", "/account/info"), ("get", "/account/quota"), ("get", "/account/audit")):
        response = getattr(client, method)(path, headers=headers)
        assert response.status_code == 500
        assert set(response.get_json()) == {"tracedata", "message"}
    response = client.post("/account/token/generation", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 500


def test_two_stale_password_changes_have_exactly_one_winner(app, make_user):
    user = make_user()
    from app.db import transaction

    with app.app_context():
        with transaction() as conn:
            assert user_queries.change_password(conn, user, "$2b$04$first") == 1
        with pytest.raises(user_queries.ConcurrentChange), transaction() as conn:
            user_queries.change_password(conn, user, "$2b$04$second")
    with app.extensions["account_db"].connect() as conn:
        row = conn.execute(text("select password_hash, token_version from users")).one()
    assert tuple(row) == ("$2b$04$first", 1)


def test_concurrent_password_changes_through_the_api(client, app, make_user, login):
    make_user()
    tokens = [login(), login()]
    results = []

    def change(token, new):
        local = app.test_client()
        response = local.post(
            "/account/password",
            json={"current_password": PASSWORD, "new_password": new},
            headers={"Authorization": f"Bearer {token}"},
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=change, args=(t, f"new_password_{n}xx")) for n, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) in ([200, 401], [200, 403])  # the loser's token or password is already stale
    for token in tokens:
        assert client.get("/account/info", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_concurrent_overlapping_batches_store_each_process_once(app, make_user, producer, db):
    make_user()
    headers = producer()
    records = [process_record(point_keys=[f"k{n}", f"k{n + 1}"], requests=2) for n in range(60)]
    batches = [records[0:40], records[20:60], records[10:50], records[::-1]]
    statuses = []

    def send(batch):
        response = app.test_client().post("/account/processes", json={"processes": batch}, headers=headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    stored = db("select count(*) as n, sum(request_points_count) as points from processes where service='UNIVERSAL'")
    assert stored == [{"n": 60, "points": 600}]
    assert db("select count(*) as n from process_requests where service='UNIVERSAL'") == [{"n": 120}]
    assert db("select count(*) as n from process_points") == [{"n": 120}]
