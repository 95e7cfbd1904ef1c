"""Retention: raw processes (with their requests, point keys and files) older than a date
are deleted in short batches; the daily roll-ups stay (see app/db/rollups.py)."""

from sqlalchemy import delete, exists, func, select

from app.db.tables import process_file_chunks, process_points, process_requests, processes, users


def count_before(conn, cutoff_us):
    return conn.execute(select(func.count()).where(processes.c.time_us < cutoff_us)).scalar_one()


def users_with_rows_before(conn, cutoff_us):
    """Ids of the users with a process older than cutoff_us (an index probe per user)."""
    query = (
        select(users.c.id)
        .where(exists().where(processes.c.user_id == users.c.id, processes.c.time_us < cutoff_us))
        .order_by(users.c.id)
    )
    return list(conn.execute(query).scalars())


def purge_batch(conn, user_id, cutoff_us, limit):
    """Delete up to limit of the user's oldest processes before cutoff_us with everything
    they own; returns how many. The rows are locked first, skipping those a batch of
    ingestion holds (PostgreSQL): the purge never waits for ingestion nor makes it wait
    for more than one short batch. A process re-sent meanwhile with a later time no longer
    matches and stays."""
    codes = list(
        conn.execute(
            select(processes.c.process_code)
            .where(processes.c.user_id == user_id, processes.c.time_us < cutoff_us)
            .order_by(processes.c.time_us)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not codes:
        return 0
    for table in (process_file_chunks, process_points, process_requests):
        conn.execute(delete(table).where(table.c.process_code.in_(codes)))
    return conn.execute(delete(processes).where(processes.c.process_code.in_(codes))).rowcount
