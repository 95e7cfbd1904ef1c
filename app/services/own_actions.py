"""The service's own operations, recorded as the caller's actions of service ACCOUNT."""

from flask import current_app

from app import clock
from app.db.ingest import new_code, upsert_processes
from app.errors import request_code

# Own operations take no calculation: their durations are zero.
_ZERO = "PT0S"


def process_that_ran_nothing(code, user, service, process_type, status, now_us):
    """The row of a process of the user's that took no calculation: zero durations, no
    points, no elements (an own action, or a reservation the quota refused)."""
    return {
        "process_code": code,
        "user_id": user["id"],
        "username": user["username"],
        "company": user["company_key"],
        "service": service,
        "process_type": process_type,
        "time_us": now_us,
        "status": status,
        "result_version": 0,
        "preparing_time": _ZERO,
        "business_validation_time": _ZERO,
        "math_validation_time": _ZERO,
        "waiting_time": _ZERO,
        "calculation_time": _ZERO,
        "request_points_count": 0,
        "result_elements_count": 0,
    }


def account_request(code, user, operation, now_us):
    """The request of process code that the Account service itself served: operation,
    under this request's request_code, env and pod."""
    config = current_app.config
    return {
        "process_code": code,
        "request_code": request_code(),
        "username": user["username"],
        "company": user["company_key"],
        "service": "ACCOUNT",
        "operation": operation,
        "env": config["ENV_ID"],
        "pod": config["POD_ID"],
        "time_us": now_us,
    }


def record_own_action(conn, user, operation, status="FINISHED_IN_TIME"):
    """Record one operation of the caller, in the caller's transaction."""
    now_us = clock.to_us(clock.now())
    code = new_code()
    upsert_processes(
        conn,
        [
            {
                **process_that_ran_nothing(code, user, "ACCOUNT", "NOTRACE", status, now_us),
                "requests": [account_request(code, user, operation, now_us)],
                "point_keys": [],
            }
        ],
    )
