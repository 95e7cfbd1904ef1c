"""Login throttling: attempts are counted per username (case-folded) and per client
address in a fixed window; past a threshold every attempt, the correct password
included, is refused with a 429 until the window ends. A success resets the username's
count. Counters live in the database (the default) or in Redis (ACCOUNT_REDIS_URL), so
several workers and hosts share them.

An attempt is reserved, atomically, before its password is checked, and a success gives
it back: however many attempts run at once, at most the threshold's number of passwords
is ever checked per window, per username and per address."""

import math
from dataclasses import dataclass

from flask import current_app, request

from app import clock, db
from app.db import throttle as queries

US = 1_000_000


class Locked(Exception):
    """No attempt left: retry after this many seconds."""

    def __init__(self, retry_after):
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reservation:
    """The attempt an evaluation holds: {key: start of the window it was taken in}."""

    user_key: str
    windows: dict


def _limits(username):
    return {
        f"user:{username.casefold()}": current_app.config["LOGIN_MAX_FAILURES"],
        f"addr:{request.remote_addr or 'unknown'}": current_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
    }


class DatabaseCounters:
    def reserve(self, limits, window_us, now_us):
        with db.transaction() as conn:  # Full rolls it back: a refused attempt takes nothing
            return queries.reserve(conn, limits, window_us, now_us)

    def succeed(self, user_key, windows):
        with db.transaction() as conn:
            for key, window_start_us in sorted(windows.items()):
                if key == user_key:
                    queries.reset(conn, key)
                else:
                    queries.give_back(conn, key, window_start_us)


# One script, run atomically by Redis, per operation: the check and the increment of
# every key happen with no other client in between. A counter is a hash {n: attempts,
# w: window start (us)}; its expiry only cleans up, the window is the service's clock.
_RESERVE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local taken, wait = {}, 0
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'n', 'w')
  local count, start = tonumber(state[1]), state[2]
  if count == nil or start == false or tonumber(start) <= now - window then
    count, start = 0, ARGV[1]
  end
  if count >= tonumber(ARGV[2 + i]) then
    wait = math.max(wait, tonumber(start) + window - now)
  end
  taken[i] = {count + 1, start}
end
if wait > 0 then
  return {wait}
end
local result = {0}
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'n', taken[i][1], 'w', taken[i][2])
  redis.call('PEXPIRE', key, math.ceil((tonumber(taken[i][2]) + window - now) / 1000))
  result[i + 1] = taken[i][2]
end
return result
"""
_GIVE_BACK = """
if redis.call('HGET', KEYS[1], 'w') == ARGV[1] and tonumber(redis.call('HGET', KEYS[1], 'n')) > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
"""


class RedisCounters:
    def __init__(self, url):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._reserve = self.redis.register_script(_RESERVE)
        self._give_back = self.redis.register_script(_GIVE_BACK)

    @staticmethod
    def _name(key):
        return f"account:login-attempts:{key}"

    def reserve(self, limits, window_us, now_us):
        keys = sorted(limits)
        result = self._reserve(
            keys=[self._name(key) for key in keys], args=[now_us, window_us, *(limits[key] for key in keys)]
        )
        if result[0]:
            raise queries.Full(int(result[0]))
        return {key: int(start) for key, start in zip(keys, result[1:], strict=True)}

    def succeed(self, user_key, windows):
        for key, window_start_us in windows.items():
            if key == user_key:
                self.redis.delete(self._name(key))
            else:
                self._give_back(keys=[self._name(key)], args=[window_start_us])

    def clear(self, keys):
        return self.redis.delete(*(self._name(key) for key in keys)) if keys else 0


def clear(keys):
    """Forget the counters of keys ("user:<casefolded name>", "addr:<address>") in the
    database and, when configured, in Redis (an operator's unlock). Returns how many
    counters existed."""
    with db.transaction() as conn:
        cleared = queries.clear(conn, keys)
    url = current_app.config.get("REDIS_URL")
    return cleared + (RedisCounters(url).clear(keys) if url else 0)


def counters():
    app = current_app
    if "account_throttle" not in app.extensions:
        url = app.config.get("REDIS_URL")
        app.extensions["account_throttle"] = RedisCounters(url) if url else DatabaseCounters()
    return app.extensions["account_throttle"]


def reserve(username):
    """Take one attempt for username and the client address, before the password is
    checked: a Reservation (None when throttling is off), or Locked."""
    if not current_app.config["LOGIN_THROTTLE"]:
        return None
    window_us = current_app.config["LOGIN_WINDOW_SECONDS"] * US
    try:
        windows = counters().reserve(_limits(username), window_us, clock.to_us(clock.now()))
    except queries.Full as exc:
        # A worker whose clock reading came before the window's start would count past it.
        raise Locked(max(1, math.ceil(min(exc.wait_us, window_us) / US))) from None
    return Reservation(f"user:{username.casefold()}", windows)


def record_success(reservation):
    """The password was right: the username's count starts again and the address gets its
    attempt back. A failure keeps its attempt: nothing to record."""
    if reservation is not None:
        counters().succeed(reservation.user_key, reservation.windows)
