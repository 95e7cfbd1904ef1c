"""GET /account/statistics: per local day of the user's timezone, per service, per process type."""

from datetime import UTC, datetime

import pytest

from app.db.users import get_user_by_username
from app.db.users import set_timezone as set_timezone_query
from tests.conftest import process_record


def flat(body):
    """{(date, service, process_type): (unique_points, points, elements, processes)}"""
    return {
        (day["date"], service["service"], process["process_type"]): (
            process["unique_points_per_day"],
            process["points_per_day"],
            process["elements_per_day"],
            process["processes_per_day"],
        )
        for day in body["dates"]
        for service in day["services"]
        for process in service["processes"]
    }


def get_statistics(client, headers, **query):
    response = client.get("/account/statistics", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def days(client, headers, **query):
    return [day["date"] for day in get_statistics(client, headers, **query)["dates"]]


def set_timezone(app, username, hours):
    """As the admin command and PUT /v6/account/info do: the roll-ups follow."""
    with app.app_context(), app.extensions["account_db"].begin() as conn:
        user = get_user_by_username(conn, username)
        set_timezone_query(conn, user["id"], hours)


def at(moment):
    return moment.isoformat()


@pytest.fixture
def alice(auth, clock):
    return auth("alice")


# ---------------------------------------------------------------- day boundaries


def test_late_utc_process_lands_on_the_next_day_at_plus_3(client, auth, clock, ingest):
    headers = auth("alice", timezone=3)
    ingest(
        process_record(time="2026-11-10T20:59:59.999999+00:00", points=1),  # 23:59:59.999999 local, 11-10
        process_record(time="2026-11-10T21:00:00+00:00", points=2),  # 00:00 local, 11-11
        process_record(time="2026-11-10T22:30:00+00:00", points=4),  # 01:30 local, 11-11
        process_record(time="2026-11-11T23:30:00+03:00", points=8),  # written with an offset, 11-11
    )
    body = get_statistics(client, headers, **{"from": "2026-11-10", "to": "2026-11-11"})
    assert flat(body) == {
        ("2026-11-10", "UNIVERSAL", "PLAN"): (0, 1, 5, 1),
        ("2026-11-11", "UNIVERSAL", "PLAN"): (0, 14, 15, 3),
    }
    # The period is made of local days too: 11-11 alone starts at 21:00 UTC the day before.
    assert flat(get_statistics(client, headers, **{"from": "2026-11-11", "to": "2026-11-11"})) == {
        ("2026-11-11", "UNIVERSAL", "PLAN"): (0, 14, 15, 3)
    }


def test_negative_timezone_day_boundaries(client, auth, clock, ingest):
    headers = auth("alice", timezone=-5)
    ingest(
        process_record(time="2026-11-11T04:59:59+00:00", points=1),  # 23:59:59 local, 11-10
        process_record(time="2026-11-11T05:00:00+00:00", points=2),  # 00:00 local, 11-11
        process_record(time="2026-11-10T02:00:00+00:00", points=4),  # 21:00 local, 11-09
    )
    body = get_statistics(client, headers, **{"from": "2026-11-09", "to": "2026-11-11"})
    assert {key[0]: value[1] for key, value in flat(body).items()} == {
        "2026-11-09": 4,
        "2026-11-10": 1,
        "2026-11-11": 2,
    }


def test_changing_the_timezone_changes_the_day(app, client, alice, ingest):
    ingest(process_record(time="2026-11-10T22:30:00+00:00"))
    period = {"from": "2026-11-01", "to": "2026-11-14"}
    assert days(client, alice, **period) == ["2026-11-10"]
    set_timezone(app, "alice", 3)
    assert days(client, alice, **period) == ["2026-11-11"]
    set_timezone(app, "alice", 12)
    assert days(client, alice, **period) == ["2026-11-11"]
    set_timezone(app, "alice", -12)
    assert days(client, alice, **period) == ["2026-11-10"]
    set_timezone(app, "alice", 1)
    assert days(client, alice, **period) == ["2026-11-10"]
    set_timezone(app, "alice", 2)
    assert days(client, alice, **period) == ["2026-11-11"]


def test_two_users_in_different_timezones_see_their_own_days(client, auth, clock, ingest):
    east = auth("east", timezone=3)
    west = auth("west", timezone=0)
    ingest(process_record(username="east", time="2026-11-10T22:30:00+00:00"))
    ingest(process_record(username="west", time="2026-11-10T22:30:00+00:00"))
    period = {"from": "2026-11-01", "to": "2026-11-14"}
    assert days(client, east, **period) == ["2026-11-11"]
    assert days(client, west, **period) == ["2026-11-10"]


def test_days_before_1970_are_counted_on_their_own_day(client, auth, clock, ingest):
    headers = auth("alice", timezone=-3)
    ingest(
        process_record(time="1969-12-31T10:00:00+00:00", points=1),  # 07:00 local, 1969-12-31
        process_record(time="1970-01-01T01:00:00+00:00", points=2),  # 22:00 local, 1969-12-31
        process_record(time="1970-01-01T03:00:00+00:00", points=4),  # 00:00 local, 1970-01-01
        process_record(time="1960-06-15T12:00:00+00:00", points=8),
    )
    body = get_statistics(client, headers, **{"from": "1969-12-30", "to": "1970-01-02"})
    assert flat(body) == {
        ("1969-12-31", "UNIVERSAL", "PLAN"): (0, 3, 10, 2),
        ("1970-01-01", "UNIVERSAL", "PLAN"): (0, 4, 5, 1),
    }
    assert days(client, headers, **{"from": "1960-06-15", "to": "1960-06-15"}) == ["1960-06-15"]


# ---------------------------------------------------------------- period defaults


@pytest.fixture
def around_the_month(ingest):
    ingest(
        process_record(time="2026-10-31T23:59:59.999999+00:00", points=1),
        process_record(time="2026-11-01T00:00:00+00:00", points=2),
        process_record(time="2026-11-14T23:59:59.999999+00:00", points=4),
        process_record(time="2026-11-15T00:00:00+00:00", points=8),
        process_record(time="2026-11-15T11:59:00+00:00", points=16),
    )


def test_no_period_is_the_current_month_up_to_yesterday(client, alice, clock, around_the_month):
    assert clock.now == datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    body = get_statistics(client, alice)
    assert body["username"] == "alice"
    assert flat(body) == {
        ("2026-11-01", "UNIVERSAL", "PLAN"): (0, 2, 5, 1),
        ("2026-11-14", "UNIVERSAL", "PLAN"): (0, 4, 5, 1),
    }


def test_no_to_is_up_to_yesterday(client, alice, around_the_month):
    assert days(client, alice, **{"from": "2026-10-01"}) == ["2026-10-31", "2026-11-01", "2026-11-14"]


def test_no_from_is_the_first_of_the_month(client, alice, around_the_month):
    assert days(client, alice, to="2026-11-30") == ["2026-11-01", "2026-11-14", "2026-11-15"]
    body = get_statistics(client, alice, to="2026-11-15", service="UNIVERSAL")
    assert flat(body)[("2026-11-15", "UNIVERSAL", "PLAN")] == (0, 24, 10, 2)


def test_default_period_follows_the_users_timezone(app, client, alice, around_the_month):
    # At 2026-11-15T12:00Z it is already 2026-11-16 00:00 at +12: yesterday is 11-15.
    set_timezone(app, "alice", 12)
    assert days(client, alice) == ["2026-11-01", "2026-11-15"]  # 10-31 23:59Z is 11-01 local, 11-14 23:59Z is 11-15
    # At -12 it is 2026-11-15 00:00: yesterday is 11-14, and 11-01 00:00Z is still 10-31 there.
    set_timezone(app, "alice", -12)
    assert days(client, alice) == ["2026-11-14"]


def test_on_the_first_of_the_month_the_default_period_is_empty(client, alice, clock, ingest):
    clock.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    ingest(
        process_record(time="2026-11-30T12:00:00+00:00"),
        process_record(time="2026-12-01T01:00:00+00:00"),
    )
    response = client.get("/account/statistics", headers=alice)
    assert response.status_code == 200
    assert response.get_json() == {"username": "alice", "dates": []}


def test_to_is_inclusive(client, alice, around_the_month):
    body = get_statistics(client, alice, **{"from": "2026-11-14", "to": "2026-11-14"})
    assert flat(body) == {("2026-11-14", "UNIVERSAL", "PLAN"): (0, 4, 5, 1)}


def test_from_is_inclusive(client, alice, around_the_month):
    assert days(client, alice, **{"from": "2026-11-01", "to": "2026-11-13"}) == ["2026-11-01"]


# ---------------------------------------------------------------- period validation


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-11-14", "to": "2026-11-13"},
        {"from": "2016-01-01", "to": "2026-01-01"},  # 3,654 days
        {"from": "2026-13-01", "to": "2026-11-14"},
        {"from": "2026-11-01", "to": "2026-02-30"},
        {"from": "2026-11-1x"},
        {"to": "yesterday"},
        {"from": "2026-11-01T00:00:00Z"},
        {"service": "WEATHER"},
        {"process_type": "FLY"},
        {"service": "universal"},
        {"from": ""},  # only an empty service or process_type means "all"
    ],
)
def test_bad_periods_and_filters_are_400(client, alice, query):
    response = client.get("/account/statistics", query_string=query, headers=alice)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert body["message"].startswith("Invalid request: ")
    assert body["tracedata"]["operation"] == "generate_statistics"


