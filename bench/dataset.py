"""The benchmark's data set, generated inside PostgreSQL (INSERT ... SELECT over
generate_series) into the real tables that `flask account migrate` creates.

Full size: 200 users over 365 days with 1,000,000 processes (one heavy user with 200,000),
5 requests and 10 point keys per process, an input file on 1% of processes. Processes
arrive in time order and the users interleave, as a live service would store them, so a
user's rows are spread over the table rather than packed together. Process codes are
random-looking version-4 UUIDs (md5-derived, so the data set is the same every run).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from app.db.tables import users
from app.security import hash_password

PASSWORD = "bench_password_1"
HEAVY = "bench_heavy"
ADMIN = "bench_admin"
LOGIN = "bench_login"
COMPANY = "bench_co"
SERVICES = ("UNIVERSAL", "ROUTING", "PACKER", "STUDIO")
PROCESS_TYPES = ("PLAN", "ACTUALIZE", "TRACE", "ROUTE", "MATRIX")
OPERATIONS = ("run_plan_calculation", "read_plan_result", "run_actualize_calculation", "read_result", "run_validation")
POINT_KEY_SPACE = 20_000  # distinct point keys: a day's processes share many of them


@dataclass(frozen=True)
class Scale:
    users: int = 200
    days: int = 365
    processes: int = 1_000_000
    heavy_share: int = 5  # every 5th process is the heavy user's: 200,000 of 1,000,000
    requests: int = 5
    points: int = 10
    file_every: int = 100  # an input file on 1% of processes

    @property
    def heavy_processes(self):
        return self.processes // self.heavy_share


FULL = Scale()
TINY = Scale(users=5, days=40, processes=2_000)


def light_name(number):
    return f"bench_user_{number:03d}"


def _uuid_sql(seed):
    """A version-4 UUID text derived from md5(seed): random-looking but reproducible."""
    h = f"md5({seed})"
    return (
        f"substr({h},1,8)||'-'||substr({h},9,4)||'-4'||substr({h},14,3)||'-8'||substr({h},18,3)||'-'||substr({h},21,12)"
    )


def window(scale, today=None):
    """(start_us, end_us): the data set's period, the scale's days up to today's 00:00 UTC."""
    today = today or datetime.now(UTC).date()
    end = datetime(today.year, today.month, today.day, tzinfo=UTC)
    start = end - timedelta(days=scale.days)
    return int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000


def create_users(conn, scale, rounds):
    """The heavy user (timezone +3), the light users, a producer (ADMIN) and a user for
    logins, inserted into the users table; one bcrypt hash serves them all (hashing 200
    at cost 12 would take a minute). Returns {username: user row}."""
    password_hash = hash_password(PASSWORD, rounds)
    now = datetime.now(UTC).replace(tzinfo=None)
    wanted = [(HEAVY, ["USER"], 3)]
    wanted += [(light_name(number), ["USER"], number % 7 - 3) for number in range(1, scale.users)]
    wanted += [(ADMIN, ["ADMIN"], 0), (LOGIN, ["USER"], 0)]
    conn.execute(
        insert(users),
        [
            {
                "username": name,
                "company_key": COMPANY,
                "password_hash": password_hash,
                "enabled": True,
                "roles": roles,
                "timezone": timezone,
                "attributes": [],
                "token_version": 0,
                "creation_date": now,
                "edit_date": now,
            }
            for name, roles, timezone in wanted
        ],
    )
    return {row.username: dict(row._mapping) for row in conn.execute(select(users))}


def load(cursor, scale, heavy_id, light_ids, today=None):
    """Fill processes, process_requests, process_points and process_file_chunks on a
    psycopg2 cursor (PostgreSQL). Foreign-key triggers are skipped for the load
    (session_replication_role = replica): the rows are consistent by construction."""
    start_us, end_us = window(scale, today)
    span = end_us - start_us
    cursor.execute("SET session_replication_role = replica")
    cursor.execute("CREATE TEMP TABLE bench_light (slot int PRIMARY KEY, id int, username text)")
    cursor.execute(
        "INSERT INTO bench_light SELECT slot - 1, id, username FROM unnest(%s::int[]) WITH ORDINALITY AS t(id, slot) "
        "JOIN users USING (id)",
        (light_ids,),
    )
    cursor.execute("SELECT username, company_key FROM users WHERE id = %s", (heavy_id,))
    heavy_name, company = cursor.fetchone()
    services = "ARRAY[" + ",".join(f"'{s}'" for s in SERVICES) + "]"
    types = "ARRAY[" + ",".join(f"'{t}'" for t in PROCESS_TYPES) + "]"
    operations = "ARRAY[" + ",".join(f"'{o}'" for o in OPERATIONS) + "]"
    cursor.execute(
        f"""
        INSERT INTO processes (process_code, user_id, username, company, service, process_type, time_us, status,
            result_version, preparing_time, business_validation_time, math_validation_time, waiting_time,
            calculation_time, request_points_count, result_elements_count, input_file_exists, output_file_exists)
        SELECT {_uuid_sql("'p' || g")},
            CASE WHEN g %% %(share)s = 0 THEN %(heavy_id)s ELSE l.id END,
            CASE WHEN g %% %(share)s = 0 THEN %(heavy_name)s ELSE l.username END,
            %(company)s,
            ({services})[1 + g %% {len(SERVICES)}],
            ({types})[1 + (g / 7) %% {len(PROCESS_TYPES)}],
            %(start)s + (g::numeric * %(span)s / (%(n)s + 1))::bigint,
            CASE WHEN g %% 50 = 0 THEN 'FAILED' ELSE 'FINISHED_IN_TIME' END,
            1, 'PT1S', 'PT2S', 'PT3S', 'PT4S', 'PT1M30S',
            10 + g %% 990, 5 + g %% 490, g %% %(file_every)s = 7, false
        FROM generate_series(1, %(n)s) AS g
        JOIN bench_light l ON l.slot = (g * 31) %% %(light)s
        """,
        {
            "share": scale.heavy_share,
            "heavy_id": heavy_id,
            "heavy_name": heavy_name,
            "company": company,
            "start": start_us,
            "span": span,
            "n": scale.processes,
            "file_every": scale.file_every,
            "light": len(light_ids),
        },
    )
    cursor.execute(
        f"""
        INSERT INTO process_requests (process_code, request_code, username, company, service, operation, env, pod,
            time_us)
        SELECT p.process_code, {_uuid_sql("p.process_code || k")}, p.username, p.company, p.service,
            ({operations})[k], 'bench', 'pod-' || k, p.time_us + k * 1000
        FROM processes p CROSS JOIN generate_series(1, %(requests)s) AS k
        """,
        {"requests": scale.requests},
    )
    cursor.execute(
        """
        INSERT INTO process_points (process_code, point_key)
        SELECT p.process_code, 'pt-' || ((p.time_us / 1000 + k * 7919) %% %(space)s)
        FROM processes p CROSS JOIN generate_series(1, %(points)s) AS k
        """,
        {"points": scale.points, "space": POINT_KEY_SPACE},
    )
    cursor.execute(
        """
        INSERT INTO process_file_chunks (process_code, flow_type, seq, data)
        SELECT process_code, 'INPUT', 0, convert_to(repeat('{"point": [55.75, 37.61]}', 40), 'UTF8')
        FROM processes WHERE input_file_exists
        """
    )
    cursor.execute("SET session_replication_role = DEFAULT")
    cursor.execute("DROP TABLE bench_light")
