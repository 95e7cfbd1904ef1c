"""Quota enforcement: reservations with per-request, per-day and concurrency limits.

A calculation service asks "may this user start this job now?" with a reservation. The
decision reads the quota's day and its active reservations and writes the grant in one
transaction that holds the quota (its row lock on PostgreSQL, the database's write lock
on SQLite), so concurrent deciders on any worker never grant past a limit.
"""

import math
from datetime import timedelta

from flask import current_app
from sqlalchemy.exc import DBAPIError, IntegrityError

from app import clock, db
from app.db import reservations as store
from app.db import scope
from app.db.quotas import list_quotas
from app.exceptions import ApiError, NotFound
from app.services.own_actions import account_request, process_that_ran_nothing

# Statuses of a process still running: its record does not end its reservation.
RUNNING = ("WAITING", "IN_PROGRESS")
REFUSED = "CANCELED_BY_QUOTA"
# The refusal's request in the user's audit names why: quota_refused_<limit>.
REFUSAL_OPERATION = "quota_refused_{}"


class Refusal(Exception):
    """A limit refuses the reservation: recorded as the user's process, then answered."""

    def __init__(self, limit, status, message, headers=None):
        super().__init__(message)
        self.limit, self.status, self.message, self.headers = limit, status, message, headers


def _check_target(caller, target):
    """Unknown and disabled users are the same 404; a BOT may name only its own
    company's users."""
    if target is None:
        raise NotFound("user")
    if "ADMIN" not in caller["roles"] and target.user["company_key"] != caller["company_key"]:
        raise ApiError(403, "A BOT may reserve only for the users of its own company")
    if not target.user["enabled"]:
        raise NotFound("user")


def _bad(field, problem):
    return ApiError(400, f"Invalid request: {field}: {problem}")


def _check_same(reservation, user, request):
    """The same process_code must name the same reservation."""
    if reservation["user_id"] != user["id"]:
        raise _bad("process_code", "is reserved for another user")
    for field in ("service", "process_type", "points"):
        if reservation[field] != request[field]:
            raise _bad(field, f"differs from the reservation {request['process_code']}'s ({reservation[field]})")


def _decide(quota, used, points, now_us):
    """Raise the Refusal of the first limit the request is over."""
    if quota is None:
        raise Refusal("no_quota", 402, "No quota for this service and process type: the user may not run it")
    if points > quota["points_per_request"]:
        raise Refusal(
            "points_per_request",
            402,
            f"Quota exceeded: points_per_request: {points} points requested,"
            f" the limit is {quota['points_per_request']}",
        )
    total = used.points_used + used.points_reserved + points
    if total > quota["points_per_day"]:
        raise Refusal(
            "points_per_day",
            402,
            f"Quota exceeded: points_per_day: {used.points_used} points used today,"
            f" {used.points_reserved} held by active reservations and {points} requested make {total},"
            f" the limit is {quota['points_per_day']}",
        )
    limit = quota["max_concurrent_execution"]
    if limit == 0:
        raise Refusal(
            "max_concurrent_execution", 402, "Quota exceeded: max_concurrent_execution is 0: the user may not run it"
        )
    if used.active >= limit:
        retry = max(1, math.ceil((used.earliest_expiry_us - now_us) / 1_000_000))
        raise Refusal(
            "max_concurrent_execution",
            429,
            f"Quota exceeded: max_concurrent_execution: {used.active} reservations active,"
            f" the limit is {limit}; the first expires in {retry} s",
            {"Retry-After": str(retry)},
        )


def _refusal_rows(user, request, limit, now_us):
    code = request["process_code"]
    process = {
        # Nothing ran: the statistics' points stay the points consumed.
        **process_that_ran_nothing(code, user, request["service"], request["process_type"], REFUSED, now_us),
        "input_file_exists": False,
        "output_file_exists": False,
    }
    refused_request = account_request(code, user, REFUSAL_OPERATION.format(limit), now_us)
    return process, refused_request


def _answer(request, user, quota, used, expires_us):
    """The reservation's answer; used is the quota's Usage with the reservation counted."""
    return {
        "process_code": request["process_code"],
        "username": user["username"],
        "service": request["service"],
        "process_type": request["process_type"],
        "points": request["points"],
        "expires": clock.from_us(expires_us),
        "remaining": {
            "points_per_day": max(0, quota["points_per_day"] - used.points_used - used.points_reserved),
            "concurrent_executions": max(0, quota["max_concurrent_execution"] - used.active),
        },
    }


