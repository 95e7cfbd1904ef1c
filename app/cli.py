"""Administration commands: `flask --app wsgi account ...`."""

import re
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from app import db
from app.db import NotFound
from app.db import quotas as quota_queries
from app.db import users as user_queries
from app.security import hash_password
from schemas.common import USER_ROLES
from schemas.user import User
from schemas.v6 import METHOD_GROUPS, SERVICE_NAMES


class AccountGroup(AppGroup):
    """Database failures become one clear line and exit status 1, never a traceback."""

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
