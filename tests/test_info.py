"""The caller's own profile: GET and PUT /account/info, on both databases."""

import json
from datetime import datetime, timedelta

import pytest

from tests.conftest import assert_tracedata

PROFILE = {
    "specification": "Alice Liddell",
    "email": "alice@example.com",
    "phone": "+71112223333",
    "attributes": [{"key": "department", "value": "logistics"}, {"key": "empty", "value": ""}],
}
EDITABLE = ("specification", "email", "phone", "attributes")
# 256 characters: 64 before the @, labels of at most 63.
EMAIL_256 = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 60 + ".ru"


def _row(db, username="alice"):
    """The user's row as stored, with JSON columns decoded (SQLite returns them as text)."""
    row = db("select * from users where username = :u", u=username)[0]
    for name in ("roles", "attributes"):
        if isinstance(row[name], str):
            row[name] = json.loads(row[name])
    return row


def _stamp(value):
    """A stored naive UTC time as a datetime on both databases."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _put(client, headers, body):
    return client.put("/account/info", json=body, headers=headers)


def test_read_info_is_the_stored_profile_without_the_password(client, auth, db):
    headers = auth(roles=("USER", "ADMIN"), timezone=-3)
    response = client.get("/account/info", headers=headers)
    assert response.status_code == 200
    user = response.get_json()
    assert "password" not in user and "password_hash" not in user and "token_version" not in user
    row = _row(db)
    assert user["username"] == row["username"] == "alice"
    assert user["company_key"] == row["company_key"] == "acme"
    assert user["roles"] == row["roles"] == ["USER", "ADMIN"]
    assert user["timezone"] == row["timezone"] == -3
    assert user["enabled"] is True
    assert user["specification"] is None and user["email"] is None and user["phone"] is None
    assert user["attributes"] == []
    creation = datetime.fromisoformat(user["creation_date"])
    assert creation.utcoffset().total_seconds() == 0
    assert creation.replace(tzinfo=None) == _stamp(row["creation_date"])
    assert user["edit_date"] == user["creation_date"]


def test_update_changes_the_four_fields_and_nothing_else(client, auth, db):
    headers = auth()
    before = _row(db)
    response = _put(client, headers, PROFILE)
    assert response.status_code == 200
    user = response.get_json()
    for name in EDITABLE:
        assert user[name] == PROFILE[name]
    assert client.get("/account/info", headers=headers).get_json() == user

    after = _row(db)
    for name in EDITABLE:
        assert after[name] == PROFILE[name]
    unchanged = set(before) - set(EDITABLE) - {"edit_date"}
    assert {name: after[name] for name in unchanged} == {name: before[name] for name in unchanged}
    assert _stamp(after["edit_date"]) > _stamp(before["edit_date"])
    assert datetime.fromisoformat(user["edit_date"]).replace(tzinfo=None) == _stamp(after["edit_date"])
    # The change is the caller's own recorded action.
    actions = db(
        "select p.username, p.status from processes p join process_requests r on r.process_code = p.process_code"
        " where r.operation = 'update_info'"
    )
    assert actions == [{"username": "alice", "status": "FINISHED_IN_TIME"}]


def test_an_absent_field_stays(client, auth, db):
    headers = auth()
    assert _put(client, headers, PROFILE).status_code == 200
    response = _put(client, headers, {"phone": "+79998887766"})
    assert response.status_code == 200
    expected = {**PROFILE, "phone": "+79998887766"}
    assert {name: response.get_json()[name] for name in EDITABLE} == expected
    assert {name: _row(db)[name] for name in EDITABLE} == expected


def test_an_empty_update_changes_no_field(client, auth, db):
    headers = auth()
    assert _put(client, headers, PROFILE).status_code == 200
    before = _row(db)
    response = _put(client, headers, {})
    assert response.status_code == 200
    after = _row(db)
    assert {name: after[name] for name in EDITABLE} == PROFILE
    assert after["creation_date"] == before["creation_date"]


def test_null_clears_a_field_and_attributes_become_empty(client, auth, db):
    headers = auth()
    assert _put(client, headers, PROFILE).status_code == 200
    response = _put(client, headers, {"specification": None, "email": None})
    assert response.status_code == 200
    user = response.get_json()
    assert user["specification"] is None and user["email"] is None
    assert user["phone"] == PROFILE["phone"] and user["attributes"] == PROFILE["attributes"]

    response = _put(client, headers, {"phone": None, "attributes": None})
    assert response.status_code == 200
    assert response.get_json()["phone"] is None
    assert response.get_json()["attributes"] == []
    row = _row(db)
    assert (row["specification"], row["email"], row["phone"], row["attributes"]) == (None, None, None, [])


def test_an_empty_attribute_list_replaces_the_old_one(client, auth, db):
    headers = auth()
    assert _put(client, headers, PROFILE).status_code == 200
    assert _put(client, headers, {"attributes": []}).get_json()["attributes"] == []
    assert _row(db)["attributes"] == []


def test_edit_date_moves_and_creation_date_never_does(client, auth, db):
    headers = auth()
    created = _row(db)["creation_date"]
    dates = []
    for body in (PROFILE, {"specification": "Second"}, {"email": None}, {}):
        response = _put(client, headers, body)
        assert response.status_code == 200
        user = response.get_json()
        row = _row(db)
        assert row["creation_date"] == created
        assert datetime.fromisoformat(user["creation_date"]).replace(tzinfo=None) == _stamp(created)
        dates.append(_stamp(row["edit_date"]))
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert dates[0] > _stamp(created)


def test_dates_follow_the_services_clock(client, auth, db, clock):
    created_at = clock.now.replace(tzinfo=None)
    headers = auth()
    assert _stamp(_row(db)["creation_date"]) == created_at
    clock.now += timedelta(days=2, seconds=5)
    response = _put(client, headers, {"phone": "+70000000000"})
    assert response.status_code == 200
    row = _row(db)
    assert _stamp(row["creation_date"]) == created_at
    assert _stamp(row["edit_date"]) == clock.now.replace(tzinfo=None)
    assert datetime.fromisoformat(response.get_json()["edit_date"]) == clock.now


def test_only_the_callers_profile_changes(client, auth, make_user, db):
    headers = auth()
    make_user(username="bob")
    bob_before = _row(db, "bob")
    assert _put(client, headers, PROFILE).status_code == 200
    assert _row(db, "bob") == bob_before


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "field,value",
    [
        ("username", "mallory"),
        ("company_key", "evil_company"),
        ("roles", ["ADMIN"]),
        ("enabled", False),
        ("timezone", 5),
        ("password", "new_long_password"),
        ("password_hash", "$2b$04$" + "x" * 53),
        ("token_version", 7),
        ("creation_date", "2020-01-01T00:00:00+00:00"),
        ("edit_date", "2020-01-01T00:00:00+00:00"),
        ("id", 2),
        ("name", "6.20 AccountInfo field"),
    ],
)
def test_forbidden_and_unknown_fields_are_400_and_change_nothing(client, auth, db, field, value):
    headers = auth()
    before = _row(db)
    response = _put(client, headers, {"specification": "Would change", field: value})
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert body["message"] == f"Invalid request: {field}: Unknown field."
    assert_tracedata(body, "update_info", "alice", "acme")
    assert _row(db) == before
    assert db("select count(*) as n from process_requests where operation = 'update_info'") == [{"n": 0}]


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "body,field",
    [
        ({"specification": "A"}, "specification"),
        ({"specification": "s" * 257}, "specification"),
        ({"specification": 12345}, "specification"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": EMAIL_256[:-3] + "x.ru"}, "email"),  # 257 characters
        ({"phone": "1234"}, "phone"),
        ({"phone": "1" * 33}, "phone"),
        ({"attributes": "department=logistics"}, "attributes"),
        ({"attributes": [{"key": "", "value": "v"}]}, "attributes.0.key"),
        ({"attributes": [{"key": "k" * 101, "value": "v"}]}, "attributes.0.key"),
        ({"attributes": [{"key": "k", "value": "v" * 2001}]}, "attributes.0.value"),
        ({"attributes": [{"key": "k"}]}, "attributes.0.value"),
        ({"attributes": [{"key": "k", "value": "v", "extra": "x"}]}, "attributes.0.extra"),
        ({"attributes": [{"key": "k", "value": "v"}, {"key": "k", "value": "v"}]}, "attributes"),
        ({"attributes": [{"key": "k", "value": str(i)} for i in range(1001)]}, "attributes"),
    ],
)
def test_bounds_and_formats_are_400_naming_the_field_and_change_nothing(client, auth, db, body, field):
    headers = auth()
    assert _put(client, headers, PROFILE).status_code == 200
    before = _row(db)
    response = _put(client, headers, {**PROFILE, **body})
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert message.startswith(f"Invalid request: {field}: "), message
    assert_tracedata(response.get_json(), "update_info", "alice", "acme")
    assert _row(db) == before


@pytest.mark.parametrize(
    "body",
    [
        {"specification": "AB"},
        {"specification": "s" * 256},
        {"specification": "Алиса Лидделл 愛麗絲"},
        {"email": "a@b.cc"},
        {"email": EMAIL_256},
        {"phone": "12345"},
        {"phone": "1" * 32},
        {"attributes": [{"key": "k", "value": ""}, {"key": "k" * 100, "value": "v" * 2000}]},
        {"attributes": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]},  # unique as a whole
        {"attributes": [{"key": "k", "value": str(i)} for i in range(1000)]},
    ],
)
def test_values_at_the_bounds_are_stored(client, auth, db, body):
    headers = auth()
    response = _put(client, headers, body)
    assert response.status_code == 200, response.get_json()
    ((field, value),) = body.items()
    assert response.get_json()[field] == value
    assert _row(db)[field] == value


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "data,content_type,status,expected",
    [
        ("[]", "application/json", 400, "JSON object"),
        ('"text"', "application/json", 400, "JSON object"),
        ('{"specification": "ok", }', "application/json", 400, "not a valid JSON"),
        ('{"specification": "ok"}', "text/plain", 415, "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(client, auth, db, data, content_type, status, expected):
    headers = auth()
    before = _row(db)
    response = client.put("/account/info", data=data, content_type=content_type, headers=headers)
    assert response.status_code == status
    assert expected in response.get_json()["message"]
    assert _row(db) == before


def test_a_revoked_token_cannot_read_or_update(client, auth, runner, db):
    headers = auth()
    assert runner.invoke(args=["account", "disable-user", "alice"]).exit_code == 0
    before = _row(db)
    assert client.get("/account/info", headers=headers).status_code == 401
    assert _put(client, headers, PROFILE).status_code == 401
    assert _row(db) == before
