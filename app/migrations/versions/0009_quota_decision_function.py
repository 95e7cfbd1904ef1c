"""quota_decision_snapshot(): a quota decision's lock and read as one PL/pgSQL function

PostgreSQL plans a statement each time it is sent unprepared, and the service sends no
SQL PREPARE (it would break behind a transaction pooler such as PgBouncer). Planning the
decision's read (the user, the quota, what the process_code names, the day's usage) cost
about 0.9 ms of server CPU per reservation, three times its execution. PL/pgSQL keeps the
plans of its statements for the session, so the function costs planning once per server
connection (forced: see plan_cache_mode below). It holds no rule: it locks the quota row, then reads, and returns the
columns app.db.reservations.decision_snapshot reads on SQLite with its own two
statements (_TARGET and _USAGE, the same names); app/services/quota.py decides.

The function is VOLATILE: each statement takes a new snapshot, so the read that follows
the lock sees every decision committed before the lock was granted (as the two
statements of a READ COMMITTED transaction do). Nothing on SQLite.

Revision ID: 0009_quota_decision_function
Revises: 0008_quota_reservations
"""

from alembic import op

revision = "0009_quota_decision_function"
down_revision = "0008_quota_reservations"
branch_labels = None
depends_on = None

# Microseconds in an hour and in a day (app.db.days.HOUR_US, DAY_US): a user's local
# day is floor((now + timezone hours) / day), as app.db.reservations.local_day computes it.
FUNCTION = """
CREATE FUNCTION quota_decision_snapshot(
    p_username varchar, p_service varchar, p_process_type varchar, p_code varchar, p_now_us bigint,
    p_durable boolean
) RETURNS TABLE (
    user_id integer, user_username varchar, user_company_key varchar, user_enabled boolean,
    user_timezone integer, quota_id integer, points_per_request bigint, points_per_day bigint,
    max_concurrent_execution bigint, reservation_process_code varchar, reservation_user_id integer,
    reservation_service varchar, reservation_process_type varchar, reservation_points bigint,
    reservation_day integer, reservation_granted_us bigint, reservation_expires_us bigint,
    reservation_released_us bigint, process_user_id integer, process_status varchar, day bigint,
    used bigint, reserved bigint, active bigint, earliest bigint
) LANGUAGE plpgsql VOLATILE
-- Its statements' generic plans, built once per connection: left to choose, PostgreSQL
-- plans anew on every call once the table's statistics make the generic plan look dearer
-- (expires_us > $5 is costed at a third of a user's reservations), the cost this avoids.
SET plan_cache_mode = force_generic_plan
-- and with index scans: a plan built while quota_reservations looked empty (statistics
-- taken before the first reservation) would otherwise scan the whole table on every
-- call for as long as the connection lives, however large it grows.
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
    IF NOT p_durable THEN
        -- The commit does not wait for the WAL flush (QUOTA_DURABLE_COMMIT false).
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM 1 FROM users JOIN quotas ON quotas.user_id = users.id
    WHERE users.username = p_username AND quotas.service = p_service AND quotas.process_type = p_process_type
    FOR UPDATE OF quotas;
    RETURN QUERY
    SELECT target.id, target.username, target.company_key, target.enabled, target.timezone,
        quotas.id, quotas.points_per_request::bigint, quotas.points_per_day::bigint,
        quotas.max_concurrent_execution::bigint,
        code_reservation.process_code, code_reservation.user_id, code_reservation.service,
        code_reservation.process_type, code_reservation.points, code_reservation.day,
        code_reservation.granted_us, code_reservation.expires_us, code_reservation.released_us,
        code_process.user_id, code_process.status, today.day,
        (SELECT coalesce(sum(processes.request_points_count), 0)::bigint FROM processes
         WHERE processes.user_id = target.id AND processes.service = p_service
             AND processes.process_type = p_process_type
             AND processes.time_us >= today.start_us AND processes.time_us < today.start_us + 86400000000),
        held.reserved, held.active, held.earliest
    FROM (SELECT p_code AS code) AS code_key
    LEFT JOIN users AS target ON target.username = p_username
    LEFT JOIN quotas ON quotas.user_id = target.id AND quotas.service = p_service
        AND quotas.process_type = p_process_type
    LEFT JOIN quota_reservations AS code_reservation ON code_reservation.process_code = code_key.code
    LEFT JOIN processes AS code_process ON code_process.process_code = code_key.code
    CROSS JOIN LATERAL (
        SELECT (p_now_us + target.timezone * 3600000000) / 86400000000 AS day,
            (p_now_us + target.timezone * 3600000000) / 86400000000 * 86400000000
                - target.timezone * 3600000000 AS start_us
    ) AS today
    -- The quota's active reservations: how many, the first to expire, and the points those
    -- granted today hold beyond their record's (a running record counts the larger).
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(greatest(reservation.points - coalesce(record.request_points_count, 0), 0))
                FILTER (WHERE reservation.day = today.day), 0)::bigint AS reserved,
            count(*) AS active, min(reservation.expires_us) AS earliest
        FROM quota_reservations AS reservation
        LEFT JOIN processes AS record ON record.process_code = reservation.process_code
            AND record.user_id = target.id AND record.service = p_service
            AND record.process_type = p_process_type
            AND record.time_us >= today.start_us AND record.time_us < today.start_us + 86400000000
        WHERE reservation.user_id = target.id AND reservation.service = p_service
            AND reservation.process_type = p_process_type AND reservation.released_us IS NULL
            AND reservation.expires_us > p_now_us
    ) AS held;
END
$$
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION quota_decision_snapshot(varchar, varchar, varchar, varchar, bigint, boolean)")
