"""Producer API (extension), 6.20 names: records whose service or process type only 6.20
can name (STOCK, LONGHAUL, CLUSTER, CARGOTIMETABLE; REFINE, ANALYTICS, PREDICT, PACK).

The record is the 7.9 producer record with the 6.20 enums, stored by the 7.9 code. Such
records show in /v6 answers only; files for them go through PUT /account/data as any.
"""

from app.api import processes as processes79
from app.api.v6 import PREFIX, implementation, operation
from app.auth import login_required
from app.extensions import Blueprint
from schemas.processes import ProcessBatchResult
from schemas.v6 import ProducerBatch

blp = Blueprint("v6_processes", __name__, url_prefix=PREFIX, description="Producer API (extension).")


@blp.route("/processes", methods=["POST"])
@login_required(roles=processes79.PRODUCER_ROLES)
@operation(blp, 400, 401, 403, 413, 415, 500)
@blp.arguments(ProducerBatch)
@blp.response(200, ProcessBatchResult)
def write_processes(batch):
    """Record a batch of processes with the 6.20 names (an extension of the API).

    For BOT and ADMIN tokens. Same rules as POST /account/processes: idempotent, all or nothing.
    """
    return implementation(processes79.write_processes)(batch)
