"""Login throttling: failures are counted per username (case-folded) and per client
address in a fixed window; past a threshold every attempt, the correct password
included, is refused with a 429 until the window ends. A success resets the username's
count. Counters live in the database (the default) or in Redis (ACCOUNT_REDIS_URL), so
several workers and hosts share them."""

import math

from flask import current_app, request
from sqlalchemy import case, delete, select

from app import clock, db
from app.db.tables import login_failures

US = 1_000_000


def _keys(username):
    return {
        f"user:{username.casefold()}": current_app.config["LOGIN_MAX_FAILURES"],
        f"addr:{request.remote_addr or 'unknown'}": current_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
    }


class DatabaseCounters:
    def retry_after(self, keys, window_us, now_us):
        with db.connection() as conn:
            rows = conn.execute(select(login_failures).where(login_failures.c.key.in_(list(keys)))).all()
        waits = [
            row.window_start_us + window_us - now_us
            for row in rows
            if row.failures >= keys[row.key] and row.window_start_us + window_us > now_us
        ]
        return max(waits, default=0)

    def fail(self, keys, window_us, now_us):
        with db.transaction() as conn:
            for key in sorted(keys):
                stmt = db.upsert(conn, login_failures).values(key=key, failures=1, window_start_us=now_us)
                expired = login_failures.c.window_start_us <= now_us - window_us
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["key"],
                        set_={
                            "failures": case((expired, 1), else_=login_failures.c.failures + 1),
                            "window_start_us": case((expired, now_us), else_=login_failures.c.window_start_us),
                        },
                    )
                )

    def reset(self, key):
        with db.transaction() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.key == key))


class RedisCounters:
    def __init__(self, url):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    @staticmethod
    def _name(key):
        return f"account:login-failures:{key}"

    def retry_after(self, keys, window_us, now_us):
        names = list(keys)
        with self.redis.pipeline() as pipe:
            for key in names:
                pipe.get(self._name(key))
                pipe.pttl(self._name(key))
            results = pipe.execute()
        waits = []
        for index, key in enumerate(names):
            count, ttl_ms = results[2 * index], results[2 * index + 1]
            if count is not None and int(count) >= keys[key] and ttl_ms > 0:
                waits.append(ttl_ms * 1000)
        return max(waits, default=0)

    def fail(self, keys, window_us, now_us):
        with self.redis.pipeline() as pipe:
            for key in sorted(keys):
                pipe.incr(self._name(key))
                # NX: the window starts with the first failure and is not extended by later ones.
                pipe.pexpire(self._name(key), window_us // 1000, nx=True)
            pipe.execute()

    def reset(self, key):
        self.redis.delete(self._name(key))


def counters():
    app = current_app
    if "account_throttle" not in app.extensions:
        url = app.config.get("REDIS_URL")
        app.extensions["account_throttle"] = RedisCounters(url) if url else DatabaseCounters()
    return app.extensions["account_throttle"]


def _window_us():
    return current_app.config["LOGIN_WINDOW_SECONDS"] * US


def retry_after(username):
    """Seconds the caller must wait before trying this username again (0: go ahead)."""
    if not current_app.config["LOGIN_THROTTLE"]:
        return 0
    wait_us = counters().retry_after(_keys(username), _window_us(), clock.to_us(clock.now()))
    return math.ceil(wait_us / US) if wait_us > 0 else 0


def record_failure(username):
    if current_app.config["LOGIN_THROTTLE"]:
        counters().fail(_keys(username), _window_us(), clock.to_us(clock.now()))


def record_success(username):
    if current_app.config["LOGIN_THROTTLE"]:
        counters().reset(f"user:{username.casefold()}")
