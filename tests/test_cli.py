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


# --- list-users / show-user -----------------------------------------------------------


def _upload(client, headers, process_code, flow="INPUT"):
    response = client.put(
        f"/account/data/{process_code}",
        query_string={"data_flow_type": flow},
        data=b'{"task": 1}',
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 204, response.get_json()


def test_list_users_all_and_by_company(runner, make_user):
    make_user(username="zed", company="beta", roles=("ADMIN", "USER"), timezone=3)
    make_user(username="amy", company="beta", enabled=False)
    make_user(username="bob", company="acme", timezone=-5)

    result = _invoke(runner, "list-users")
    _assert_ok(result)
    lines = [line.split() for line in result.output.splitlines()]
    assert lines == [
        ["USERNAME", "COMPANY", "ROLES", "ENABLED", "TIMEZONE"],
        ["bob", "acme", "USER", "yes", "-5"],
        ["amy", "beta", "USER", "no", "+0"],
        ["zed", "beta", "ADMIN,USER", "yes", "+3"],
    ]
    assert "$2b$" not in result.output

    result = _invoke(runner, "list-users", "--company", "beta")
    _assert_ok(result)
    assert [line.split()[0] for line in result.output.splitlines()] == ["USERNAME", "amy", "zed"]

    result = _invoke(runner, "list-users", "--company", "nobody_co")
    _assert_ok(result)
    assert result.output == "no users in company nobody_co\n"


def test_list_users_of_an_empty_database(runner, db):
    result = _invoke(runner, "list-users")
    _assert_ok(result)
    assert result.output == "no users\n"


def test_show_user_with_quotas_processes_and_files(client, runner, make_user, ingest, producer, db):
    from tests.conftest import process_record

    make_user(username="bob", timezone=3)
    _assert_ok(_invoke(runner, *_quota_args("bob", per_request="10", per_day="100", conc="2")))
    records = [process_record(username="bob") for _ in range(3)]
    ingest(*records)
    _upload(client, producer(), records[0]["process_code"], "INPUT")
    _upload(client, producer(), records[0]["process_code"], "OUTPUT")
    _upload(client, producer(), records[1]["process_code"], "INPUT")

    result = _invoke(runner, "show-user", "bob")
    _assert_ok(result)
    fields = dict(line.split(":", 1) for line in result.output.splitlines() if not line.startswith(" "))
    fields = {name: value.strip() for name, value in fields.items()}
    assert fields["username"] == "bob"
    assert fields["company"] == "acme"
    assert fields["roles"] == "USER"
    assert fields["enabled"] == "yes"
    assert fields["timezone"] == "+3"
    assert fields["processes"] == "3"
    assert fields["files"] == "3"
    assert fields["attributes"] == "[]"
    assert "  ROUTING PLAN: 10 points a request, 100 a day, 2 concurrent" in result.output.splitlines()
    assert "$2b$" not in result.output and "password" not in result.output


def test_show_user_without_quotas(runner, make_user):
    make_user(username="bob")
    result = _invoke(runner, "show-user", "bob")
    _assert_ok(result)
    assert "quotas:        none" in result.output
    assert "processes:     0" in result.output


@pytest.mark.parametrize(
    "args,fragment,status",
    [
        (("list-users", "extra"), "unexpected extra argument", 2),
        (("list-users", "--company"), "--company", 2),
        (("show-user",), "USERNAME", 2),
        (("show-user", "ghost"), "no user 'ghost'", 1),
    ],
)
def test_list_and_show_refuse_bad_arguments(runner, make_user, args, fragment, status):
    make_user(username="bob")
    result = _invoke(runner, *args)
    _assert_one_error_line(result, fragment)
    assert result.exit_code == status


# --- reset-password -------------------------------------------------------------------


def test_reset_password_from_stdin_revokes_tokens(client, runner, make_user, login, db):
    make_user(username="bob")
    old_token = login("bob")
    before = _user(db, "bob")

    result = _invoke(runner, "reset-password", "bob", "--password-stdin", stdin="a_brand_new_password\n")
    _assert_ok(result)
    assert "password of bob reset" in result.output
    assert "a_brand_new_password" not in result.output
    after = _user(db, "bob")
    assert after["token_version"] == before["token_version"] + 1
    assert after["password_hash"] != before["password_hash"]
    assert _valid(client, old_token) == {"valid": False, "roles": []}
    assert client.get("/account/info", headers={"Authorization": f"Bearer {old_token}"}).status_code == 401
    assert _login(client, "bob").status_code == 401
    response = _login(client, "bob", "a_brand_new_password")
    assert response.status_code == 200
    assert _valid(client, response.get_json()) == {"valid": True, "roles": ["USER"]}


def test_reset_password_prompts_twice_hidden(client, runner, make_user):
    make_user(username="bob")
    result = _invoke(runner, "reset-password", "bob", stdin="another_password1\nanother_password1\n")
    _assert_ok(result)
    assert "another_password1" not in result.output
    assert _login(client, "bob", "another_password1").status_code == 200


def test_reset_password_prompt_mismatch_changes_nothing(client, runner, make_user, db):
    make_user(username="bob")
    before = _user(db, "bob")
    result = _invoke(runner, "reset-password", "bob", stdin="another_password1\ndifferent_pass22\n")
    assert result.exit_code != 0
    assert _user(db, "bob") == before
    assert _login(client, "bob").status_code == 200


@pytest.mark.parametrize(
    "args,stdin,fragment",
    [
        (("ghost", "--password-stdin"), PASSWORD + "\n", "no user 'ghost'"),
        (("bob", "--password-stdin"), "short_pw9\n", "password"),
        (("bob", "--password-stdin"), "p" * 257 + "\n", "password"),
        ((), None, "USERNAME"),
        (("bob", "--password"), None, "--password"),
    ],
)
def test_reset_password_refuses_bad_values(client, runner, make_user, login, db, args, stdin, fragment):
    make_user(username="bob")
    token = login("bob")
    before = _user(db, "bob")
    _assert_one_error_line(_invoke(runner, "reset-password", *args, stdin=stdin), fragment)
    assert _user(db, "bob") == before
    assert _valid(client, token)["valid"] is True


# --- unlock ---------------------------------------------------------------------------


def _from(address):
    """Log in from a client address of the test's own: Redis db 15 is shared by runs."""

    def login(client, username, password=PASSWORD):
        return client.post(
            "/account/token/generation",
            json={"username": username, "password": password},
            environ_base={"REMOTE_ADDR": address},
        )

    return login


def _lock_out(client, username, attempts, login=_login):
    for _ in range(attempts):
        assert login(client, username, "wrong_password_0").status_code == 401
    response = login(client, username)
    assert response.status_code == 429, response.get_json()


@pytest.fixture(params=["database", "redis"])
def counters_in(request, app):
    """The login counters in the database, or in Redis (db 15, keys unique to the test)."""
    if request.param == "redis":
        app.config["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    return request.param


@pytest.fixture
def unique():
    """A username and a client address no other test or run uses (they share Redis db 15)."""
    import uuid

    from redis import Redis

    code = uuid.uuid4().hex[:8]
    name, address = f"unlock_{code}", f"2001:db8::{code[:4]}:{code[4:]}"
    yield name, address
    redis = Redis.from_url("redis://127.0.0.1:6379/15")
    keys = [f"user:{name}", f"addr:{address}"] + [f"user:{name}_x{i}" for i in range(3)]
    redis.delete(*(f"account:login-failures:{key}" for key in keys))


def test_unlock_a_username(client, runner, make_user, counters_in, unique, db):
    name, address = unique
    make_user(username=name)
    _lock_out(client, name, 5, _from(address))

    result = _invoke(runner, "unlock", "--user", name.upper())  # names are case-folded
    _assert_ok(result)
    assert f"unlocked {name.upper()} (1 counter cleared)" in result.output
    assert _from(address)(client, name).status_code == 200
    if counters_in == "database":
        assert db("select key from login_failures where key like 'user:%'") == []


def test_unlock_an_address(app, client, runner, make_user, counters_in, unique, db):
    name, address = unique
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    make_user(username=name)
    login = _from(address)
    for other in (f"{name}_x{i}" for i in range(3)):
        assert login(client, other, "wrong_password_0").status_code == 401
    assert login(client, name).status_code == 429  # the address is locked, whoever logs in

    result = _invoke(runner, "unlock", "--address", address)
    _assert_ok(result)
    assert f"unlocked {address} (1 counter cleared)" in result.output
    assert login(client, name).status_code == 200
    if counters_in == "database":
        # the login after the unlock took an attempt and gave it back: nothing is counted
        assert db("select key from login_failures where key like 'addr:%' and failures > 0") == []
    # Nothing counted: unlocking clears nothing and still succeeds.
    result = _invoke(runner, "unlock", "--user", f"{name}_nobody")
    _assert_ok(result)
    assert "(0 counters cleared)" in result.output


@pytest.mark.parametrize(
    "args,fragment",
    [
        ((), "--user or --address"),
        (("--address", "not-an-ip"), "--address"),
        (("--address", "10.0.0.256"), "--address"),
        (("--user", " "), "--user"),
        (("bob",), "unexpected extra argument"),
    ],
)
def test_unlock_refuses_bad_arguments(client, runner, make_user, db, args, fragment):
    make_user(username="bob")
    _lock_out(client, "bob", 5)
    _assert_one_error_line(_invoke(runner, "unlock", *args), fragment)
    assert _login(client, "bob").status_code == 429  # still locked


def test_unlock_reports_an_unreachable_redis(app, client, runner, make_user):
    make_user(username="bob")
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    _assert_one_error_line(_invoke(runner, "unlock", "--user", "bob"), "redis error")


# --- delete-user ----------------------------------------------------------------------


def _owned_rows(db, username):
    return {
        table: db(
            f"select count(*) as n from {table} t join processes p on p.process_code = t.process_code"
            " where p.username = :u",
            u=username,
        )[0]["n"]
        for table in ("process_requests", "process_points", "process_file_chunks")
    } | {"processes": db("select count(*) as n from processes where username = :u", u=username)[0]["n"]}


@pytest.fixture
def bob_with_data(client, runner, make_user, ingest, producer):
    from tests.conftest import process_record

    make_user(username="bob")
    make_user(username="carol")
    _assert_ok(_invoke(runner, *_quota_args("bob")))
    _assert_ok(_invoke(runner, *_quota_args("carol")))
    bobs = [process_record(username="bob", point_keys=["a", "b"], requests=2) for _ in range(2)]
    carols = [process_record(username="carol", point_keys=["a"])]
    ingest(*bobs, *carols)
    _upload(client, producer(), bobs[0]["process_code"])
    _upload(client, producer(), carols[0]["process_code"])
    return bobs, carols


def test_delete_user_with_yes_removes_everything_of_theirs(client, runner, login, db, bob_with_data):
    bobs, carols = bob_with_data
    carol_token = login("carol")
    carol_before = _owned_rows(db, "carol")
    assert _owned_rows(db, "bob") == {
        "process_requests": 4,
        "process_points": 4,
        "process_file_chunks": 1,
        "processes": 2,
    }

    result = _invoke(runner, "delete-user", "bob", "--yes")
    _assert_ok(result)
    assert "deleted user bob of company acme, 2 processes and 1 files" in result.output
    assert _user(db, "bob") is None
    assert _owned_rows(db, "bob") == {
        "process_requests": 0,
        "process_points": 0,
        "process_file_chunks": 0,
        "processes": 0,
    }
    assert db("select count(*) as n from quotas q left join users u on u.id = q.user_id where u.id is null") == [
        {"n": 0}
    ]
    assert db("select count(*) as n from quotas") == [{"n": 1}]
    # Carol keeps all of hers.
    assert _owned_rows(db, "carol") == carol_before
    headers = {"Authorization": f"Bearer {carol_token}"}
    response = client.get(f"/account/data/{carols[0]['process_code']}?data_flow_type=INPUT", headers=headers)
    assert response.status_code == 200
    assert _login(client, "bob").status_code == 401


def test_delete_user_asks_first(runner, db, bob_with_data):
    result = _invoke(runner, "delete-user", "bob", stdin="n\n")
    _assert_one_error_line(result, "not confirmed")
    assert "Delete user bob of company acme, 2 processes and 1 files?" in result.output
    assert _user(db, "bob") is not None
    assert _owned_rows(db, "bob")["processes"] == 2

    result = _invoke(runner, "delete-user", "bob", stdin="y\n")
    _assert_ok(result)
    assert _user(db, "bob") is None
    assert _owned_rows(db, "bob")["processes"] == 0


@pytest.mark.parametrize(
    "args,fragment,status",
    [(("ghost", "--yes"), "no user 'ghost'", 1), ((), "USERNAME", 2), (("bob", "--force"), "--force", 2)],
)
def test_delete_user_refuses_bad_arguments(runner, make_user, db, args, fragment, status):
    make_user(username="bob")
    result = _invoke(runner, "delete-user", *args)
    _assert_one_error_line(result, fragment)
    assert result.exit_code == status
    assert _user(db, "bob") is not None


# --- backup ---------------------------------------------------------------------------


def test_backup(app, runner, make_user, backend, tmp_path):
    import sqlite3

    make_user(username="bob")
    target = tmp_path / "copy.db"
    if backend == "postgresql":
        _assert_one_error_line(_invoke(runner, "backup", str(target)), "pg_dump")
        assert not target.exists()
        return
    # A transaction still open in another connection is not in the copy: the copy is one
    # consistent snapshot of what was committed.
    writer = sqlite3.connect(app.extensions["account_db"].url.database, timeout=30)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO login_failures (key, failures, window_start_us) VALUES ('user:uncommitted', 1, 0)")
        result = _invoke(runner, "backup", str(target))
    finally:
        writer.rollback()
        writer.close()
    _assert_ok(result)
    assert f"to {target}" in result.output
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("select username from users").fetchall() == [("bob",)]
        assert copy.execute("select count(*) from login_failures").fetchone() == (0,)
        assert copy.execute("select version_num from alembic_version").fetchone() is not None
    finally:
        copy.close()
    assert [path.name for path in tmp_path.iterdir()] == ["copy.db"]  # no partial file left


def test_backups_taken_while_another_connection_writes_are_consistent(app, runner, backend, tmp_path):
    """A writer commits two rows per transaction all along: every copy passes the
    integrity check and holds whole transactions only (an even number of rows)."""
    import sqlite3
    import threading

    if backend == "postgresql":
        _assert_one_error_line(_invoke(runner, "backup", str(tmp_path / "copy.db")), "pg_dump")
        return
    path = app.extensions["account_db"].url.database
    stop, committed = threading.Event(), []

    def write():
        writer = sqlite3.connect(path, timeout=30)
        try:
            for n in range(100_000):
                if stop.is_set():
                    break
                with writer:  # one transaction, committed on leaving
                    for half in ("a", "b"):
                        writer.execute(
                            "INSERT INTO login_failures (key, failures, window_start_us) VALUES (?, 1, 0)",
                            (f"user:w{n}{half}",),
                        )
                committed.append(n)
        finally:
            writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        counts = []
        for index in range(5):
            target = tmp_path / f"copy{index}.db"
            _assert_ok(_invoke(runner, "backup", str(target)))
            copy = sqlite3.connect(target)
            try:
                assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                counts.append(copy.execute("select count(*) from login_failures").fetchone()[0])
            finally:
                copy.close()
    finally:
        stop.set()
        thread.join(timeout=60)
    assert all(count % 2 == 0 for count in counts), counts
    assert counts == sorted(counts) and counts[-1] > 0, counts  # later copies saw more
    assert len(committed) * 2 >= counts[-1]


def test_backup_refuses_an_existing_file_and_no_file(runner, backend, tmp_path):
    target = tmp_path / "exists.db"
    target.write_bytes(b"keep me")
    result = _invoke(runner, "backup", str(target))
    _assert_one_error_line(result, "pg_dump" if backend == "postgresql" else "exists")
    assert target.read_bytes() == b"keep me"
    _assert_one_error_line(_invoke(runner, "backup"), "FILE")


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("list-users",),
        ("show-user", "bob"),
        ("reset-password", "bob", "--password-stdin"),
        ("unlock", "--user", "bob"),
        ("delete-user", "bob", "--yes"),
    ],
)
def test_database_failure_of_the_admin_commands(runner, monkeypatch, make_user, db, args):
    make_user(username="bob")
    before = _user(db, "bob")

    def broken():
        raise OperationalError("SELECT 1", {}, Exception("could not connect to server: Connection refused"))

    monkeypatch.setattr(cli.db, "transaction", broken)
    monkeypatch.setattr(cli.db, "connection", broken)
    result = _invoke(runner, *args, stdin="a_brand_new_password\n")
    _assert_one_error_line(result, "database error", "Connection refused")
    assert result.exit_code == 1
    assert _user(db, "bob") == before


def test_database_failure_of_backup(runner, monkeypatch, make_user, backend, tmp_path):
    import sqlite3

    make_user(username="bob")
    target = tmp_path / "copy.db"
    if backend == "postgresql":  # nothing is read: the command points to pg_dump
        _assert_one_error_line(_invoke(runner, "backup", str(target)), "pg_dump")
        return

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(cli.sqlite3, "connect", broken)
    _assert_one_error_line(_invoke(runner, "backup", str(target)), "backup failed", "disk I/O error")
    assert list(tmp_path.iterdir()) == []
