"""Producer API (extension), 6.20 names: records whose service or process type only 6.20
can name (STOCK, LONGHAUL, CLUSTER, CARGOTIMETABLE; REFINE, ANALYTICS, PREDICT, PACK).

The record is the 7.9 producer record with the 6.20 enums, stored by the same ingestion
service. Such records show in /v6 answers only; files for them go through PUT
/account/data as any.
"""

from flask import g

from app.api.common import batch_refused
from app.api.v6 import PREFIX, operation
from app.auth import login_required
from app.extensions import Blueprint
from app.services import ingest
from schemas.processes import ProcessBatchResult
from schemas.v6 import ProducerBatch

blp = Blueprint("v6_processes", __name__, url_prefix=PREFIX, description="Producer API (extension).")


@blp.route("/processes", methods=["POST"])
@login_required(roles=ingest.PRODUCER_ROLES)
@operation(blp, 400, 401, 403, 413, 415, 500)
@blp.arguments(ProducerBatch)
@blp.response(200, ProcessBatchResult)
def write_processes(batch):
    """Record a batch of processes with the 6.20 names (an extension of the API).

    For BOT and ADMIN tokens. Same rules as POST /account/processes: idempotent, all or nothing.
    """
    try:
        stored = ingest.store_batch(g.user, batch["processes"])
    except ingest.RecordError as exc:
        raise batch_refused(exc) from exc
    return {"stored": stored}