def test_a_period_of_3653_days_is_accepted(client, alice, ingest):
    ingest(process_record(time="2016-01-02T12:00:00+00:00"), process_record(time="2026-01-01T12:00:00+00:00"))
    assert days(client, alice, **{"from": "2016-01-02", "to": "2026-01-01"}) == ["2016-01-02", "2026-01-01"]
    response = client.get("/account/statistics?from=2016-01-01&to=2026-01-01", headers=alice)
    assert response.status_code == 400
    assert "3653" in response.get_json()["message"]


def test_without_a_token_is_401(client):
    assert client.get("/account/statistics").status_code == 401


# ---------------------------------------------------------------- figures


@pytest.fixture
def usage(ingest):
    ingest(
        process_record(point_keys=["a", "b", "c"], points=10, elements=5),
        process_record(time="2026-11-10T18:00:00+00:00", point_keys=["b", "c", "d"], points=7, elements=3),
        process_record(process_type="TRACE", point_keys=["a"], points=1, elements=1),
        process_record(service="ROUTING", point_keys=["a", "b"], points=2, elements=2),
        process_record(time="2026-11-11T08:00:00+00:00", point_keys=["a"], points=3, elements=0),
        process_record(time="2026-11-11T09:00:00+00:00", points=None, elements=None),
        process_record(time="2026-11-13T09:00:00+00:00", service="PACKER", process_type="CONVERT", points=100),
    )


