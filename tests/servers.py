"""A real gunicorn server for the contract tests, and the plain-HTTP and CLI calls they
make beside the reference clients."""

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete

from app.config import normalize_database_url
from app.db.tables import metadata

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60
CALL_SECONDS = 120


@dataclass
class Server:
    host: str
    env: dict
    process: subprocess.Popen = None
    pid: int = 0  # gunicorn's master

    def workers(self):
        """The worker processes' ids."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []


@contextmanager
def gunicorn(database_url, workdir, database_from_env=True, gunicorn_args=(), **settings):
    """gunicorn (two workers, gunicorn.conf.py, then gunicorn_args) serving wsgi:app on
    database_url, with the ACCOUNT_<NAME> settings given (and none from this process's
    environment; SHUTDOWN_DELAY is 0 unless given, so that stopping it takes no longer
    than it must); database_from_env=False: the URL is not in the environment
    (workdir/instance/config.py names it). Its socket is bound and
    listening before it starts, so the first request waits in the backlog until a worker
    takes it: no polling. The tables are emptied afterwards: the session database
    outlives the module, and is left as empty as the `app` fixture leaves it."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCOUNT_")}
    env.update(ACCOUNT_INSTANCE_PATH=str(workdir / "instance"), ACCOUNT_SHUTDOWN_DELAY="0")
    if database_from_env:
        env.update(ACCOUNT_DATABASE_URL=database_url)
    env.update({f"ACCOUNT_{name}": value for name, value in settings.items()})
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    host = f"http://127.0.0.1:{listener.getsockname()[1]}"
    stderr_path = workdir / "gunicorn.err"
    fd = listener.fileno()
    os.set_inheritable(fd, True)
    with open(workdir / "gunicorn.out", "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"fd://{fd}", "--workers", "2", *gunicorn_args, "wsgi:app"],
            cwd=REPO_ROOT,
            env=env,
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    listener.close()  # gunicorn holds it now: if it dies, connections are refused at once
    try:
        try:
            with urllib.request.urlopen(f"{host}/account/system/check", timeout=STARTUP_SECONDS) as response:
                assert json.load(response) == {"health": 1.0}
        except (OSError, AssertionError, ValueError) as exc:
            pytest.fail(f"gunicorn did not serve ({exc}):\n{stderr_path.read_text()[-4000:]}", pytrace=False)
        yield Server(host=host, env=env, process=process, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        _empty_tables(database_url)


def _empty_tables(database_url):
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))
    finally:
        engine.dispose()


def cli(server, *args, stdin=None):
    """Run `flask --app wsgi account ...` against the server's database; assert success."""
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "account", *args],
        cwd=REPO_ROOT,
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CALL_SECONDS,
    )
    assert result.returncode == 0, f"CLI {args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def call(server, token, method, path, body, content_type):
    """(status, body bytes) of a plain HTTP request with a bearer token (the producer API,
    which the reference clients do not know)."""
    request = urllib.request.Request(
        f"{server.host}{path}",
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=CALL_SECONDS) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
