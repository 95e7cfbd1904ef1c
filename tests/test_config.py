"""Configuration the way an operator sets it: the defaults, then config.py in the instance
folder, then ACCOUNT_<NAME> variables; and a bad value stops the CLI and gunicorn with one
`Error: ...` line naming the setting."""

import json
import os
import subprocess

import jwt
import pytest

from app import create_app
from app.config import ConfigError, normalize_database_url
from tests import servers
from tests.conftest import PASSWORD, TEST_SECRET

FILE_SECRET = "file-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An empty instance folder, named by ACCOUNT_INSTANCE_PATH alone."""
    for name in list(os.environ):
        if name.startswith("ACCOUNT_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("ACCOUNT_INSTANCE_PATH", str(folder))
    return folder


def _environment(instance, **settings):
    """The environment of an operator's command: no ACCOUNT_* but the instance folder and settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCOUNT_")}
    env["ACCOUNT_INSTANCE_PATH"] = str(instance)
    env.update({f"ACCOUNT_{name}": value for name, value in settings.items()})
    return env


def _flask(env, *args, stdin=None):
    return subprocess.run(
        [str(servers.BIN / "flask"), "--app", "wsgi", "account", *args],
        cwd=servers.REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=servers.CALL_SECONDS,
    )


def _built(overrides=None):
    app = create_app(overrides)
    app.extensions["account_db"].dispose()
    return app


def test_defaults_then_instance_file_then_environment_then_create_app(instance, database_url, monkeypatch):
    (instance / "config.py").write_text(
        f"DATABASE_URL = {database_url!r}\n"
        f"JWT_SECRET = {FILE_SECRET!r}\n"
        'ENV_ID = "from_file"\n'
        'POD_ID = "file_pod"\n'
        "BCRYPT_ROUNDS = 5\n"
    )
    monkeypatch.setenv("ACCOUNT_POD_ID", "env_pod")
    monkeypatch.setenv("ACCOUNT_BCRYPT_ROUNDS", "6")
    config = _built().config
    assert config["DATABASE_URL"] == normalize_database_url(database_url)
    assert config["JWT_SECRET"] == FILE_SECRET
    assert config["ENV_ID"] == "from_file"  # the file over the default
    assert (config["POD_ID"], config["BCRYPT_ROUNDS"]) == ("env_pod", 6)  # the environment over the file
    assert config["JWT_LEEWAY"] == 5  # untouched: the default
    assert _built({"BCRYPT_ROUNDS": 4}).config["BCRYPT_ROUNDS"] == 4  # create_app's mapping last
    # The settings module's own names stay out of the app's configuration.
    assert not {"DEFAULTS", "WEAK_SECRETS", "MIN_SECRET_BYTES"} & set(config)


@pytest.mark.parametrize(
    "file_text,env,message",
    [
        ('JWT_SECRET = "changeme"\n', {}, r"JWT_SECRET \(set by .*config\.py\) is weak or a placeholder"),
        ('BCRYPT_ROUNDS = "twelve"\n', {}, r"BCRYPT_ROUNDS must be an integer, got 'twelve' \(set by .*config\.py\)"),
        ("", {"ACCOUNT_BCRYPT_ROUNDS": "twelve"}, r"ACCOUNT_BCRYPT_ROUNDS must be an integer, got 'twelve'"),
        ("BCRYPT_ROUNDS = 40\n", {}, r"BCRYPT_ROUNDS must be between 4 and 31 \(set by .*config\.py\)"),
        ('LOGIN_THROTTLE = "no"\n', {}, r"LOGIN_THROTTLE must be True or False"),
        ('DATABASE_URL = "mysql://root:hunter2@db/account"\n', {}, r"DATABASE_URL \(set by .*\) is not a database"),
        ("", {"ACCOUNT_DATABASE_URL": "oracle://scott@db"}, r"DATABASE_URL \(set by ACCOUNT_DATABASE_URL\) is not"),
        ('REDIS_URL = "http://cache"\n', {}, r"REDIS_URL must be a redis://"),
        ("JWT_SECRET = (\n", {}, r"config\.py cannot be read: SyntaxError"),
    ],
)
def test_a_bad_setting_stops_the_start(instance, monkeypatch, file_text, env, message):
    (instance / "config.py").write_text(file_text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as caught:
        create_app()
    assert "hunter2" not in str(caught.value)  # a URL's password is never echoed


def test_the_cli_reads_the_instance_file_and_the_environment_wins(instance, database_url, tmp_path):
    (instance / "config.py").write_text(f"DATABASE_URL = {database_url!r}\nJWT_SECRET = {FILE_SECRET!r}\n")
    env = _environment(instance, BCRYPT_ROUNDS="4")
    try:
        created = _flask(env, "create-user", "bob", "--company", "acme", "--password-stdin", stdin=PASSWORD + "\n")
        assert created.returncode == 0, created.stderr
        # bob is in the file's database: the session's, where the test client finds him.
        app = create_app({"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET})
        login = app.test_client().post("/account/token/generation", json={"username": "bob", "password": PASSWORD})
        assert login.status_code == 200
        app.extensions["account_db"].dispose()
        # ACCOUNT_DATABASE_URL wins over the file: migrate creates that database instead.
        other = tmp_path / "from_env.db"
        migrated = _flask({**env, "ACCOUNT_DATABASE_URL": f"sqlite:///{other}"}, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert other.stat().st_size > 0
    finally:
        servers._empty_tables(database_url)


@pytest.mark.parametrize(
    "file_text,env,setting",
    [
        ('JWT_SECRET = "changeme"\n', {}, "JWT_SECRET"),
        ("", {"BCRYPT_ROUNDS": "twelve"}, "ACCOUNT_BCRYPT_ROUNDS"),
        ('DATABASE_URL = "mysql://root@db/account"\n', {}, "DATABASE_URL"),
    ],
)
def test_the_cli_stops_with_one_error_line(instance, file_text, env, setting):
    (instance / "config.py").write_text(file_text)
    for args in (["migrate"], ["create-user", "bob", "--company", "acme", "--password-stdin"]):
        result = _flask(_environment(instance, **env), *args, stdin=PASSWORD + "\n")
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {setting}"), result.stderr
        assert result.stdout == ""


def _login(server, password):
    body = json.dumps({"username": "bob", "password": password}).encode()
    return servers.call(server, "", "POST", "/account/token/generation", body, "application/json")


def test_gunicorn_serves_with_the_instance_file_and_the_environment_wins(database_url, tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        f'DATABASE_URL = {database_url!r}\nJWT_SECRET = {FILE_SECRET!r}\nENV_ID = "from_file"\nPOD_ID = "file_pod"\n'
    )
    with servers.gunicorn(database_url, tmp_path, database_from_env=False, ENV_ID="from_env") as server:
        servers.cli(server, "create-user", "bob", "--company", "acme", "--password-stdin", stdin=PASSWORD + "\n")
        status, body = _login(server, PASSWORD)
        assert status == 200
        claims = jwt.decode(body.decode().strip('"'), FILE_SECRET, algorithms=["HS256"], audience="vrt-platform")
        assert claims["sub"] == "bob"  # signed with the file's secret
        status, body = _login(server, "wrong_password")
        assert status == 401
        tracedata = json.loads(body)["tracedata"]
        assert (tracedata["env"], tracedata["pod"]) == ("from_env", "file_pod")


@pytest.mark.parametrize("config", [["--config", "gunicorn.conf.py"], ["--config", "/dev/null"]])
def test_gunicorn_stops_with_one_error_line(tmp_path, config):
    """As `make run` starts it (gunicorn.conf.py: the master stops first, one line) and
    without its settings file (a worker stops the master rather than being restarted
    forever; when both workers fail at the same instant, gunicorn 23-27's halt may print
    its own HaltServer traceback after the Error lines: a gunicorn race, not ours)."""
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text('BCRYPT_ROUNDS = "twelve"\n')
    result = subprocess.run(
        [str(servers.BIN / "gunicorn"), *config, "--bind", "127.0.0.1:0", "--workers", "2", "wsgi:app"],
        cwd=servers.REPO_ROOT,
        env=_environment(instance),
        capture_output=True,
        text=True,
        timeout=servers.STARTUP_SECONDS,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert set(errors) == {"Error: BCRYPT_ROUNDS must be an integer, got 'twelve' (set by " + f"{instance}/config.py)"}
    if config[1] == "gunicorn.conf.py":
        assert len(errors) == 1 and "Booting worker" not in result.stderr
        assert "Traceback" not in result.stderr
    else:
        assert "App failed to load" in result.stderr


def test_environment_values_are_read_as_their_setting_type_not_as_json(instance, database_url, monkeypatch):
    """from_prefixed_env's default json.loads would turn these into a number, None, a list."""
    secret = '["not", "a", "list", "but", "a", "secret", "string"]'
    for name, value in {
        "DATABASE_URL": database_url,
        "JWT_SECRET": secret,
        "ENV_ID": "0123",
        "POD_ID": "null",
        "BCRYPT_ROUNDS": "05",
        "LOGIN_THROTTLE": "Off",
        "QUOTA_DURABLE_COMMIT": "yes",
    }.items():
        monkeypatch.setenv(f"ACCOUNT_{name}", value)
    config = _built().config
    assert (config["JWT_SECRET"], config["ENV_ID"], config["POD_ID"]) == (secret, "0123", "null")
    assert config["BCRYPT_ROUNDS"] == 5
    assert config["LOGIN_THROTTLE"] is False and config["QUOTA_DURABLE_COMMIT"] is True


@pytest.mark.parametrize(
    "env,message",
    [
        ({"ACCOUNT_LOGIN_THROTTLE": "maybe"}, r"^ACCOUNT_LOGIN_THROTTLE must be true or false, got 'maybe'$"),
        ({"ACCOUNT_METRICS_PORT": "9O90"}, r"^ACCOUNT_METRICS_PORT must be an integer, got '9O90'$"),
        ({"ACCOUNT_ENV_ID": "x", "ACCOUNT_ENV_ID__A": "y"}, r"^ACCOUNT_ names with __ are not settings"),
    ],
)
def test_a_bad_environment_value_names_its_variable(instance, monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        create_app()


def test_unknown_account_variables_are_reported_by_name_and_ignored(instance, database_url, monkeypatch, caplog):
    hidden = "hunter2-hunter2-hunter2-hunter2-hunter2"
    monkeypatch.setenv("ACCOUNT_DATABASE_URL", database_url)
    monkeypatch.setenv("ACCOUNT_JWT_SECRET", FILE_SECRET)
    monkeypatch.setenv("ACCOUNT_JWT_SECRTE", hidden)  # a typo: the operator must hear of it
    monkeypatch.setenv("ACCOUNT_LOG__LEVEL", "debug")  # from_prefixed_env's nested form
    monkeypatch.setenv("ACCOUNT_TEST_DATABASE_URL", database_url)  # read by the tests, not a setting
    with caplog.at_level("WARNING", logger="app.config"):
        config = _built().config
    warnings = [record.getMessage() for record in caplog.records if record.name == "app.config"]
    assert warnings == ["ACCOUNT_JWT_SECRTE, ACCOUNT_LOG__LEVEL: not settings of the service, ignored"]
    assert hidden not in caplog.text
    assert not {"JWT_SECRTE", "LOG", "TEST_DATABASE_URL", "INSTANCE_PATH"} & set(config)
    assert config["JWT_SECRET"] == FILE_SECRET


def test_gunicorns_master_reads_the_layers_unchecked(instance, monkeypatch, caplog):
    """config.read(): what gunicorn.conf.py and the log set-up read in the master, which
    builds no app; check() reports a bad value there."""
    from app import config as settings

    (instance / "config.py").write_text('METRICS = "port"\nMETRICS_PORT = 9100\nBCRYPT_ROUNDS = 99\n')
    monkeypatch.setenv("ACCOUNT_METRICS_PORT", "9200")
    monkeypatch.setenv("ACCOUNT_LOG_FORMAT", "json")
    monkeypatch.setenv("ACCOUNT_UNKNOWN", "x")
    with caplog.at_level("WARNING", logger="app.config"):
        read = settings.read()
    assert (read["METRICS"], read["METRICS_PORT"], read["LOG_FORMAT"]) == ("port", 9200, "json")
    assert read["BCRYPT_ROUNDS"] == 99 and read["JWT_SECRET"] == ""  # neither checked nor completed
    assert "UNKNOWN" not in read and not caplog.records  # create_app and check() report it
    with pytest.raises(ConfigError, match="BCRYPT_ROUNDS must be between 4 and 31"):
        settings.check()
