"""The caller's quotas: GET /account/quota, with quotas set by the administration CLI."""

import pytest

from tests.conftest import assert_tracedata


@pytest.fixture
def set_quota(runner):
    """set_quota(username, service, process_type, per_request, per_day, concurrent, *extra)."""

    def run(username, service, process_type, per_request, per_day, concurrent, *extra):
        args = ["account", "set-quota", username, service, process_type]
        args += ["--points-per-request", str(per_request), "--points-per-day", str(per_day)]
        args += ["--max-concurrent", str(concurrent), *extra]
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        return result

    return run


def _quota(process_type, per_request, per_day, concurrent):
    return {
        "process_type": process_type,
        "points_per_request": per_request,
        "points_per_day": per_day,
        "max_concurrent_execution": concurrent,
    }


def _services(body):
    """{service: {process_type: quota}}, asserting each service and type appears once."""
    services = body["base"]["services"]
    names = [service["service"] for service in services]
    assert len(names) == len(set(names)), names
    grouped = {}
    for service in services:
        types = [process["process_type"] for process in service["processes"]]
        assert len(types) == len(set(types)), types
        grouped[service["service"]] = {process["process_type"]: process for process in service["processes"]}
    return grouped


def _stored(db, username):
    return db(
        "select q.service, q.process_type, q.points_per_request, q.points_per_day, q.max_concurrent_execution"
        " from quotas q join users u on u.id = q.user_id where u.username = :u order by q.service, q.process_type",
        u=username,
    )


def test_quotas_are_grouped_by_service_and_process_type(client, auth, set_quota, db):
    headers = auth()
    set_quota("alice", "ROUTING", "MATRIX", 1000, 50000, 2)
    set_quota("alice", "UNIVERSAL", "TRACE", 0, 10**8, 1000)
    set_quota("alice", "ROUTING", "PLAN", 500, 100000, 3)
    set_quota("alice", "ACCOUNT", "NOTRACE", 10**6, 0, 0)
    response = client.get("/account/quota", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"base"} and set(body["base"]) == {"services"}
    assert _services(body) == {
        "ACCOUNT": {"NOTRACE": _quota("NOTRACE", 10**6, 0, 0)},
        "ROUTING": {"MATRIX": _quota("MATRIX", 1000, 50000, 2), "PLAN": _quota("PLAN", 500, 100000, 3)},
        "UNIVERSAL": {"TRACE": _quota("TRACE", 0, 10**8, 1000)},
    }
    for service in body["base"]["services"]:
        assert set(service) == {"service", "processes"}
    assert len(_stored(db, "alice")) == 4


def test_set_quota_replaces_the_existing_quota(client, auth, set_quota, db):
    headers = auth()
    set_quota("alice", "ROUTING", "PLAN", 100, 1000, 1)
    set_quota("alice", "ROUTING", "MATRIX", 7, 70, 7)
    set_quota("alice", "ROUTING", "PLAN", 200, 2000, 2)
    assert _stored(db, "alice") == [
        {
            "service": "ROUTING",
            "process_type": "MATRIX",
            "points_per_request": 7,
            "points_per_day": 70,
            "max_concurrent_execution": 7,
        },
        {
            "service": "ROUTING",
            "process_type": "PLAN",
            "points_per_request": 200,
            "points_per_day": 2000,
            "max_concurrent_execution": 2,
        },
    ]
    response = client.get("/account/quota", headers=headers)
    assert response.status_code == 200
    assert _services(response.get_json()) == {
        "ROUTING": {"MATRIX": _quota("MATRIX", 7, 70, 7), "PLAN": _quota("PLAN", 200, 2000, 2)}
    }


def test_no_quota_is_general404_with_resource_key_quota(client, auth):
    response = client.get("/account/quota", headers=auth())
    assert response.status_code == 404
    body = response.get_json()
    assert set(body) == {"resource_key", "detail"}
    assert body["resource_key"] == "quota"
    assert set(body["detail"]) == {"tracedata"}
    assert_tracedata(body, "read_quota", "alice", "acme")


def test_one_users_quotas_never_show_for_another(client, auth, set_quota):
    alice = auth()
    bob = auth("bob", company="acme")
    carol = auth("carol", company="acme")
    set_quota("alice", "ROUTING", "PLAN", 100, 1000, 1)
    set_quota("alice", "UNIVERSAL", "MATRIX", 5, 50, 5)
    set_quota("bob", "ROUTING", "PLAN", 999, 9999, 9)

    assert _services(client.get("/account/quota", headers=alice).get_json()) == {
        "ROUTING": {"PLAN": _quota("PLAN", 100, 1000, 1)},
        "UNIVERSAL": {"MATRIX": _quota("MATRIX", 5, 50, 5)},
    }
    assert _services(client.get("/account/quota", headers=bob).get_json()) == {
        "ROUTING": {"PLAN": _quota("PLAN", 999, 9999, 9)}
    }
    # Same company, no quota of its own: nothing of the colleagues' shows.
    response = client.get("/account/quota", headers=carol)
    assert response.status_code == 404
    assert response.get_json()["resource_key"] == "quota"


def test_quotas_only_the_legacy_dialect_can_name_are_not_shown(client, auth, set_quota):
    headers = auth()
    # STOCK and REFINE exist in 6.20 only: the 7.9 client could not parse them.
    set_quota("alice", "STOCK", "PLAN", 1, 1, 1)
    set_quota("alice", "ROUTING", "REFINE", 1, 1, 1)
    response = client.get("/account/quota", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["resource_key"] == "quota"

    set_quota("alice", "ROUTING", "PLAN", 3, 30, 3, "--points-per-date-window", "300")
    response = client.get("/account/quota", headers=headers)
    assert response.status_code == 200
    # The 6.20-only points_per_date_window is not a 7.9 ProcessQuota field.
    assert _services(response.get_json()) == {"ROUTING": {"PLAN": _quota("PLAN", 3, 30, 3)}}
