"""Ingestion of producer records (both dialects): who may write what, the records as
rows to store, all or nothing."""

from app import clock, db, metrics
from app.db import ingest as store
from app.services import quota as quota_service

# The roles that may record processes and write their files.
PRODUCER_ROLES = ("BOT", "ADMIN")


class RecordError(ValueError):
    """Record index of a batch cannot be stored (field, problem); nothing of the batch is."""

    def __init__(self, index, field, problem):
        super().__init__(index, field, problem)
        self.index, self.field, self.problem = index, field, problem


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
        **{name: info[name] for name in store.CALCULATION_INFO_COLUMNS},
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


def merge_duplicates(rows):
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
    """Rows ready to store, or RecordError naming the first bad record and field."""
    owners = store.owners(conn, {record["username"] for record in records})
    rows = []
    for index, record in enumerate(records):
        owner = owners.get(record["username"])
        if owner is None:
            raise RecordError(index, "username", "unknown user")
        owner_id, owner_company = owner
        if record["company"] != owner_company:
            raise RecordError(index, "company", "is not the user's company")
        if "ADMIN" not in caller["roles"] and owner_company != caller["company_key"]:
            raise RecordError(index, "company", "a BOT may write only for its own company")
        for number, request in enumerate(record["requests"]):
            if request["process_code"] != record["process_code"]:
                raise RecordError(index, f"requests.{number}.process_code", "differs from the record's")
        rows.append(_to_row(record, owner_id))
    stored = store.existing_owners(conn, {row["process_code"] for row in rows})
    for index, row in enumerate(rows):
        if stored.get(row["process_code"], row["user_id"]) != row["user_id"]:
            raise RecordError(index, "process_code", "belongs to another user")
    return merge_duplicates(rows)


def store_batch(caller, records):
    """Store the producer records of caller (a BOT or ADMIN user) in one transaction, or
    raise RecordError and store none. A record with a final status releases its
    process's quota reservation. Returns how many records were stored."""
    with db.transaction() as conn:
        rows = check_batch(conn, caller, records)
        store.upsert_processes(conn, rows)
        quota_service.release_for_records(conn, rows)
    metrics.records_ingested(len(records))
    return len(records)
