"""Input and output files of processes (6.20): GET /account/data/{tracecode}.

data_flow_stage 0 is the raw data, the only stage stored: 1..3 are a General404 (no such
file). data_flow_convert ORIGIN gives the stored bytes; JSON gives stored bytes that are
JSON; XLSX renders stored JSON (an object or an array of objects) as a sheet. Stored data
that does not allow the conversion is a General400.
"""

from flask import Response, g

from app.api.common import BINARY, file_download
from app.api.v6 import PREFIX, mapping, operation
from app.auth import login_required
from app.exceptions import NotFound
from app.extensions import Blueprint
from app.services import files
from app.services.usage import XLSX
from schemas.v6 import DataQuery, TracecodePath

blp = Blueprint("v6_data", __name__, url_prefix=PREFIX, description="Process data.")

RAW_STAGE = 0
_CONVERTED = {"JSON": ("application/json", "json"), "XLSX": (XLSX, "xlsx")}


@blp.route("/data/<tracecode>", methods=["GET"])
@login_required()
@operation(blp, 400, 401, 404, 500)
@blp.arguments(TracecodePath, location="path", as_kwargs=True)
@blp.arguments(DataQuery, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "The file: the stored bytes, or converted to JSON or XLSX.",
            "content": {
                "application/octet-stream": {"schema": BINARY},
                "application/json": {"schema": BINARY},
                XLSX: {"schema": BINARY},
            },
        }
    }
)
def read_data(query, tracecode):
    """The stored input or output file of one of the caller's processes.

    Another user's process, an unknown code, a missing file and a stage other than 0 are
    the same General404.
    """
    code, flow, convert = str(tracecode), query["data_flow_type"], query["data_flow_convert"]
    if query["data_flow_stage"] != RAW_STAGE:
        raise NotFound(code)
    stem = f"{code}_{flow.lower()}_raw"
    if convert == "ORIGIN":
        files.check_readable(g.user, code, flow, record="read_data")
        return file_download(files.chunks(code, flow), f"{stem}.bin")

    files.check_readable(g.user, code, flow)
    data = files.read_whole(code, flow, mapping.read_limited)
    if convert == "JSON":
        mapping.check_json(data)  # the stored bytes are the answer: only checked
        body = data
    else:
        body = mapping.to_xlsx(data)
    files.record_read(g.user, "read_data")  # only once the conversion succeeded
    mimetype, extension = _CONVERTED[convert]
    headers = {"Content-Disposition": f'attachment; filename="{stem}.{extension}"', "Content-Length": str(len(body))}
    return Response(_pieces(body), mimetype=mimetype, headers=headers)


def _pieces(body, size=1024 * 1024):
    """The answer in 1 MiB pieces, copied one at a time from the bytes held."""
    view = memoryview(body)
    for start in range(0, len(view), size):
        yield bytes(view[start : start + size])
