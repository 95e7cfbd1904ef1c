"""PgBouncer in transaction pooling mode in front of a PostgreSQL server (Debian's package,
installed with apt-get when missing and this process may)."""

import os
import pwd
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from app.config import normalize_database_url
from launcher.gunicorn import LaunchError

START_SECONDS = 30
STOP_SECONDS = 10


def binary():
    """PgBouncer's path, installed from Debian when missing (as `make bench` installs wrk)."""
    found = shutil.which("pgbouncer") or (os.path.exists("/usr/sbin/pgbouncer") and "/usr/sbin/pgbouncer")
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-qq", "pgbouncer"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            subprocess.run(install, capture_output=True)
        found = shutil.which("pgbouncer") or (os.path.exists("/usr/sbin/pgbouncer") and "/usr/sbin/pgbouncer")
    if not found:
        raise LaunchError("pgbouncer is not installed: `make test` installs Debian's pgbouncer")
    return found


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@contextmanager
def pgbouncer(database_url, workdir, pool_size=6):
    """PgBouncer in transaction pooling mode in front of database_url's server, its files
    and log in workdir; yields the URL of the same database through it (the same user and
    password). Its admin console is the database "pgbouncer", for that user."""
    url = make_url(normalize_database_url(database_url))
    user = url.username or "postgres"
    workdir = Path(workdir)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir.chmod(0o755)  # PgBouncer refuses to run as root: it drops to another user, who reads its files
    (workdir / "userlist.txt").write_text(f'"{user}" "{url.password or ""}"\n')
    password = f" password={url.password}" if url.password else ""
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={url.host or '127.0.0.1'} port={url.port or 5432} user={user}{password}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {workdir / 'userlist.txt'}\nadmin_users = {user}\n"
        f"pool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = {pool_size}\n"
        # Transaction pooling promises no server-session state from one transaction to the
        # next; wiping it after each one makes a reliance on it fail every time, not once
        # in a while when a statement meets a server connection it has not seen yet.
        "server_reset_query = DISCARD ALL\nserver_reset_query_always = 1\n"
        # The service's connections ask for jit=off in the startup packet, which PgBouncer
        # cannot pass on (set it on the role or the database behind a pooler: README, Production).
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    for name in ("userlist.txt", "pgbouncer.ini"):
        (workdir / name).chmod(0o644)
    command = [binary(), str(workdir / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres" if _user_exists("postgres") else "nobody"]
    log_path = workdir / "pgbouncer.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise LaunchError(f"pgbouncer did not start:\n{log_path.read_text()[-2000:]}") from None
                time.sleep(0.05)
        yield url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
