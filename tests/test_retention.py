"""Timezone changes and retention (issue 12): `account set-timezone`, PUT /v6/account/info,
`account purge` and RETENTION_DAYS, with the daily roll-ups answering throughout."""

import pytest

from app import db
from app.db import retention
from app.db.files import write_file
from tests.conftest import PASSWORD, process_record

PERIOD = {"from": "2026-11-01", "to": "2026-11-14"}


def _invoke(runner, *args):
    return runner.invoke(args=["account", *args])


def stats(client, headers, prefix="/account", **period):
    response = client.get(f"{prefix}/statistics", query_string=period or PERIOD, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["dates"]


def day_list(client, headers):
    return [day["date"] for day in stats(client, headers)]


def counts(db):
    """Rows of the raw tables, leaving out the service's own actions (logins: today, service ACCOUNT)."""
    return {
        table: db(f"select count(*) as n from {table}{where}")[0]["n"]
        for table, where in (
            ("processes", " where service <> 'ACCOUNT'"),
            ("process_requests", " where service <> 'ACCOUNT'"),
            ("process_points", ""),
            ("process_file_chunks", ""),
        )
    }


@pytest.fixture
def alice(auth, clock):
    return auth("alice")


# ---------------------------------------------------------------- set-timezone


def test_set_timezone_moves_the_days_at_once(runner, client, alice, ingest, db):
    ingest(process_record(time="2026-11-10T22:30:00+00:00", point_keys=["a"]))
    assert day_list(client, alice) == ["2026-11-10"]
    result = _invoke(runner, "set-timezone", "alice", "3")
    assert result.exit_code == 0, result.output
    assert "alice now has the timezone +3" in result.output
    assert db("select timezone from users where username = 'alice'") == [{"timezone": 3}]
    assert day_list(client, alice) == ["2026-11-11"]
    result = _invoke(runner, "set-timezone", "alice", "-12")  # a negative number is no option
    assert result.exit_code == 0, result.output
    assert day_list(client, alice) == ["2026-11-10"]
    assert db("select day, unique_points, processes from usage_days where processes > 1") == []


@pytest.mark.parametrize(
    ("args", "fragment"), [(("nobody", "3"), "no user 'nobody'"), (("alice", "13"), "13 is not in the range")]
)
def test_set_timezone_refusals(runner, alice, args, fragment, db):
    result = _invoke(runner, "set-timezone", *args)
    assert result.exit_code != 0
    assert fragment in result.output
    assert db("select timezone from users where username = 'alice'") == [{"timezone": 0}]


def test_v6_info_timezone_change_rebuilds_the_rollups(client, alice, ingest):
    ingest(process_record(time="2026-11-10T22:30:00+00:00"))
    v6 = client.post("/v6/account/token/generation", json={"username": "alice", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {v6.get_json()}"}
    info = client.get("/v6/account/info", headers=headers).get_json()
    response = client.put("/v6/account/info", json={**info, "timezone": 5}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert [day["date"] for day in stats(client, headers, "/v6/account")] == ["2026-11-11"]
    assert day_list(client, alice) == ["2026-11-11"]


# ---------------------------------------------------------------- purge


@pytest.fixture
def history(app, alice, ingest):
    """Processes on 2026-11-08 .. 11-12 (two a day, sharing key k), files on the first."""
    records = [
        process_record(time=f"2026-11-{day:02d}T{hour:02d}:00:00+00:00", point_keys=["k", f"d{day}"], points=day)
        for day in range(8, 13)
        for hour in (9, 23)
    ]
    ingest(*records)
    with app.app_context(), db.transaction() as conn:
        write_file(conn, records[0]["process_code"], "INPUT", [b"abc", b"def"])
    return records


def test_purge_before_deletes_raw_rows_and_keeps_the_statistics(runner, client, alice, history, db):
    before = stats(client, alice)
    assert counts(db) == {"processes": 10, "process_requests": 10, "process_points": 20, "process_file_chunks": 2}
    result = _invoke(runner, "purge", "--before", "2026-11-10", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert "purged 4 processes before 2026-11-10" in result.output
    assert counts(db) == {"processes": 6, "process_requests": 6, "process_points": 12, "process_file_chunks": 0}
    assert db("select min(time_us) as t from processes")[0]["t"] >= 1_762_732_800_000_000  # 2026-11-10 UTC
    assert stats(client, alice) == before
    audit = client.get(
        "/account/audit", query_string={"from": "2026-11-08T00:00:00Z", "to": "2026-11-09T23:59:59Z"}, headers=alice
    )
    assert audit.status_code == 200
    assert audit.get_json()["actions"] == []
    data = client.get(f"/account/data/{history[0]['process_code']}/INPUT/RAW", headers=alice)
    assert data.status_code == 404
    # Run again: nothing left to purge, nothing changes.
    result = _invoke(runner, "purge", "--before", "2026-11-10")
    assert result.exit_code == 0, result.output
    assert "purged 0 processes" in result.output
    assert stats(client, alice) == before


def test_purge_without_before_uses_retention_days(app, runner, history, db):
    result = _invoke(runner, "purge")
    assert result.exit_code == 1
    assert "Error: give --before YYYY-MM-DD or set RETENTION_DAYS" in result.output
    assert counts(db)["processes"] == 10
    app.config["RETENTION_DAYS"] = 4  # the clock says 2026-11-15: keep from 2026-11-11
    result = _invoke(runner, "purge")
    assert result.exit_code == 0, result.output
    assert "purged 6 processes before 2026-11-11" in result.output
    assert counts(db)["processes"] == 4


def test_a_negative_retention_is_refused(app_config, monkeypatch, tmp_path):
    from app import create_app
    from app.config import ConfigError

    monkeypatch.setenv("ACCOUNT_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("ACCOUNT_RETENTION_DAYS", "-3")
    with pytest.raises(ConfigError, match="RETENTION_DAYS"):
        create_app(app_config)


def test_an_interrupted_purge_runs_again_to_the_same_end(runner, client, alice, history, db, monkeypatch):
    before = stats(client, alice)
    original, calls = retention.purge_batch, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("interrupted")  # as Ctrl-C would, mid-run
        return original(*args)

    monkeypatch.setattr(retention, "purge_batch", interrupted)
    result = _invoke(runner, "purge", "--before", "2026-11-12", "--batch-size", "2")
    assert result.exit_code != 0
    assert counts(db)["processes"] == 8  # the first batch committed, the second never ran
    monkeypatch.setattr(retention, "purge_batch", original)
    result = _invoke(runner, "purge", "--before", "2026-11-12", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "purged 6 processes" in result.output  # the 8 before 2026-11-12, less the first batch
    assert counts(db)["processes"] == 2
    assert stats(client, alice) == before


def test_records_after_a_purge_keep_the_counts_exact(runner, client, alice, history, ingest, db):
    """The purged processes' references stay: a key they named stays counted on their
    day whatever later records do there; a re-sent purged process is a new one."""
    _invoke(runner, "purge", "--before", "2026-11-10")
    day9 = {"from": "2026-11-09", "to": "2026-11-09"}

    def figures():
        (day,) = stats(client, alice, **day9)
        process = day["services"][0]["processes"][0]
        return process["unique_points_per_day"], process["points_per_day"], process["processes_per_day"]

    assert figures() == (2, 18, 2)  # keys k and d9, 9 points twice
    # A surviving process moves onto the purged day with key k and a new key, then away.
    moved = dict(history[9], time="2026-11-09T12:00:00+00:00", point_keys=["k", "n"])
    ingest(moved)
    assert figures() == (4, 30, 3)  # k, d9 and the moved one's d12 (keys merge) and n
    ingest(dict(moved, time="2026-11-12T12:00:00+00:00"))
    assert figures() == (2, 18, 2)  # d12 and n gone with it, k still named by the purged processes
    # A purged process re-sent: the store no longer knows it, so it counts as new.
    ingest(history[2])
    assert figures() == (2, 27, 3)
    assert db("select count(*) as n from usage_day_keys where refs <= 0") == [{"n": 0}]


def test_a_timezone_change_after_a_purge_keeps_the_purged_days(runner, client, alice, history):
    before = stats(client, alice)
    _invoke(runner, "purge", "--before", "2026-11-10")
    result = _invoke(runner, "set-timezone", "alice", "3")
    assert result.exit_code == 0, result.output
    after = {day["date"]: day for day in stats(client, alice)}
    # Purged days (11-08, 11-09) as they were under +0; the raw rows (from 11-10) moved:
    # each 23:00 UTC process is now on the next local day.
    assert after["2026-11-08"] == before[0]
    assert after["2026-11-09"] == before[1]
    moved = [(date, day["services"][0]["processes"][0]["processes_per_day"]) for date, day in sorted(after.items())]
    assert moved == [
        ("2026-11-08", 2),
        ("2026-11-09", 2),
        ("2026-11-10", 1),
        ("2026-11-11", 2),
        ("2026-11-12", 2),
        ("2026-11-13", 1),
    ]
