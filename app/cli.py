"""Administration commands: `flask --app wsgi account ...`."""

import ipaddress
import json
import os
import re
import sqlite3
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from app import db, throttle
from app.db import quotas as quota_queries
from app.db import users as user_queries
from app.exceptions import NotFound
from app.jsonbody import UNSTORABLE, UNSTORABLE_PROBLEM
from app.security import hash_password
from schemas.common import USER_ROLES
from schemas.user import User
from schemas.v6 import METHOD_GROUPS, SERVICE_NAMES


class AccountCommand(click.Command):
    """Text the database cannot store (bytes of a command line that are not UTF-8 reach
    Python as unpaired surrogates) is refused before the command runs, naming the argument."""

    def invoke(self, ctx):
        for name, value in ctx.params.items():
            values = value if isinstance(value, tuple | list) else (value,)
            if any(isinstance(item, str) and UNSTORABLE.search(item) for item in values):
                _fail(f"{name}: {UNSTORABLE_PROBLEM}")
        return super().invoke(ctx)


class AccountGroup(AppGroup):
    """Database failures become one clear line and exit status 1, never a traceback."""

    command_class = AccountCommand

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            _fail(f"database error: {reason} (is the schema migrated? run: flask --app wsgi account migrate)")


account = AccountGroup("account", help="Administer the Account service.")


