"""quota_decision_snapshot(): one short statement per table, each with one possible plan

0009's function read everything in one statement joining users, quotas, both
reservations and processes. Its plans are generic and built once per server connection,
from the statistics of that moment, and kept for the connection's life. With joins, the
plan depends on those statistics: built while a table looked empty (no ANALYZE yet, or
autovacuum off), it kept, for the whole life of the connection, a join that read every
quota of the service and process type (not only the user's) and an index walked from
end to end for the process_code's reservation. Measured under the bench's load: 99
quota index entries and up to 3,700 reservation index entries read per decision, growing
with the tables; the server's CPU per reservation doubled within minutes.

Here each statement reads one table by its key, the values it needs bound from the
previous statement (the user's id, the day's bounds): user by username, quota by (user,
service, process type), locked; the process_code's reservation and process by primary
key; the day's points by (user, time); the active reservations by (user, service, process
type, expires); a running record's points by primary key. Whatever the statistics say,
each has one index to use (enable_seqscan off keeps a tiny table's scan out of a plan
kept for later), so what a decision reads is what it needs. The columns and the order
returned are 0009's: app.db.reservations reads them as before.

The quota row is locked before the reads of reservations and processes, each its own
statement, so they see every decision committed before the lock was granted (READ
COMMITTED takes a snapshot per statement; the function is VOLATILE).

Revision ID: 0010_quota_decision_statements
Revises: 0009_quota_decision_function
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0010_quota_decision_statements"
down_revision = "0009_quota_decision_function"
branch_labels = None
depends_on = None

# Microseconds in an hour and in a day (app.db.days.HOUR_US, DAY_US): a user's local
# day is floor((now + timezone hours) / day), as app.db.reservations.local_day computes it
# (now and the offset are positive here, so integer division is the floor).
FUNCTION = """
CREATE OR REPLACE FUNCTION quota_decision_snapshot(
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
-- Generic plans, built once per connection (no planning per call), and index scans only.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_variable
DECLARE
    v_start bigint;
BEGIN
    IF NOT p_durable THEN
        -- The commit does not wait for the WAL flush (QUOTA_DURABLE_COMMIT false).
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    -- Every column below is qualified by its table's alias: the output columns share names.
    SELECT u.id, u.username, u.company_key, u.enabled, u.timezone
    INTO user_id, user_username, user_company_key, user_enabled, user_timezone
    FROM users AS u WHERE u.username = p_username;
    IF user_id IS NOT NULL THEN
        SELECT q.id, q.points_per_request, q.points_per_day, q.max_concurrent_execution
        INTO quota_id, points_per_request, points_per_day, max_concurrent_execution
        FROM quotas AS q
        WHERE q.user_id = user_id AND q.service = p_service AND q.process_type = p_process_type
        FOR UPDATE;
    END IF;
    -- Once the quota is held: what the code names, then the day's usage.
    SELECT r.process_code, r.user_id, r.service, r.process_type, r.points, r.day, r.granted_us,
        r.expires_us, r.released_us
    INTO reservation_process_code, reservation_user_id, reservation_service, reservation_process_type,
        reservation_points, reservation_day, reservation_granted_us, reservation_expires_us,
        reservation_released_us
    FROM quota_reservations AS r WHERE r.process_code = p_code;
    SELECT p.user_id, p.status INTO process_user_id, process_status
    FROM processes AS p WHERE p.process_code = p_code;
    IF user_id IS NULL THEN
        used := 0; reserved := 0; active := 0;
        RETURN NEXT;
        RETURN;
    END IF;
    day := (p_now_us + user_timezone * 3600000000) / 86400000000;
    v_start := day * 86400000000 - user_timezone * 3600000000;
    SELECT coalesce(sum(p.request_points_count), 0)::bigint INTO used
    FROM processes AS p
    WHERE p.user_id = user_id AND p.time_us >= v_start AND p.time_us < v_start + 86400000000
        AND p.service = p_service AND p.process_type = p_process_type;
    -- The quota's active reservations: how many, the first to expire, and the points those
    -- granted today hold beyond their record's (a running record counts the larger). The
    -- record is read by its primary key, for the reservations granted today only.
    SELECT coalesce(sum(greatest(r.points - coalesce((
                SELECT p.request_points_count FROM processes AS p
                WHERE p.process_code = r.process_code AND p.user_id = r.user_id
                    AND p.service = p_service AND p.process_type = p_process_type
                    AND p.time_us >= v_start AND p.time_us < v_start + 86400000000), 0), 0))
            FILTER (WHERE r.day = day), 0)::bigint,
        count(*), min(r.expires_us)
    INTO reserved, active, earliest
    FROM quota_reservations AS r
    WHERE r.user_id = user_id AND r.service = p_service AND r.process_type = p_process_type
        AND r.expires_us > p_now_us AND r.released_us IS NULL;
    RETURN NEXT;
END
$$
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        # 0009's function back, from 0009's own file.
        spec = importlib.util.spec_from_file_location("_0009", Path(__file__).with_name(f"{down_revision}.py"))
        previous = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(previous)
        op.execute(previous.FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
