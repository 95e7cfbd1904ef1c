"""The audit: a user's processes with their requests, filtered, sorted and paged."""

from sqlalchemy import and_, exists, func, select

from app.db import scope
from app.db.tables import process_requests, processes
from app.db.usage import period_filters

# The audit's sort fields, whitelisted: the only names that ever reach ORDER BY.
SORT_COLUMNS = {
    "time": processes.c.time_us,
    "process_code": processes.c.process_code,
    "process_type": processes.c.process_type,
    "service": processes.c.service,
    "username": processes.c.username,
    "company": processes.c.company,
    "status": processes.c.status,
}


# Processes read per fetch of a streamed audit, and whose requests are read in one query.
AUDIT_CHUNK = 500


def _audit_where(user_id, start_us, end_us, filters, names):
    """(visible, narrowing): the caller's processes a dialect can name, and what the
    filters add to them (the period first)."""
    visible = [processes.c.user_id == user_id, *scope.clauses(names, requests_too=True)]
    narrowing = period_filters(user_id, start_us, end_us + 1, filters.get("service"), filters.get("process_type"))[1:]
    if filters.get("status"):
        narrowing.append(processes.c.status == filters["status"])
    if filters.get("operation"):
        narrowing.append(
            exists().where(
                and_(
                    process_requests.c.process_code == processes.c.process_code,
                    process_requests.c.operation == filters["operation"],
                )
            )
        )
    return visible, narrowing


def audit_counters(conn, user_id, start_us, end_us, filters, names=scope.EVERY):
    """(overall_total, filter_total) of the audit of the processes of names (a Scope)."""
    visible, narrowing = _audit_where(user_id, start_us, end_us, filters, names)
    # Both counters in one pass over the caller's processes (COUNT ... FILTER).
    overall, filtered = conn.execute(
        select(func.count(), func.count().filter(and_(*narrowing))).select_from(processes).where(*visible)
    ).one()
    return overall, filtered


def audit_chunks(
    conn,
    user_id,
    start_us,
    end_us,
    filters,
    sort_field,
    descending,
    offset,
    limit,
    names=scope.EVERY,
    chunk=AUDIT_CHUNK,
):
    """The page of actions (process rows, each with its requests in time order), in lists
    of at most chunk rows, read as they are consumed: the processes through one
    server-side cursor (PostgreSQL; SQLite steps its statement row by row), the requests
    of each chunk in one query. Memory holds one chunk, whatever the page size."""
    visible, narrowing = _audit_where(user_id, start_us, end_us, filters, names)
    column = SORT_COLUMNS[sort_field]
    order = [column.desc() if descending else column.asc()]
    if sort_field != "process_code":
        order.append(processes.c.process_code.desc() if descending else processes.c.process_code.asc())
    result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
        select(processes).where(*visible, *narrowing).order_by(*order).offset(offset).limit(limit)
    )
    names = list(result.keys())
    request_names = [column.name for column in process_requests.columns]
    try:
        for partition in result.partitions():
            page = [dict(zip(names, row, strict=True)) for row in partition]  # faster than row._mapping
            by_code = {row["process_code"]: row for row in page}
            for row in page:
                row["requests"] = []
            rows = conn.execute(
                select(process_requests)
                .where(process_requests.c.process_code.in_(list(by_code)))
                .order_by(process_requests.c.time_us, process_requests.c.request_code)
            )
            for request in rows:
                request = dict(zip(request_names, request, strict=True))
                by_code[request["process_code"]]["requests"].append(request)
            yield page
    finally:
        result.close()


def audit(conn, user_id, start_us, end_us, filters, sort_field, descending, offset, limit, names=scope.EVERY):
    """(overall_total, filter_total, page of actions with their requests), the page in one
    list: for small pages (the answers stream theirs through audit_chunks)."""
    overall, filtered = audit_counters(conn, user_id, start_us, end_us, filters, names)
    page = [
        row
        for rows in audit_chunks(conn, user_id, start_us, end_us, filters, sort_field, descending, offset, limit, names)
        for row in rows
    ]
    return overall, filtered, page
