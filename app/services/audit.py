"""The audit of the caller's actions, for both dialects: the period, the counters and the
page, streamed as it is read (each dialect passes its filters, Scope and shaping)."""

from datetime import UTC, datetime, time, timedelta

from app import clock, db
from app.db.audit import audit_chunks, audit_counters
from app.exceptions import ApiError
from app.streaming import encode_items, json_answer


def _aware(moment):
    """A date-time without offset is taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def period(query, user):
    """(start, end) in microseconds, both inclusive. No from: the start of the user's
    local today; no to: now."""
    now = clock.now()
    if "from_" in query:
        start = _aware(query["from_"])
    else:
        offset = timedelta(hours=user["timezone"])
        start = datetime.combine((now + offset).date(), time(), UTC) - offset
    end = _aware(query["to"]) if "to" in query else now
    if start > end:
        raise ApiError(400, "Invalid request: from: must not be after to")
    return clock.to_us(start), clock.to_us(end)


def stream(user, query, filters, sort_field, names, to_action, counters_key):
    """The user's audit page as a streamed JSON answer (app.streaming.json_answer): the
    actions as they are read (to_action shapes a process row with its requests), then the
    counters under counters_key. query: from_, to, sort_direction, offset, limit; filters:
    service, process_type, status, operation (each optional); names: the dialect's Scope."""
    start_us, end_us = period(query, user)
    page = (user["id"], start_us, end_us, filters)
    conn = db.read_snapshot()
    try:
        overall, filtered = audit_counters(conn, *page, names=names)
        chunks = audit_chunks(
            conn,
            *page,
            sort_field,
            query["sort_direction"] == "DESC",
            query["offset"],
            query["limit"],
            names=names,
        )
        counters = {"overall": {"total": overall}, "filter": {"total": filtered}}

        def encode(rows):
            return encode_items([to_action(row) for row in rows])

        return json_answer(conn, "actions", chunks, encode, {counters_key: counters})
    except BaseException:
        conn.close()
        raise