def test_unique_points_are_counted_across_the_processes_of_a_day(client, alice, usage):
    body = get_statistics(client, alice, **{"from": "2026-11-01", "to": "2026-11-14"})
    assert body == {
        "username": "alice",
        "dates": [
            {
                "date": "2026-11-10",
                "services": [
                    {
                        "service": "ROUTING",
                        "processes": [
                            {
                                "process_type": "PLAN",
                                "unique_points_per_day": 2,
                                "points_per_day": 2,
                                "elements_per_day": 2,
                                "processes_per_day": 1,
                            }
                        ],
                    },
                    {
                        "service": "UNIVERSAL",
                        "processes": [
                            {
                                "process_type": "PLAN",
                                "unique_points_per_day": 4,  # {a, b, c} | {b, c, d}
                                "points_per_day": 17,
                                "elements_per_day": 8,
                                "processes_per_day": 2,
                            },
                            {
                                "process_type": "TRACE",
                                "unique_points_per_day": 1,
                                "points_per_day": 1,
                                "elements_per_day": 1,
                                "processes_per_day": 1,
                            },
                        ],
                    },
                ],
            },
            {
                "date": "2026-11-11",
                "services": [
                    {
                        "service": "UNIVERSAL",
                        "processes": [
                            {
                                "process_type": "PLAN",
                                "unique_points_per_day": 1,
                                "points_per_day": 3,  # a process without counts adds nothing but itself
                                "elements_per_day": 0,
                                "processes_per_day": 2,
                            }
                        ],
                    }
                ],
            },
            {
                "date": "2026-11-13",
                "services": [
                    {
                        "service": "PACKER",
                        "processes": [
                            {
                                "process_type": "CONVERT",
                                "unique_points_per_day": 0,
                                "points_per_day": 100,
                                "elements_per_day": 5,
                                "processes_per_day": 1,
                            }
                        ],
                    }
                ],
            },
        ],
    }


