"""Real servers for the tests (gunicorn serving the service, PgBouncer in front of the
session's PostgreSQL), started by the launcher the bench uses too, and the plain-HTTP and
CLI calls the tests make beside the reference clients."""

import subprocess
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, delete

import launcher
from app.config import normalize_database_url
from app.db.tables import metadata

REPO_ROOT = launcher.ROOT
BIN = launcher.BIN
STARTUP_SECONDS = launcher.gunicorn.STARTUP_SECONDS
CALL_SECONDS = 120


@contextmanager
def gunicorn(database_url, workdir, database_from_env=True, gunicorn_args=(), **settings):
    """gunicorn (two workers, gunicorn.conf.py, then gunicorn_args) serving wsgi:app on
    database_url, with the ACCOUNT_<NAME> settings given (and none from this process's
    environment; SHUTDOWN_DELAY is 0 unless given, so that stopping it takes no longer
    than it must); database_from_env=False: the URL is not in the environment
    (workdir/instance/config.py names it). Its output is in workdir/gunicorn.out and
    gunicorn.err. The tables are emptied afterwards: the session database outlives the
    module, and is left as empty as the `app` fixture leaves it."""
    settings = {"INSTANCE_PATH": str(workdir / "instance"), "SHUTDOWN_DELAY": "0", **settings}
    if database_from_env:
        settings.setdefault("DATABASE_URL", database_url)
    server = launcher.Gunicorn(launcher.environment(**settings), workdir, args=gunicorn_args)
    try:
        try:
            server.start()
        except launcher.LaunchError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield server
    finally:
        server.stop()
        _empty_tables(database_url)


@contextmanager
def pgbouncer(database_url, workdir, pool_size=6):
    """database_url through PgBouncer in transaction pooling mode (launcher.pgbouncer)."""
    try:
        with launcher.pgbouncer(database_url, workdir, pool_size) as url:
            yield url
    except launcher.LaunchError as exc:  # only the launcher raises it
        pytest.fail(str(exc), pytrace=False)


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
