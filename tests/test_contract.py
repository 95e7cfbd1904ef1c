"""Contract: a real gunicorn server, driven through the unmodified reference client.

The reference client `vrt_lss_account` 7.9 is the ground truth: every call here goes
through its typed API and its own (de)serialization, so a response it cannot parse, a
wrong status or a token it cannot send back fails the contract. Users and quotas are
made with the real administration CLI, in a subprocess, against the same database.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import vrt_lss_account
from sqlalchemy import create_engine, delete
from vrt_lss_account import (
    ApiClient,
    ApiException,
    Attribute,
    AuthApi,
    CheckResult,
    General400,
    General404,
    InfoApi,
    InfoChangeRequest,
    PasswordChangeRequest,
    ProcessType,
    QuotasApi,
    QuotasResult,
    Service,
    SystemApi,
    TokenRequest,
    TokenValidationResult,
    User,
    UserRole,
    VersionResult,
)

from app.config import normalize_database_url
from app.db.tables import metadata

pytestmark = pytest.mark.contract

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "contract-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "contract_password_1"
ENV_ID = "contract"
STARTUP_SECONDS = 30
CLI_SECONDS = 60


@dataclass
class Server:
    host: str
    env: dict


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(database_url, instance_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCOUNT_")}
    env.update(
        ACCOUNT_DATABASE_URL=database_url,
        ACCOUNT_JWT_SECRET=SECRET,
        ACCOUNT_BCRYPT_ROUNDS="4",
        ACCOUNT_ENV_ID=ENV_ID,
        ACCOUNT_INSTANCE_PATH=str(instance_path),
    )
    return env


def _tail(path, limit=4000):
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-limit:]


def _wait_ready(host, process, stderr_path):
    deadline = time.monotonic() + STARTUP_SECONDS
    last_error = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{_tail(stderr_path)}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{host}/account/system/check", timeout=2) as response:
                if response.status == 200 and json.load(response) == {"health": 1.0}:
                    return
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last_error = exc
        time.sleep(0.2)
    pytest.fail(
        f"gunicorn not ready within {STARTUP_SECONDS}s ({last_error}):\n{_tail(stderr_path)}",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    """gunicorn with two workers on a free port, on the backend of `database_url`."""
    workdir = tmp_path_factory.mktemp("contract")
    env = _environment(database_url, workdir / "instance")
    port = _free_port()
    host = f"http://127.0.0.1:{port}"
    stdout_path, stderr_path = workdir / "gunicorn.out", workdir / "gunicorn.err"
    gunicorn = shutil.which("gunicorn", path=str(BIN)) or str(BIN / "gunicorn")
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        _wait_ready(host, process, stderr_path)
        yield Server(host=host, env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        _empty_tables(database_url)


def _empty_tables(database_url):
    """The session database outlives this module: leave it as empty as the `app` fixture does."""
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))
    finally:
        engine.dispose()


def _cli(server, *args, stdin=None):
    """Run `flask --app wsgi account ...` against the server's database; assert success."""
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "account", *args],
        cwd=REPO_ROOT,
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLI_SECONDS,
    )
    assert result.returncode == 0, f"CLI {args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def new_user(server):
    """new_user(prefix, timezone=0) -> a fresh username made with the CLI (password PASSWORD)."""

    def create(prefix="contract", company="contract_co", timezone=0):
        username = f"{prefix}_{uuid.uuid4().hex[:12]}"
        _cli(
            server,
            "create-user",
            username,
            "--company",
            company,
            "--timezone",
            str(timezone),
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        return username

    return create


@pytest.fixture
def client(server):
    """client(token=None) -> a reference ApiClient on the server, authenticated with token."""

    def make(token=None):
        configuration = vrt_lss_account.Configuration(host=server.host)
        if token is not None:
            configuration.access_token = token
        return ApiClient(configuration)

    return make


def _login(client, username, password=PASSWORD):
    token = AuthApi(client()).run_token_generation(TokenRequest(username=username, password=password))
    assert isinstance(token, str)
    return token


def _assert_tracedata(tracedata, operation, username="anonymous", company="anonymous"):
    assert tracedata.service == Service.ACCOUNT
    assert tracedata.operation == operation
    assert tracedata.username == username
    assert tracedata.company == company
    assert tracedata.env == ENV_ID
    assert len(tracedata.pod) >= 2
    assert str(uuid.UUID(tracedata.request_code)) == tracedata.request_code
    assert isinstance(tracedata.time, datetime)
    assert tracedata.time.tzinfo is not None


def test_system_operations(client):
    system = SystemApi(client())

    health = system.check()
    assert isinstance(health, CheckResult)
    assert health.health == 1.0

    version = system.version()
    assert isinstance(version, VersionResult)
    assert (version.major, version.minor) == (7, 9)
    assert version.build


@pytest.mark.parametrize("filename,heading", [("file_en.html", "Operations"), ("file_ru.html", "Операции")])
def test_documentation_files(client, filename, heading):
    page = SystemApi(client()).file(filename)
    assert isinstance(page, str)
    assert "<html" in page
    assert heading in page
    for operation in ("run_token_generation", "run_token_validation", "read_info", "update_info", "read_quota"):
        assert operation in page


def test_token_profile_and_password_lifecycle(client, new_user):
    username = new_user("lifecycle", company="contract_co", timezone=3)

    # The token as the client returns it: the JSON string, quotes included.
    token = _login(client, username)
    assert token.startswith('"') and token.endswith('"')
    assert json.loads(token).count(".") == 2

    auth = AuthApi(client())
    validation = auth.run_token_validation(body=token)
    assert isinstance(validation, TokenValidationResult)
    assert validation.valid is True
    assert validation.roles == [UserRole.USER]

    # The client sends the token back verbatim: `Authorization: Bearer "<jwt>"`.
    info = InfoApi(client(token))
    user = info.read_info()
    assert isinstance(user, User)
    assert user.username == username
    assert user.company_key == "contract_co"
    assert user.roles == [UserRole.USER]
    assert user.timezone == 3
    assert user.enabled is True
    assert user.password is None
    assert isinstance(user.creation_date, datetime)
    assert user.creation_date.tzinfo is not None

    attributes = [Attribute(key="department", value="logistics"), Attribute(key="empty", value="")]
    updated = info.update_info(
        InfoChangeRequest(
            specification="Contract Tester",
            email="contract@example.com",
            phone="+71112223333",
            attributes=attributes,
        )
    )
    assert isinstance(updated, User)
    assert updated.username == username
    assert updated.specification == "Contract Tester"
    assert updated.email == "contract@example.com"
    assert updated.phone == "+71112223333"
    assert updated.attributes == attributes
    assert updated.company_key == "contract_co"
    assert updated.timezone == 3
    assert info.read_info() == updated

    new_password = "contract_password_2"
    new_token = AuthApi(client(token)).change_password(
        PasswordChangeRequest(current_password=PASSWORD, new_password=new_password)
    )
    assert isinstance(new_token, str)
    assert new_token != token

    # Every token issued before the change is revoked at once.
    with pytest.raises(ApiException) as caught:
        info.read_info()
    assert caught.value.status == 401
    assert auth.run_token_validation(body=token) == TokenValidationResult(valid=False, roles=[])

    assert auth.run_token_validation(body=new_token).valid is True
    assert InfoApi(client(new_token)).read_info().username == username

    # The new password logs in, the old one no longer does.
    assert isinstance(_login(client, username, new_password), str)
    with pytest.raises(ApiException) as caught:
        _login(client, username, PASSWORD)
    assert caught.value.status == 401


def test_read_quota_returns_the_quotas_set_with_the_cli(client, server, new_user):
    username = new_user("quota")
    quotas = [
        ("ROUTING", "MATRIX", 1000, 50000, 2),
        ("ROUTING", "PLAN", 500, 100000, 3),
        ("UNIVERSAL", "TRACE", 0, 100000000, 1000),
    ]
    for service, process_type, per_request, per_day, concurrent in quotas:
        _cli(
            server,
            "set-quota",
            username,
            service,
            process_type,
            "--points-per-request",
            str(per_request),
            "--points-per-day",
            str(per_day),
            "--max-concurrent",
            str(concurrent),
        )

    result = QuotasApi(client(_login(client, username))).read_quota()
    assert isinstance(result, QuotasResult)
    assert [service.service for service in result.base.services] == [Service.ROUTING, Service.UNIVERSAL]
    got = sorted(
        (
            service.service.value,
            process.process_type.value,
            process.points_per_request,
            process.points_per_day,
            process.max_concurrent_execution,
        )
        for service in result.base.services
        for process in service.processes
    )
    assert got == sorted(quotas)
    assert isinstance(result.base.services[0].processes[0].process_type, ProcessType)


def test_read_quota_without_quotas_is_general404(client, new_user):
    username = new_user("noquota", company="contract_co")
    with pytest.raises(ApiException) as caught:
        QuotasApi(client(_login(client, username))).read_quota()
    assert caught.value.status == 404
    body = General404.from_json(caught.value.body)
    assert caught.value.data == body  # the client parsed it as its documented General404 too
    assert body.resource_key == "quota"
    _assert_tracedata(body.detail.tracedata, "read_quota", username, "contract_co")


def test_wrong_password_is_401(client, new_user):
    username = new_user("wrongpw")
    with pytest.raises(ApiException) as caught:
        _login(client, username, "not_the_right_password")
    assert caught.value.status == 401
    with pytest.raises(ApiException) as caught:
        _login(client, f"nobody_{uuid.uuid4().hex[:12]}")
    assert caught.value.status == 401


def test_invalid_email_is_general400(client, new_user):
    username = new_user("bademail", company="contract_co")
    info = InfoApi(client(_login(client, username)))
    with pytest.raises(ApiException) as caught:
        info.update_info(InfoChangeRequest(email="not-an-email"))
    assert caught.value.status == 400
    body = General400.from_json(caught.value.body)
    assert caught.value.data == body
    _assert_tracedata(body.tracedata, "update_info", username, "contract_co")
    assert "email" in body.message
    # Nothing was changed.
    assert info.read_info().email is None


def test_unknown_file_is_general404(client):
    with pytest.raises(ApiException) as caught:
        SystemApi(client()).file("nofile.html")
    assert caught.value.status == 404
    body = General404.from_json(caught.value.body)
    assert caught.value.data == body
    assert body.resource_key
    _assert_tracedata(body.detail.tracedata, "file")


def test_missing_token_is_401(client):
    with pytest.raises(ApiException) as caught:
        InfoApi(client()).read_info()
    assert caught.value.status == 401
