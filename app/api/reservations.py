"""Quota enforcement (an extension beside the documented API): calculation services
reserve a user's quota before a job, and users read their usage."""

from flask import g

from app.api import operation
from app.auth import login_required
from app.extensions import Blueprint
from app.services import quota as quota_service
from app.services.ingest import PRODUCER_ROLES
from schemas.processes import ProcessCodePath
from schemas.reservations import QuotaUsage, Reservation, ReservationRequest

blp = Blueprint(
    "reservations", __name__, url_prefix="/account/quota", description="Quota reservations and usage (extension)."
)


@blp.route("/reservations", methods=["POST"])
@login_required(roles=PRODUCER_ROLES)
@operation(blp, 400, 401, 402, 403, 404, 415, 429, 500)
@blp.arguments(ReservationRequest())
@blp.response(200, Reservation)
def create_quota_reservation(request):
    """Reserve a user's quota for one process (for BOT and ADMIN tokens; an extension).

    Granted when the points are within points_per_request, the user's local day so far
    plus the points held by active reservations plus these stay within points_per_day,
    and fewer than max_concurrent_execution reservations are active. Otherwise a
    General402 naming the limit, or a General429 with Retry-After for the concurrency
    limit; every such refusal is recorded as the user's process with status
    CANCELED_BY_QUOTA. Sent again with the same process_code, it is the same reservation
    with a renewed expiry. A BOT may reserve for its own company's users only.
    """
    return quota_service.reserve(g.user, {**request, "process_code": str(request["process_code"])})


@blp.route("/reservations/<process_code>", methods=["DELETE"])
@login_required(roles=PRODUCER_ROLES)
@operation(blp, 400, 401, 403, 404, 500)
@blp.arguments(ProcessCodePath, location="path", as_kwargs=True)
@blp.response(204)
def delete_quota_reservation(process_code):
    """Release a reservation (for BOT and ADMIN tokens; an extension): 204, also when it
    was already released or has expired.

    A process record with a final status, sent to POST /account/processes, releases its
    reservation as well.
    """
    quota_service.release(g.user, str(process_code))


@blp.route("/usage", methods=["GET"])
@login_required()
@operation(blp, 401, 500)
@blp.response(200, QuotaUsage)
def read_quota_usage():
    """The caller's quotas with their use today (the caller's local day): the limits,
    points used, points held by active reservations and active reservations."""
    return quota_service.usage_of(g.user)
