"""Raw input and output files of processes."""

from flask import current_app, g, request

from app.api import operation
from app.api.common import BINARY, file_download
from app.auth import login_required
from app.exceptions import ApiError
from app.extensions import Blueprint
from app.services import files
from app.services.ingest import PRODUCER_ROLES
from schemas.processes import DataQuery, ProcessCodePath

blp = Blueprint("data", __name__, url_prefix="/account", description="Process data.")

CHUNK = 1024 * 1024


@blp.route("/data/<process_code>", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 404, 500)
@blp.arguments(ProcessCodePath, location="path", as_kwargs=True)
@blp.arguments(DataQuery, location="query")
@blp.doc(
    responses={
        "200": {"description": "The file (octet-stream).", "content": {"application/octet-stream": {"schema": BINARY}}}
    }
)
def read_data(query, process_code):
    """The stored input or output file of one of the caller's processes.

    Another user's process, an unknown code and a missing file are the same General404.
    """
    code, flow = str(process_code), query["data_flow_type"]
    files.check_readable(g.user, code, flow, record="read_data")
    return file_download(files.chunks(code, flow), f"{code}_{flow.lower()}_raw.bin")


def _body_chunks(limit):
    total = 0
    while True:
        chunk = request.stream.read(CHUNK)
        if not chunk:
            return
        total += len(chunk)
        if total > limit:
            raise ApiError(413, f"The file is larger than the limit of {limit} bytes")
        yield chunk


@blp.route("/data/<process_code>", methods=["PUT"])
@login_required(roles=PRODUCER_ROLES)
@operation(blp, 400, 401, 403, 404, 413, 500)
@blp.arguments(ProcessCodePath, location="path", as_kwargs=True)
@blp.arguments(DataQuery, location="query")
@blp.doc(requestBody={"required": True, "content": {"application/octet-stream": {"schema": BINARY}}})
@blp.response(204)
def write_data(query, process_code):
    """Store the raw input or output file of a process (an extension of the API).

    For BOT and ADMIN tokens. Streamed to the database in chunks; the size limit is
    `DATA_MAX_CONTENT_LENGTH`, with a 413 past it."""
    limit = current_app.config["DATA_MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"The file is larger than the limit of {limit} bytes")
    request.max_content_length = limit
    files.write(g.user, str(process_code), query["data_flow_type"], _body_chunks(limit))
