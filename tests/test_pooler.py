"""Behind a transaction pooler (PgBouncer, pool_mode = transaction) a statement may run on
any server connection, and session state does not survive: the hot path must not depend on
it (no SQL PREPARE). Here PgBouncer also discards every server connection's state after
each transaction (server_reset_query_always), so a statement prepared by one request is
never there for the next: the hot path on today's main fails on its first request."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from sqlalchemy.engine import make_url

from app.config import normalize_database_url
from tests.conftest import PASSWORD

pytestmark = pytest.mark.postgresql_only


def _pgbouncer_binary():
    """PgBouncer, installed from Debian when missing (as `make bench` installs wrk)."""
    binary = shutil.which("pgbouncer") or (os.path.exists("/usr/sbin/pgbouncer") and "/usr/sbin/pgbouncer")
    if not binary and os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-qq", "pgbouncer"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            subprocess.run(install, capture_output=True)
        binary = shutil.which("pgbouncer") or (os.path.exists("/usr/sbin/pgbouncer") and "/usr/sbin/pgbouncer")
    if not binary:
        pytest.fail("pgbouncer is not installed (apt-get install pgbouncer)", pytrace=False)
    return binary


@pytest.fixture
def pooled_url(database_url):
    """database_url through a PgBouncer in transaction pooling mode."""
    target = make_url(normalize_database_url(database_url))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # PgBouncer refuses to run as root: it drops to nobody, who must read its files.
    folder = tempfile.mkdtemp(prefix="account_pgbouncer_")
    os.chmod(folder, 0o755)
    user = target.username or "postgres"
    with open(os.path.join(folder, "users.txt"), "w") as handle:
        handle.write(f'"{user}" "{target.password or ""}"\n')
    with open(os.path.join(folder, "pgbouncer.ini"), "w") as handle:
        handle.write(
            "[databases]\n"
            f"* = host={target.host or '127.0.0.1'} port={target.port or 5432} user={user}"
            + (f" password={target.password}" if target.password else "")
            + "\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {folder}/users.txt\n"
            "pool_mode = transaction\ndefault_pool_size = 4\n"
            # The service's connections ask for jit=off as a startup option; PgBouncer
            # refuses unknown ones unless told to ignore them (see README, Production).
            "ignore_startup_parameters = options\n"
            "server_reset_query = DISCARD ALL\nserver_reset_query_always = 1\n"
        )
    for name in os.listdir(folder):
        os.chmod(os.path.join(folder, name), 0o644)
    command = [_pgbouncer_binary(), os.path.join(folder, "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]
    log = open(os.path.join(folder, "log"), "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"pgbouncer did not start: {open(log.name).read()[-2000:]}", pytrace=False)
                time.sleep(0.05)
        yield target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


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
