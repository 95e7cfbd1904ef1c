"""The service's own operations, recorded as the caller's actions of service ACCOUNT."""

from flask import current_app

from app import clock
from app.db.processes import new_code, upsert_processes
from app.errors import request_code

# Own operations take no calculation: their durations are zero.
_ZERO = "PT0S"


def record_own_action(conn, user, operation, status="FINISHED_IN_TIME"):
    """Record one operation of the caller, in the caller's transaction."""
    now_us = clock.to_us(clock.now())
    code = new_code()
    config = current_app.config
    upsert_processes(
        conn,
        [
            {
                "process_code": code,
                "user_id": user["id"],
                "username": user["username"],
                "company": user["company_key"],
                "service": "ACCOUNT",
                "process_type": "NOTRACE",
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
                "requests": [
                    {
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
                ],
                "point_keys": [],
            }
        ],
    )
