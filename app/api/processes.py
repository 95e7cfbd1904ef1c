"""Producer API (extension of the documented API): calculation services record processes."""

from flask import g

from app.api import operation
from app.api.common import batch_refused
from app.auth import login_required
from app.extensions import Blueprint
from app.services import ingest
from schemas.processes import ProcessBatch, ProcessBatchResult

blp = Blueprint("processes", __name__, url_prefix="/account", description="Producer API (extension).")


@blp.route("/processes", methods=["POST"])
@login_required(roles=ingest.PRODUCER_ROLES)
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
        stored = ingest.store_batch(g.user, batch["processes"])
    except ingest.RecordError as exc:
        raise batch_refused(exc) from exc
    return {"stored": stored}
