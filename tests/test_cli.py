"""The administration CLI (`flask --app wsgi account ...`), on both databases."""

import json

import pytest
from sqlalchemy.exc import OperationalError

from app import cli
from tests.conftest import PASSWORD


def _invoke(runner, *args, stdin=None):
    return runner.invoke(args=["account", *args], input=stdin)


def _assert_ok(result):
    assert result.exit_code == 0, result.output
    assert result.exception is None
    assert "Error" not in result.output


def _assert_one_error_line(result, *fragments):
    """A refusal: non-zero exit, exactly one `Error: ...` line naming the problem, no traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    assert errors[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def _create(runner, username="bob", *options, password=PASSWORD, company="acme_co"):
    return _invoke(
        runner, "create-user", username, "--company", company, *options, "--password-stdin", stdin=password + "\n"
    )


def _user(db, username):
    rows = db("select * from users where username = :u", u=username)
    if not rows:
        return None
    row = rows[0]
    if isinstance(row["roles"], str):  # JSON as text on SQLite
        row["roles"] = json.loads(row["roles"])
    return row


def _login(client, username, password=PASSWORD):
    return client.post("/account/token/generation", json={"username": username, "password": password})


def _valid(client, token):
    return client.post("/account/token/validation", json=token).get_json()


# --- create-user --------------------------------------------------------------------


def test_create_user_with_roles_timezone_and_password_from_stdin(client, runner, db):
    result = _create(runner, "bob", "--role", "ADMIN", "--role", "USER", "--timezone", "-5")
    _assert_ok(result)
    assert "created user bob" in result.output
    row = _user(db, "bob")
    assert row["company_key"] == "acme_co"
    assert row["roles"] == ["ADMIN", "USER"]
    assert row["timezone"] == -5
    assert row["enabled"] in (True, 1)
    assert row["password_hash"].startswith("$2b$04$") and PASSWORD not in row["password_hash"]
    assert PASSWORD not in result.output

    response = _login(client, "bob")
    assert response.status_code == 200
    assert _valid(client, response.get_json()) == {"valid": True, "roles": ["ADMIN", "USER"]}
    info = client.get("/account/info", headers={"Authorization": f"Bearer {response.get_json()}"}).get_json()
    assert (info["company_key"], info["timezone"], info["roles"]) == ("acme_co", -5, ["ADMIN", "USER"])


def test_create_user_defaults_to_role_user_and_timezone_zero(client, runner, db):
    _assert_ok(_create(runner, "bob", "--role", "BOT", "--role", "BOT"))
    _assert_ok(_create(runner, "carol"))
    assert _user(db, "bob")["roles"] == ["BOT"]  # a repeated role counts once
    row = _user(db, "carol")
    assert (row["roles"], row["timezone"]) == (["USER"], 0)
    assert _login(client, "carol").status_code == 200


def test_password_from_stdin_is_the_first_line_without_its_line_ending(client, runner):
    _assert_ok(
        _invoke(runner, "create-user", "bob", "--company", "acme_co", "--password-stdin", stdin="pass word 1\r\nx\n")
    )
    assert _login(client, "bob", "pass word 1").status_code == 200
    assert _login(client, "bob", "pass word 1\r").status_code == 401


def test_password_prompt_asks_twice(client, runner):
    result = _invoke(runner, "create-user", "bob", "--company", "acme_co", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    _assert_ok(result)
    assert PASSWORD not in result.output  # typed hidden
    assert _login(client, "bob").status_code == 200


def test_duplicate_user_is_refused_and_the_first_one_kept(client, runner, db):
    _assert_ok(_create(runner, "bob", "--timezone", "3"))
    before = _user(db, "bob")
    result = _create(runner, "bob", "--role", "ADMIN", company="other_co", password="another_password")
    _assert_one_error_line(result, "'bob'", "already exists")
    assert db("select count(*) as n from users where username = 'bob'") == [{"n": 1}]
    assert _user(db, "bob") == before
    assert _login(client, "bob").status_code == 200
    assert _login(client, "bob", "another_password").status_code == 401


@pytest.mark.parametrize(
    "username,options,password,fragment",
    [
        ("b", (), PASSWORD, "username"),
        ("u" * 257, (), PASSWORD, "username"),
        ("bad-name", (), PASSWORD, "username"),
        ("bad name", (), PASSWORD, "username"),
        ("bob", ("--company", "ab"), PASSWORD, "company"),
        ("bob", ("--company", "acme/co"), PASSWORD, "company"),
        ("bob", ("--timezone", "13"), PASSWORD, "--timezone"),
        ("bob", ("--timezone", "-13"), PASSWORD, "--timezone"),
        ("bob", ("--timezone", "3.5"), PASSWORD, "--timezone"),
        ("bob", ("--role", "ROOT"), PASSWORD, "--role"),
        ("bob", ("--role", "USER", "--role", "ADMIN", "--role", "BOT"), PASSWORD, "two roles"),
        ("bob", (), "short_pw9", "password"),
        ("bob", (), "p" * 257, "password"),
        ("bob", (), "", "password"),
    ],
)
def test_create_user_refuses_bad_values(runner, db, username, options, password, fragment):
    company = () if "--company" in options else ("--company", "acme_co")
    result = _invoke(runner, "create-user", username, *company, *options, "--password-stdin", stdin=password + "\n")
    _assert_one_error_line(result, fragment)
    assert db("select count(*) as n from users") == [{"n": 0}]


def test_create_user_needs_a_company(runner, db):
    result = _invoke(runner, "create-user", "bob", "--password-stdin", stdin=PASSWORD + "\n")
    _assert_one_error_line(result, "--company")
    assert result.exit_code == 2
    assert db("select count(*) as n from users") == [{"n": 0}]


# --- set-quota ----------------------------------------------------------------------


def _quota_args(username="bob", service="ROUTING", process_type="PLAN", per_request="10", per_day="100", conc="1"):
    return (
        "set-quota",
        username,
        service,
        process_type,
        "--points-per-request",
        per_request,
        "--points-per-day",
        per_day,
        "--max-concurrent",
        conc,
    )


def _quotas(db):
    return db(
        "select service, process_type, points_per_request, points_per_day, max_concurrent_execution,"
        " points_per_date_window from quotas order by service, process_type"
    )


def test_set_quota_inserts_then_replaces(runner, make_user, db):
    make_user(username="bob")
    result = _invoke(runner, *_quota_args(per_request="1000000", per_day="100000000", conc="1000"))
    _assert_ok(result)
    assert "quota set for bob: ROUTING PLAN" in result.output
    assert _quotas(db) == [
        {
            "service": "ROUTING",
            "process_type": "PLAN",
            "points_per_request": 10**6,
            "points_per_day": 10**8,
            "max_concurrent_execution": 1000,
            "points_per_date_window": None,
        }
    ]
    _assert_ok(_invoke(runner, *_quota_args(per_request="0", per_day="0", conc="0"), "--points-per-date-window", "5"))
    assert _quotas(db) == [
        {
            "service": "ROUTING",
            "process_type": "PLAN",
            "points_per_request": 0,
            "points_per_day": 0,
            "max_concurrent_execution": 0,
            "points_per_date_window": 5,
        }
    ]


@pytest.mark.parametrize(
    "overrides,fragment",
    [
        ({"username": "ghost"}, "no user 'ghost'"),
        ({"service": "NOPE"}, "'NOPE' is not one of"),
        ({"process_type": "plan"}, "'plan' is not one of"),
        ({"per_request": "-1"}, "--points-per-request"),
        ({"per_request": "1000001"}, "--points-per-request"),
        ({"per_day": "100000001"}, "--points-per-day"),
        ({"per_day": "ten"}, "--points-per-day"),
        ({"conc": "1001"}, "--max-concurrent"),
    ],
)
def test_set_quota_refuses_bad_values(runner, make_user, db, overrides, fragment):
    make_user(username="bob")
    _assert_ok(_invoke(runner, *_quota_args()))
    before = _quotas(db)
    _assert_one_error_line(_invoke(runner, *_quota_args(**overrides)), fragment)
    assert _quotas(db) == before


def test_set_quota_needs_every_value(runner, make_user, db):
    make_user(username="bob")
    result = _invoke(
        runner, "set-quota", "bob", "ROUTING", "PLAN", "--points-per-request", "1", "--points-per-day", "1"
    )
    _assert_one_error_line(result, "--max-concurrent")
    assert _quotas(db) == []


# --- disable-user / enable-user -------------------------------------------------------


def test_disable_and_enable_user(client, runner, make_user, login, db):
    make_user(username="bob")
    old_token = login("bob")
    version = _user(db, "bob")["token_version"]

    result = _invoke(runner, "disable-user", "bob")
    _assert_ok(result)
    assert "user bob disabled" in result.output
    row = _user(db, "bob")
    assert row["enabled"] in (False, 0)
    assert row["token_version"] == version + 1
    assert _login(client, "bob").status_code == 401
    assert _valid(client, old_token) == {"valid": False, "roles": []}
    assert client.get("/account/info", headers={"Authorization": f"Bearer {old_token}"}).status_code == 401

    result = _invoke(runner, "enable-user", "bob")
    _assert_ok(result)
    assert "user bob enabled" in result.output
    row = _user(db, "bob")
    assert row["enabled"] in (True, 1)
    assert row["token_version"] == version + 1
    # Enabling again does not bring the tokens issued before the disable back.
    assert _valid(client, old_token) == {"valid": False, "roles": []}
    response = _login(client, "bob")
    assert response.status_code == 200
    assert _valid(client, response.get_json()) == {"valid": True, "roles": ["USER"]}


def test_disabling_twice_keeps_the_user_disabled(client, runner, make_user):
    make_user(username="bob")
    _assert_ok(_invoke(runner, "disable-user", "bob"))
    _assert_ok(_invoke(runner, "disable-user", "bob"))
    assert _login(client, "bob").status_code == 401


def test_enabling_an_enabled_user_keeps_its_tokens(client, runner, make_user, login):
    make_user(username="bob")
    token = login("bob")
    _assert_ok(_invoke(runner, "enable-user", "bob"))
    assert _valid(client, token)["valid"] is True


# --- set-roles ----------------------------------------------------------------------


def test_set_roles_replaces_the_roles(client, runner, make_user, login, db):
    make_user(username="bob", roles=("USER",))
    old_token = login("bob")
    result = _invoke(runner, "set-roles", "bob", "--role", "PARTNER", "--role", "BOT", "--role", "PARTNER")
    _assert_ok(result)
    assert "PARTNER, BOT" in result.output
    assert _user(db, "bob")["roles"] == ["PARTNER", "BOT"]
    assert _valid(client, old_token) == {"valid": False, "roles": []}
    assert _valid(client, login("bob")) == {"valid": True, "roles": ["PARTNER", "BOT"]}


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("ghost", "--role", "USER"), "no user 'ghost'"),
        (("bob", "--role", "GOD"), "--role"),
        (("bob",), "--role"),
        (("bob", "--role", "USER", "--role", "ADMIN", "--role", "BOT"), "two roles"),
    ],
)
def test_set_roles_refuses_bad_values(runner, make_user, db, args, fragment):
    make_user(username="bob")
    before = _user(db, "bob")
    _assert_one_error_line(_invoke(runner, "set-roles", *args), fragment)
    assert _user(db, "bob") == before


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["disable-user", "enable-user"])
def test_unknown_user_is_one_error_line(runner, make_user, db, command):
    make_user(username="bob")
    before = _user(db, "bob")
    _assert_one_error_line(_invoke(runner, command, "ghost"), "no user 'ghost'")
    assert _user(db, "bob") == before


def test_database_failure_is_one_error_line_without_a_traceback(runner, monkeypatch, db):
    def broken():
        raise OperationalError("SELECT 1", {}, Exception('relation "users" does not exist\nLINE 1: ...'))

    monkeypatch.setattr(cli.db, "transaction", broken)
    result = _create(runner, "bob")
    line = _assert_one_error_line(result, "database error", 'relation "users" does not exist', "migrate")
    assert "LINE 1" not in result.output and "SELECT" not in line
    assert result.exit_code == 1
    assert db("select count(*) as n from users") == [{"n": 0}]
