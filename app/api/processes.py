"""Producer API (extension of the documented API): calculation services record processes."""

from flask import g

from app import clock, db, metrics
from app.api import operation
from app.auth import login_required
from app.db import processes as process_queries
from app.errors import ApiError
from app.extensions import Blueprint
from app.services import quota as quota_service
from schemas.processes import ProcessBatch, ProcessBatchResult

blp = Blueprint("processes", __name__, url_prefix="/account", description="Producer API (extension).")

PRODUCER_ROLES = ("BOT", "ADMIN")


def _to_row(record, owner_id):
    statistics = record["statistics"]
    info = statistics["calculation_info"]
    code = str(record["process_code"])
    return {
        "process_code": code,
        "user_id": owner_id,
        "username": record["username"],
        "company": record["company"],
        "service": record["service"],
        "process_type": record["process_type"],
        "time_us": clock.to_us(record["time"]),
        **{name: info[name] for name in process_queries.CALCULATION_INFO_COLUMNS},
        "request_points_count": statistics.get("request_points_count"),
        "result_elements_count": statistics.get("result_elements_count"),
        "requests": [
            {
                "process_code": str(request["process_code"]),
                "request_code": str(request["request_code"]),
                "username": request["username"],
                "company": request["company"],
                "service": request["service"],
                "operation": request["operation"],
                "env": request["env"],
                "pod": request["pod"],
                "time_us": clock.to_us(request["time"]),
            }
            for request in record["requests"]
        ],
        "point_keys": record["point_keys"],
    }


def _merge_duplicates(rows):
    """A batch may name one process twice: the last record wins, requests and keys merge."""
    merged = {}
    for row in rows:
        earlier = merged.get(row["process_code"])
        if earlier is not None:
            requests = {r["request_code"]: r for r in earlier["requests"] + row["requests"]}
            row = {
                **row,
                "requests": list(requests.values()),
                "point_keys": sorted(set(earlier["point_keys"]) | set(row["point_keys"])),
            }
        merged[row["process_code"]] = row
    return list(merged.values())


def check_batch(conn, caller, records):
    """Rows ready to store, or BatchError naming the first bad record and field."""
    known = process_queries.owners(conn, {record["username"] for record in records})
    rows = []
    for index, record in enumerate(records):
        owner = known.get(record["username"])
        if owner is None:
            raise process_queries.BatchError(index, "username", "unknown user")
        owner_id, owner_company = owner
        if record["company"] != owner_company:
            raise process_queries.BatchError(index, "company", "is not the user's company")
        if "ADMIN" not in caller["roles"] and owner_company != caller["company_key"]:
            raise process_queries.BatchError(index, "company", "a BOT may write only for its own company")
        for number, request in enumerate(record["requests"]):
            if request["process_code"] != record["process_code"]:
                raise process_queries.BatchError(index, f"requests.{number}.process_code", "differs from the record's")
        rows.append(_to_row(record, owner_id))
    stored = process_queries.existing_owners(conn, {row["process_code"] for row in rows})
    for index, row in enumerate(rows):
        if stored.get(row["process_code"], row["user_id"]) != row["user_id"]:
            raise process_queries.BatchError(index, "process_code", "belongs to another user")
    return _merge_duplicates(rows)


@blp.route("/processes", methods=["POST"])
@login_required(roles=PRODUCER_ROLES)
@operation(blp, 400, 401, 403, 413, 415, 500)
@blp.arguments(ProcessBatch)
@blp.response(200, ProcessBatchResult)
def write_processes(batch):
    """Record a batch of processes (for BOT and ADMIN tokens; an extension of the API).

    Idempotent: a known process_code is updated, requests merge by request_code, and the
    same batch sent twice changes nothing. All or nothing: one bad record rejects the
    batch with a General400 naming the record's index and field. A record with a final
    status (not WAITING or IN_PROGRESS) releases its process's quota reservation.
    """
    try:
        with db.transaction() as conn:
            rows = check_batch(conn, g.user, batch["processes"])
            process_queries.upsert_processes(conn, rows)
            quota_service.release_for_records(conn, rows)
    except process_queries.BatchError as exc:
        raise ApiError(400, f"Invalid request: {exc}") from exc
    metrics.records_ingested(len(batch["processes"]))
    return {"stored": len(batch["processes"])}