def test_the_same_key_on_two_days_counts_on_each(client, alice, ingest):
    ingest(
        process_record(time="2026-11-10T10:00:00+00:00", point_keys=["a", "b"]),
        process_record(time="2026-11-11T10:00:00+00:00", point_keys=["a", "b"]),
        process_record(time="2026-11-11T11:00:00+00:00", point_keys=["b"]),
    )
    stats = flat(get_statistics(client, alice, **{"from": "2026-11-10", "to": "2026-11-11"}))
    assert stats[("2026-11-10", "UNIVERSAL", "PLAN")][0] == 2
    assert stats[("2026-11-11", "UNIVERSAL", "PLAN")] == (2, 20, 10, 2)


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"service": "UNIVERSAL"}, {("2026-11-10", "PLAN"), ("2026-11-10", "TRACE"), ("2026-11-11", "PLAN")}),
        ({"service": "ROUTING"}, {("2026-11-10", "PLAN")}),
        ({"service": "PACKER"}, {("2026-11-13", "CONVERT")}),
        ({"service": "AGRO"}, set()),
        ({"process_type": "TRACE"}, {("2026-11-10", "TRACE")}),
        ({"process_type": "PLAN"}, {("2026-11-10", "PLAN"), ("2026-11-11", "PLAN")}),
        ({"service": "UNIVERSAL", "process_type": "PLAN"}, {("2026-11-10", "PLAN"), ("2026-11-11", "PLAN")}),
        ({"service": "ROUTING", "process_type": "TRACE"}, set()),
    ],
)
def test_service_and_process_type_filters(client, alice, usage, query, expected):
    body = get_statistics(client, alice, **{"from": "2026-11-01", "to": "2026-11-14"}, **query)
    found = flat(body)
    assert {(key[0], key[2]) for key in found} == expected
    if "service" in query:
        assert {key[1] for key in found} <= {query["service"]}
    if expected == set():
        assert body["dates"] == []


def test_a_filter_leaves_the_figures_of_the_rest_unchanged(client, alice, usage):
    period = {"from": "2026-11-01", "to": "2026-11-14"}
    everything = flat(get_statistics(client, alice, **period))
    universal = flat(get_statistics(client, alice, service="UNIVERSAL", **period))
    assert universal == {key: value for key, value in everything.items() if key[1] == "UNIVERSAL"}


@pytest.mark.parametrize("query", [{"service": ""}, {"process_type": ""}, {"service": "", "process_type": ""}])
def test_an_empty_filter_means_all(client, alice, usage, query):
    period = {"from": "2026-11-01", "to": "2026-11-14"}
    assert get_statistics(client, alice, **period, **query) == get_statistics(client, alice, **period)
    assert len(flat(get_statistics(client, alice, **period, **query))) == 5


def test_days_without_usage_are_left_out(client, alice, usage):
    assert days(client, alice, **{"from": "2026-11-01", "to": "2026-11-14"}) == [
        "2026-11-10",
        "2026-11-11",
        "2026-11-13",
    ]
    assert get_statistics(client, alice, **{"from": "2026-11-12", "to": "2026-11-12"})["dates"] == []


def test_another_users_processes_are_never_counted(client, alice, auth, usage, ingest):
    bob = auth("bob")
    before = get_statistics(client, alice, **{"from": "2026-11-01", "to": "2026-11-14"})
    ingest(
        process_record(username="bob", point_keys=["a", "x", "y"], points=1000),
        process_record(username="bob", time="2026-11-12T10:00:00+00:00"),
    )
    assert get_statistics(client, alice, **{"from": "2026-11-01", "to": "2026-11-14"}) == before
    bob_stats = get_statistics(client, bob, **{"from": "2026-11-01", "to": "2026-11-14"})
    assert bob_stats["username"] == "bob"
    assert flat(bob_stats) == {
        ("2026-11-10", "UNIVERSAL", "PLAN"): (3, 1000, 5, 1),
        ("2026-11-12", "UNIVERSAL", "PLAN"): (0, 10, 5, 1),
    }


def test_a_reingested_batch_counts_once(client, alice, usage, ingest):
    before = get_statistics(client, alice, **{"from": "2026-11-01", "to": "2026-11-14"})
    record = process_record(time="2026-11-12T10:00:00+00:00", point_keys=["q"])
    ingest(record)
    ingest(record)
    after = flat(get_statistics(client, alice, **{"from": "2026-11-01", "to": "2026-11-14"}))
    assert after.pop(("2026-11-12", "UNIVERSAL", "PLAN")) == (1, 10, 5, 1)
    assert after == flat(before)


def test_own_account_actions_are_counted(client, alice, clock, login):
    login("alice")  # a second login, on the clock's day like the first
    body = get_statistics(client, alice, **{"from": "2026-11-15", "to": "2026-11-15"})
    assert flat(body) == {("2026-11-15", "ACCOUNT", "NOTRACE"): (0, 0, 0, 2)}
    clock.now = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    login("alice")
    body = get_statistics(client, alice, service="ACCOUNT")
    assert flat(body) == {("2026-11-15", "ACCOUNT", "NOTRACE"): (0, 0, 0, 2)}
    assert flat(get_statistics(client, alice, **{"from": "2026-11-16", "to": "2026-11-16"})) == {
        ("2026-11-16", "ACCOUNT", "NOTRACE"): (0, 0, 0, 1)
    }