def _fail(message):
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _validate_user_fields(username, company):
    errors = User(only=("username", "company_key")).validate({"username": username, "company_key": company})
    if errors:
        _fail("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))
    # Stored names are whole words, so they round-trip through every documented field.
    for label, value in (("username", username), ("company", company)):
        if not re.fullmatch(r"\w+", value):
            _fail(f"{label}: only letters, digits and underscores")


def _read_password(from_stdin):
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if UNSTORABLE.search(password):
        _fail(f"password: {UNSTORABLE_PROBLEM}")
    if not 10 <= len(password) <= 256:
        _fail("password: length must be between 10 and 256 characters")
    return password


@account.command("migrate")
def migrate_command():
    """Create or upgrade the database schema to the latest version."""
    from app.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"])
    click.echo("database schema is up to date")


@account.command("create-user")
@click.argument("username")
@click.option("--company", required=True, help="Company key of the user.")
@click.option("--role", "roles", multiple=True, type=click.Choice(USER_ROLES), help="Role (repeat for two).")
@click.option("--timezone", type=click.IntRange(-12, 12), default=0, show_default=True, help="Base timezone.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create_user_command(username, company, roles, timezone, password_stdin):
    """Create a user (default role USER)."""
    _validate_user_fields(username, company)
    roles = list(dict.fromkeys(roles or ("USER",)))
    if len(roles) > 2:
        _fail("a user has at most two roles")
    password = _read_password(password_stdin)
    password_hash = hash_password(password, current_app.config["BCRYPT_ROUNDS"])
    try:
        with db.transaction() as conn:
            user_queries.create_user(conn, username, company, password_hash, roles, timezone)
    except user_queries.UserExists:
        _fail(f"user {username!r} already exists")
    click.echo(f"created user {username} ({', '.join(roles)}) in company {company}")


@account.command("set-quota")
@click.argument("username")
# The 6.20 names are a superset of the 7.9 ones; a quota only 6.20 can name is shown by /v6 alone.
@click.argument("service", type=click.Choice(SERVICE_NAMES))
@click.argument("process_type", type=click.Choice(METHOD_GROUPS))
@click.option("--points-per-request", type=click.IntRange(0, 10**6), required=True)
@click.option("--points-per-day", type=click.IntRange(0, 10**8), required=True)
@click.option("--max-concurrent", type=click.IntRange(0, 1000), required=True)
@click.option("--points-per-date-window", type=click.IntRange(0, 10**8), help="6.20 only; unset when not given.")
def set_quota_command(
    username, service, process_type, points_per_request, points_per_day, max_concurrent, points_per_date_window
):
    """Set (insert or replace) a user's quota for one service and process type."""
    try:
        with db.transaction() as conn:
            user = user_queries.get_user_by_username(conn, username)
            quota_queries.set_quota(
                conn,
                user["id"],
                service,
                process_type,
                points_per_request=points_per_request,
                points_per_day=points_per_day,
                max_concurrent_execution=max_concurrent,
                points_per_date_window=points_per_date_window,
            )
    except NotFound:
        _fail(f"no user {username!r}")
    click.echo(f"quota set for {username}: {service} {process_type}")


@account.command("set-roles")
@click.argument("username")
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice(USER_ROLES), help="Role (repeat for two)."
)
def set_roles_command(username, roles):
    """Replace a user's roles; every token issued before stops working."""
    roles = list(dict.fromkeys(roles))
    if len(roles) > 2:
        _fail("a user has at most two roles")
    try:
        with db.transaction() as conn:
            user_queries.set_roles(conn, username, roles)
    except NotFound:
        _fail(f"no user {username!r}")
    click.echo(f"user {username} now has the roles {', '.join(roles)}")


def _set_enabled(username, enabled):
    try:
        with db.transaction() as conn:
            user_queries.set_enabled(conn, username, enabled)
    except NotFound:
        _fail(f"no user {username!r}")
    click.echo(f"user {username} {'enabled' if enabled else 'disabled'}")


@account.command("disable-user")
@click.argument("username")
def disable_user_command(username):
    """Disable a user: no new token, and every token issued so far stops working."""
    _set_enabled(username, False)


@account.command("enable-user")
@click.argument("username")
def enable_user_command(username):
    """Enable a disabled user again (their old tokens stay revoked)."""
    _set_enabled(username, True)


@account.command("load-demo")
def load_demo_command():
    """Create (or refresh) a demo company with users, quotas and ~90 days of usage."""
    from app.demo import COMPANY, PASSWORD, USERS, load_demo

    users, processes, files = load_demo()
    click.echo(
        f"demo company {COMPANY}: {users} users ({', '.join(name for name, _, _ in USERS)}), "
        f"{processes} processes, {files} with input/output files"
    )
    click.echo(f"log in as demo_user with the password {PASSWORD}")


@account.command("list-users")
@click.option("--company", help="Only the users of this company key.")
def list_users_command(company):
    """List the users: username, company, roles, enabled, timezone."""
    with db.connection() as conn:
        found = user_queries.list_users(conn, company)
    if not found:
        click.echo("no users" + (f" in company {company}" if company else ""))
        return
    rows = [("USERNAME", "COMPANY", "ROLES", "ENABLED", "TIMEZONE")] + [
        (u["username"], u["company_key"], ",".join(u["roles"]), "yes" if u["enabled"] else "no", f"{u['timezone']:+d}")
        for u in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


@account.command("show-user")
@click.argument("username")
def show_user_command(username):
    """Show one user: profile, roles, quotas and how many processes and files they own."""
    try:
        with db.connection() as conn:
            user = user_queries.get_user_by_username(conn, username)
            owned = user_queries.holdings(conn, user["id"])
            quotas = quota_queries.list_quotas(conn, user["id"])
    except NotFound:
        _fail(f"no user {username!r}")
    lines = [
        ("username", user["username"]),
        ("company", user["company_key"]),
        ("roles", ", ".join(user["roles"])),
        ("enabled", "yes" if user["enabled"] else "no"),
        ("timezone", f"{user['timezone']:+d}"),
        ("specification", user["specification"] or ""),
        ("email", user["email"] or ""),
        ("phone", user["phone"] or ""),
        ("attributes", json.dumps(user["attributes"], ensure_ascii=False)),
        ("created", user["creation_date"].isoformat()),
        ("edited", user["edit_date"].isoformat()),
        ("processes", str(owned.processes)),
        ("files", str(owned.files)),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<15}{value}".rstrip())
    click.echo("quotas:" if quotas else "quotas:        none")
    for quota in quotas:
        window = quota["points_per_date_window"]
        click.echo(
            f"  {quota['service']} {quota['process_type']}: {quota['points_per_request']} points a request, "
            f"{quota['points_per_day']} a day, {quota['max_concurrent_execution']} concurrent"
            + ("" if window is None else f", {window} a date window")
        )


@account.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def reset_password_command(username, password_stdin):
    """Set a new password; every token issued before stops working."""
    with db.connection() as conn:  # an unknown user is told before the password is asked
        if user_queries.find_user(conn, username) is None:
            _fail(f"no user {username!r}")
    password_hash = hash_password(_read_password(password_stdin), current_app.config["BCRYPT_ROUNDS"])
    try:
        with db.transaction() as conn:
            user_queries.change_password(conn, user_queries.get_user_by_username(conn, username), password_hash)
    except NotFound:
        _fail(f"no user {username!r}")
    except user_queries.ConcurrentChange:
        _fail(f"the password of {username!r} was changed meanwhile: run the command again")
    click.echo(f"password of {username} reset; every earlier token is revoked")


def _clear_login_failures(keys):
    """Delete the login-attempt counters of the keys wherever they live: the database
    always, Redis when configured. Returns how many counters existed."""
    import redis

    try:
        return throttle.clear(keys)
    except redis.RedisError as exc:
        _fail(f"redis error: {exc}")


@account.command("unlock")
@click.option("--user", "usernames", multiple=True, help="A username whose failed logins are forgotten (repeatable).")
@click.option("--address", "addresses", multiple=True, help="A client IP address likewise (repeatable).")
def unlock_command(usernames, addresses):
    """Clear the login throttling of usernames and client addresses at once."""
    if not usernames and not addresses:
        _fail("name at least one --user or --address")
    keys = []
    for name in usernames:
        if not name.strip():
            _fail("--user: empty username")
        keys.append(f"user:{name.casefold()}")
    for address in addresses:
        try:  # the address as written and in its canonical form (as servers report it)
            keys += [f"addr:{address}", f"addr:{ipaddress.ip_address(address)}"]
        except ValueError:
            _fail(f"--address: {address!r} is not an IP address")
    cleared = _clear_login_failures(list(dict.fromkeys(keys)))
    click.echo(f"unlocked {', '.join(usernames + addresses)} ({cleared} counter{'s' * (cleared != 1)} cleared)")


@account.command("delete-user")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_user_command(username, yes):
    """Delete a user with their quotas, processes and files. Cannot be undone."""
    try:
        with db.connection() as conn:
            user = user_queries.get_user_by_username(conn, username)
            owned = user_queries.holdings(conn, user["id"])
    except NotFound:
        _fail(f"no user {username!r}")
    what = f"user {username} of company {user['company_key']}, {owned.processes} processes and {owned.files} files"
    if not yes and not click.confirm(f"Delete {what}?"):
        _fail("not confirmed: nothing deleted")
    try:
        with db.transaction() as conn:
            user_queries.delete_user(conn, username)
    except NotFound:
        _fail(f"no user {username!r}")
    click.echo(f"deleted {what}")


@account.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def backup_command(file):
    """Copy the embedded SQLite database to FILE, consistently, while the service runs."""
    url = db.engine().url
    if url.get_backend_name() != "sqlite":
        _fail(
            "the database is PostgreSQL: back it up with pg_dump "
            f"(pg_dump --format=custom --file {file} --host {url.host or 'HOST'} "
            f"--username {url.username or 'USER'} {url.database})"
        )
    source_path = url.database
    if not source_path or source_path == ":memory:" or not os.path.exists(source_path):
        _fail(f"no database file {source_path!r} to back up")
    if os.path.exists(file):
        _fail(f"{file} exists: name a new file")
    partial = f"{file}.partial-{os.getpid()}"
    try:
        # The online backup API copies one consistent snapshot, even while workers write.
        source = sqlite3.connect(source_path, timeout=30)
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target)
                check = target.execute("PRAGMA integrity_check").fetchone()[0]
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                target.close()
        finally:
            source.close()
        if check != "ok":
            _fail(f"the copy failed its integrity check: {check}")
        os.replace(partial, file)
    except (sqlite3.Error, OSError) as exc:
        _fail(f"backup failed: {exc}")
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    click.echo(f"backed up {source_path} to {file} ({os.path.getsize(file)} bytes)")


@account.command("set-timezone", context_settings={"ignore_unknown_options": True})
@click.argument("username")
@click.argument("hours", type=click.IntRange(-12, 12))
def set_timezone_command(username, hours):
    """Set a user's base timezone (hours from UTC); their statistics follow at once."""
    try:
        with db.transaction() as conn:
            user = user_queries.get_user_by_username(conn, username)
            user_queries.set_timezone(conn, user["id"], hours)
    except NotFound:
        _fail(f"no user {username!r}")
    click.echo(f"user {username} now has the timezone {hours:+d}")


@account.command("purge")
@click.option("--before", type=click.DateTime(formats=["%Y-%m-%d"]), help="Delete what is older than this day (UTC).")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=500, show_default=True)
def purge_command(before, batch_size):
    """Delete raw processes, their requests, point keys and files older than a day.

    Without --before: RETENTION_DAYS days before today (UTC). Statistics and reports keep
    answering for the purged days (the daily roll-ups stay); audit and data downloads of
    them are gone. Runs in short transactions while the service works; safe to interrupt
    and run again.
    """
    from datetime import UTC, datetime, timedelta

    from app import clock
    from app.db import retention

    if before is None:
        days = current_app.config["RETENTION_DAYS"]
        if not days:
            _fail("give --before YYYY-MM-DD or set RETENTION_DAYS")
        cutoff = clock.now().astimezone(UTC).date() - timedelta(days=days)
    else:
        cutoff = before.date()
    cutoff_us = clock.to_us(datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC))
    with db.connection() as conn:
        total = retention.count_before(conn, cutoff_us)
        owners = retention.users_with_rows_before(conn, cutoff_us)
    purged = 0
    with click.progressbar(length=total, label=f"purging processes before {cutoff}") as bar:
        for user_id in owners:
            while True:
                with db.transaction() as conn:
                    count = retention.purge_batch(conn, user_id, cutoff_us, batch_size)
                purged += count
                bar.update(count)
                if count < batch_size:
                    break
    click.echo(f"purged {purged} processes before {cutoff}")


def register(app):
    app.cli.add_command(account)
