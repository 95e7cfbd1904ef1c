"""Queries on the login attempt counters (app.throttle's database store).

A row per key ("user:<casefolded name>" or "addr:<client address>") counts the attempts
taken in its window: the ones being checked now and the failed ones."""

from sqlalchemy import case, delete, update

from app import db
from app.db.tables import login_failures as attempts


class Full(Exception):
    """A key has no attempt left in its window: wait_us until the window ends."""

    def __init__(self, wait_us):
        super().__init__(wait_us)
        self.wait_us = wait_us


def reserve(conn, limits, window_us, now_us):
    """Take one attempt of every key of limits ({key: attempts per window}), or raise Full.

    Each key is one INSERT ... ON CONFLICT DO UPDATE ... RETURNING: it holds the row's lock
    (PostgreSQL) or the database's write lock (SQLite) until the caller's transaction ends,
    so concurrent attempts on a key are counted one after the other, never from the same
    read. The caller rolls back on Full: a refused attempt takes nothing. Keys are taken in
    one order, so two requests never wait on each other. Returns {key: window start}."""
    windows, wait_us = {}, 0
    expired = attempts.c.window_start_us <= now_us - window_us
    for key in sorted(limits):
        stmt = db.upsert(conn, attempts).values(key=key, failures=1, window_start_us=now_us)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "failures": case((expired, 1), else_=attempts.c.failures + 1),
                "window_start_us": case((expired, now_us), else_=attempts.c.window_start_us),
            },
        ).returning(attempts.c.failures, attempts.c.window_start_us)
        row = conn.execute(stmt).one()
        if row.failures > limits[key]:
            wait_us = max(wait_us, row.window_start_us + window_us - now_us)
        windows[key] = row.window_start_us
    if wait_us > 0:
        raise Full(wait_us)
    return windows


def give_back(conn, key, window_start_us):
    """Return one attempt taken in the window that started at window_start_us (a later
    window keeps its count)."""
    conn.execute(
        update(attempts)
        .where(attempts.c.key == key, attempts.c.window_start_us == window_start_us, attempts.c.failures > 0)
        .values(failures=attempts.c.failures - 1)
    )


def reset(conn, key):
    conn.execute(delete(attempts).where(attempts.c.key == key))


def clear(conn, keys):
    """Delete the counters of keys; how many there were."""
    return conn.execute(delete(attempts).where(attempts.c.key.in_(keys))).rowcount
