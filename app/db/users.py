"""Queries on users."""

import functools
from datetime import UTC
from typing import NamedTuple

from sqlalchemy import bindparam, delete, func, insert, select, update

from app import clock
from app.db import rollups, tables
from app.db.tables import users
from app.exceptions import NotFound

# Columns a caller may change on their own profile.
EDITABLE_FIELDS = ("specification", "email", "phone", "attributes")


class UserExists(ValueError):
    pass


class ConcurrentChange(RuntimeError):
    """Another request changed the same user first."""


def utcnow():
    """Now, naive UTC, from the service's clock (tests inject theirs)."""
    return clock.now().astimezone(UTC).replace(tzinfo=None)


# find_user's statement; its columns are the table's, in order.
_USER_BY_NAME = select(users).where(users.c.username == bindparam("username"))
_USER_COLUMNS = tuple(users.c.keys())


def _user(values):
    """A users row (a mapping of its columns) as a dict, its dates aware UTC."""
    user = dict(values)
    for name in ("creation_date", "edit_date"):
        if user.get(name) is not None:
            user[name] = user[name].replace(tzinfo=UTC)
    return user


def get_user_by_username(conn, username):
    user = find_user(conn, username)
    if user is None:
        raise NotFound("user")
    return user


def find_user(conn, username):
    """The user or None: for login, where a missing user is not an error of its own."""
    row = conn.execute(_USER_BY_NAME, {"username": username}).first()
    return None if row is None else _user(row._mapping)


def create_user(conn, username, company_key, password_hash, roles, timezone=0):
    if find_user(conn, username) is not None:
        raise UserExists(username)
    now = utcnow()
    conn.execute(
        insert(users).values(
            username=username,
            company_key=company_key,
            password_hash=password_hash,
            enabled=True,
            roles=list(roles),
            timezone=timezone,
            attributes=[],
            token_version=0,
            creation_date=now,
            edit_date=now,
        )
    )
    return get_user_by_username(conn, username)


def update_profile(conn, user_id, changes, editable=EDITABLE_FIELDS):
    """Apply the present fields of an InfoChangeRequest; None clears a field. editable names
    the columns the caller's dialect may change. A timezone among them locks the user's row
    and, when it differs from the stored one, rebuilds the daily roll-ups under it, in the
    caller's transaction: statistics never mix two timezones' days."""
    values = {name: changes[name] for name in editable if name in changes}
    if "timezone" in values:
        rollups.change_timezone(conn, user_id, values["timezone"])
    if "attributes" in values and values["attributes"] is None:
        values["attributes"] = []
    values["edit_date"] = utcnow()
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def change_password(conn, user, password_hash):
    """Compare-and-set on token_version: of two concurrent changes exactly one wins, and
    every token issued before it (both callers' included) stops validating."""
    result = conn.execute(
        update(users)
        .where(users.c.id == user["id"], users.c.token_version == user["token_version"])
        .values(password_hash=password_hash, token_version=users.c.token_version + 1, edit_date=utcnow())
    )
    if result.rowcount != 1:
        raise ConcurrentChange(user["username"])
    return user["token_version"] + 1


def set_enabled(conn, username, enabled):
    """Enable or disable; disabling revokes every token issued so far."""
    user = get_user_by_username(conn, username)
    values = {"enabled": enabled, "edit_date": utcnow()}
    if not enabled:
        values["token_version"] = users.c.token_version + 1
    conn.execute(update(users).where(users.c.id == user["id"]).values(**values))


def set_roles(conn, username, roles):
    """Replace the roles; tokens issued before carry the old roles' rights, so they are revoked."""
    user = get_user_by_username(conn, username)
    conn.execute(
        update(users)
        .where(users.c.id == user["id"])
        .values(roles=list(roles), token_version=users.c.token_version + 1, edit_date=utcnow())
    )


def list_users(conn, company=None):
    """Every user (of one company when given), by company then username."""
    query = select(users).order_by(users.c.company_key, users.c.username)
    if company is not None:
        query = query.where(users.c.company_key == company)
    return [_user(row._mapping) for row in conn.execute(query)]


class UserHoldings(NamedTuple):
    processes: int
    files: int


def holdings(conn, user_id):
    """How many processes the user owns, and how many stored files they have."""
    processes = conn.execute(select(func.count()).where(tables.processes.c.user_id == user_id)).scalar_one()
    files = conn.execute(
        select(func.count())
        .select_from(tables.process_file_chunks.join(tables.processes))
        .where(tables.processes.c.user_id == user_id, tables.process_file_chunks.c.seq == 0)
    ).scalar_one()
    return UserHoldings(processes, files)


def delete_user(conn, username):
    """Delete the user with their quotas, processes, requests, point keys and files (the
    foreign keys cascade; done explicitly too, so no database setting can leave any behind)."""
    user = get_user_by_username(conn, username)
    owned = select(tables.processes.c.process_code).where(tables.processes.c.user_id == user["id"])
    for table in (tables.process_file_chunks, tables.process_points, tables.process_requests):
        conn.execute(delete(table).where(table.c.process_code.in_(owned)))
    conn.execute(delete(tables.processes).where(tables.processes.c.user_id == user["id"]))
    conn.execute(delete(tables.quotas).where(tables.quotas.c.user_id == user["id"]))
    conn.execute(delete(users).where(users.c.id == user["id"]))


# The hot path's statements, compiled once for psycopg2 (%(name)s parameters): plain
# parameterized queries, no SQL PREPARE, which a transaction pooler (PgBouncer) would run
# on one server connection and EXECUTE on another.
_TOKEN_STATE_BY_NAME = select(users.c.enabled, users.c.token_version, users.c.roles).where(
    users.c.username == bindparam("username")
)
_TOKEN_STATE_COLUMNS = ("enabled", "token_version", "roles")


@functools.cache
def _psycopg2_sql(statement):
    from sqlalchemy.dialects.postgresql.psycopg2 import dialect

    return str(statement.compile(dialect=dialect()))


def _fetch_one(conn, statement, username):
    """The row (a tuple) of a hot-path statement, on the driver's connection."""
    with conn.cursor() as cursor:
        cursor.execute(_psycopg2_sql(statement), {"username": username})
        return cursor.fetchone()


def find_user_for_token(conn, username):
    """find_user on the hot path of every authenticated request, for app.db.lookup(): conn
    is a Connection on SQLite, the driver's connection on PostgreSQL. There the same Core
    statement runs on the driver's cursor: none of SQLAlchemy's per-call execution and
    result processing (the driver decodes the JSON columns itself)."""
    if hasattr(conn, "dialect"):  # a SQLAlchemy Connection
        return find_user(conn, username)
    row = _fetch_one(conn, _USER_BY_NAME, username)
    return None if row is None else _user(zip(_USER_COLUMNS, row, strict=True))


def find_token_state(conn, username):
    """What token validation needs of a user, for app.db.lookup(): {enabled, token_version,
    roles} or None. Three columns, not the row: less to send and to decode."""
    if hasattr(conn, "dialect"):
        row = conn.execute(_TOKEN_STATE_BY_NAME, {"username": username}).first()
    else:
        row = _fetch_one(conn, _TOKEN_STATE_BY_NAME, username)
    return None if row is None else dict(zip(_TOKEN_STATE_COLUMNS, row, strict=True))


def set_timezone(conn, user_id, timezone):
    """Store the user's timezone, its roll-ups rebuilt with it (see update_profile)."""
    update_profile(conn, user_id, {"timezone": timezone}, ("timezone",))