def reserve(caller, request):
    """Grant, renew or refuse a reservation; returns the reservation's answer.

    request: username, service, process_type, process_code (str), points, ttl_seconds.
    A refusal by a limit is committed as the user's CANCELED_BY_QUOTA process before its
    error is raised. A connection found dead costs no request: the decision, idempotent
    by process_code, runs once more on a new one."""
    try:
        return _reserve(caller, request)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return _reserve(caller, request)


def _reserve(caller, request):
    now_us = clock.to_us(clock.now())
    expires_us = now_us + request["ttl_seconds"] * 1_000_000
    code, service, process_type = request["process_code"], request["service"], request["process_type"]
    durable = current_app.config["QUOTA_DURABLE_COMMIT"]
    with db.serialized_transaction() as tx:
        # One read, once the quota is held: a concurrent request for the same code has finished.
        target, state, used, day = store.decision_snapshot(
            tx, request["username"], service, process_type, code, now_us, durable
        )
        _check_target(caller, target)
        user, quota = target
        reservation = state.reservation
        if reservation is not None:
            _check_same(reservation, user, request)
        if state.process_user_id is not None and state.process_user_id != user["id"]:
            raise _bad("process_code", "names another user's process")
        if state.process_status is not None and state.process_status not in (*RUNNING, REFUSED):
            raise _bad("process_code", f"the process has ended ({state.process_status})")
        active = reservation is not None and reservation["released_us"] is None and reservation["expires_us"] > now_us
        if active and quota is not None:  # a heartbeat: the same reservation, later expiry
            store.renew(tx, code, expires_us)
            return _answer(request, user, quota, used, expires_us)
        try:
            _decide(quota, used, request["points"], now_us)
        except Refusal as found:
            refusal = found  # recorded once the quota is no longer held (below)
        else:
            values = {"points": request["points"], "day": day, "granted_us": now_us, "expires_us": expires_us}
            if reservation is not None:
                store.regrant(tx, code, values)
            else:
                values.update(process_code=code, user_id=user["id"], service=service, process_type=process_type)
                try:
                    store.insert_reservation(tx, values)
                except IntegrityError as exc:  # the same code, on another quota, a moment earlier
                    raise _bad("process_code", "is reserved for another user, service or process type") from exc
            # What the decision counted, this reservation included (its points in full).
            counted = used._replace(points_reserved=used.points_reserved + request["points"], active=used.active + 1)
            return _answer(request, user, quota, counted, expires_us)
    # The decision's transaction ended with nothing written. The refusal is written in a
    # transaction of its own, which need not hold the quota: it adds a process of 0 points
    # (kept as it is when the code is already stored) and a request, which no decision
    # counts, and a decision for the same code treats a refused process as one that has
    # not run, whichever commits first.
    with db.transaction() as conn:
        store.record_refusal(conn, *_refusal_rows(user, request, refusal.limit, now_us), user["timezone"])
    raise ApiError(refusal.status, refusal.message, refusal.headers)


def release(caller, process_code):
    """End a reservation; an already released or expired one is fine. Unknown: 404."""
    now_us = clock.to_us(clock.now())
    with db.transaction() as conn:
        reservation = store.get_reservation(conn, process_code)
        if reservation is None:
            raise NotFound("reservation")
        if "ADMIN" not in caller["roles"]:
            if reservation["company_key"] != caller["company_key"]:
                raise ApiError(403, "A BOT may release only the reservations of its own company's users")
        store.release(conn, process_code, now_us)


def release_for_records(conn, rows):
    """Automatic release, in the ingestion's transaction: a record with a final status
    ends its process's reservation; from then on the day counts the record's points."""
    ended = {row["process_code"]: row["user_id"] for row in rows if row["status"] not in RUNNING}
    if ended:
        store.release_for_records(conn, ended, clock.to_us(clock.now()))


def usage_of(user):
    """The user's quotas with their use on the user's local day so far."""
    now_us = clock.to_us(clock.now())
    day = store.local_day(now_us, user["timezone"])
    services = {}
    with db.connection() as conn:
        for quota in list_quotas(conn, user["id"], scope.V79):
            used = store.usage(conn, user["id"], quota["service"], quota["process_type"], day.number, *day[1:], now_us)
            services.setdefault(quota["service"], []).append(
                {
                    "process_type": quota["process_type"],
                    "points_per_request": quota["points_per_request"],
                    "points_per_day": quota["points_per_day"],
                    "max_concurrent_execution": quota["max_concurrent_execution"],
                    "points_per_date_window": quota["points_per_date_window"],
                    "points_used": used.points_used,
                    "points_reserved": used.points_reserved,
                    "active_reservations": used.active,
                }
            )
    start = clock.from_us(day.start_us) + timedelta(hours=user["timezone"])
    return {
        "day": start.date(),
        "timezone": user["timezone"],
        "services": [{"service": service, "processes": processes} for service, processes in services.items()],
    }
