"""Demo data: a company with users, quotas and about 90 days of realistic usage.

Deterministic (a seeded generator and process codes derived from their index), so loading
it twice stores the same records once: ingestion is an upsert by process_code.
"""

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app

from app import clock, db
from app.db import chunked
from app.db import files as file_queries
from app.db import ingest as ingest_queries
from app.db import quotas as quota_queries
from app.db import users as user_queries
from app.security import hash_password

COMPANY = "demo_company"
PASSWORD = "demo_password_1"
DAYS = 90
USERS = (
    ("demo_user", ("USER",), 3),
    ("demo_planner", ("USER",), 0),
    ("demo_bot", ("BOT",), 0),
)
# (service, process type, operation, typical points) of the usage the demo users generate.
WORKLOAD = (
    ("UNIVERSAL", "PLAN", "run_plan_calculation", 400),
    ("UNIVERSAL", "ACTUALIZE", "run_actualize_calculation", 150),
    ("ROUTING", "ROUTE", "run_route_calculation", 60),
    ("ROUTING", "MATRIX", "run_matrix_calculation", 250),
    ("PACKER", "PLAN", "run_pack_calculation", 120),
    ("UNIVERSAL", "VALIDATE", "run_plan_validation", 400),
)
# A quota of demo_user that the demo can exceed with a few reservations (README, "Quota
# enforcement"): no usage of its own, so each limit is reached by the reservations alone.
SMALL_QUOTA = ("UNIVERSAL", "TRACE", {"points_per_request": 500, "points_per_day": 800, "max_concurrent_execution": 2})
STATUSES = ("FINISHED_IN_TIME",) * 8 + ("FINISHED_OUT_OF_TIME", "FAILED", "CANCELED")
_NAMESPACE = uuid.UUID("6f1c9d2e-3c1b-4d7a-9a55-0e1f2a3b4c5d")


def _duration(seconds):
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{seconds}S" if seconds or text == "PT" else "")


def _ensure_users(conn):
    found = {}
    password_hash = None
    for username, roles, timezone in USERS:
        user = user_queries.find_user(conn, username)
        if user is None:
            password_hash = password_hash or hash_password(PASSWORD, current_app.config["BCRYPT_ROUNDS"])
            user = user_queries.create_user(conn, username, COMPANY, password_hash, roles, timezone)
        found[username] = user
    return found


def _records(users, today, rng):
    records, files = [], []
    index = 0
    for days_back in range(DAYS, 0, -1):
        day = today - timedelta(days=days_back)
        for username in ("demo_user", "demo_planner"):
            user = users[username]
            weekend = day.weekday() >= 5
            for _ in range(rng.randint(0, 3) if weekend else rng.randint(3, 12)):
                service, process_type, operation, typical = rng.choice(WORKLOAD)
                index += 1
                code = str(uuid.uuid5(_NAMESPACE, f"process-{index}"))
                start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                    hours=rng.randint(5, 19) - user["timezone"], minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
                )
                time_us = clock.to_us(start)
                points = max(1, int(rng.gauss(typical, typical / 3)))
                keys = sorted({f"site_{rng.randint(1, 2 * typical)}" for _ in range(min(points, 300))})
                requests = [
                    {
                        "process_code": code,
                        "request_code": str(uuid.uuid5(_NAMESPACE, f"request-{index}-{n}")),
                        "username": username,
                        "company": COMPANY,
                        "service": service,
                        "operation": op,
                        "env": "demo",
                        "pod": f"{service.lower()}-pod-{rng.randint(1, 3)}",
                        "time_us": time_us + n * 2_000_000,
                    }
                    for n, op in enumerate(
                        (operation, operation.replace("run_", "read_").replace("_calculation", "_result"))
                    )
                ]
                status = rng.choice(STATUSES)
                records.append(
                    {
                        "process_code": code,
                        "user_id": user["id"],
                        "username": username,
                        "company": COMPANY,
                        "service": service,
                        "process_type": process_type,
                        "time_us": time_us,
                        "status": status,
                        "result_version": rng.randint(1, 20),
                        "preparing_time": _duration(rng.randint(1, 30)),
                        "business_validation_time": _duration(rng.randint(1, 10)),
                        "math_validation_time": _duration(rng.randint(1, 10)),
                        "waiting_time": _duration(rng.randint(0, 120)),
                        "calculation_time": _duration(rng.randint(10, 3600)),
                        "request_points_count": points,
                        "result_elements_count": 0 if status == "FAILED" else int(points * rng.uniform(0.6, 1.0)),
                        "requests": requests,
                        "point_keys": keys,
                    }
                )
                if index % 10 == 0:
                    files.append((code, points, keys))
    return records, files


def load_demo():
    """Create or refresh the demo company; returns (users, processes, files)."""
    rng = random.Random(2024)
    today = clock.now().date()
    with db.transaction() as conn:
        users = _ensure_users(conn)
        for username in ("demo_user", "demo_planner"):
            for service, process_type, _, typical in WORKLOAD:
                quota_queries.set_quota(
                    conn,
                    users[username]["id"],
                    service,
                    process_type,
                    points_per_request=typical * 10,
                    points_per_day=typical * 200,
                    max_concurrent_execution=5,
                )
        service, process_type, limits = SMALL_QUOTA
        quota_queries.set_quota(conn, users["demo_user"]["id"], service, process_type, **limits)
        records, files = _records(users, today, rng)
        for chunk in chunked(records):
            ingest_queries.upsert_processes(conn, chunk)
        for code, points, keys in files:
            task = {"process_code": code, "points": [{"key": key} for key in keys]}
            result = {"process_code": code, "planned_points": points, "status": "ok"}
            file_queries.write_file(conn, code, "INPUT", [json.dumps(task, indent=1).encode()])
            file_queries.write_file(conn, code, "OUTPUT", [json.dumps(result, indent=1).encode()])
    return len(users), len(records), len(files)
