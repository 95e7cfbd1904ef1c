"""Helpers the views of both dialects share to parse requests and shape answers: the
documented binary answers, the token bodies, downloads. Not a view module: it has no
blueprint, and the views of either dialect may import it."""

import json

from flask import Response, current_app, jsonify, request, send_file, stream_with_context

from app import docs, jsonbody
from app.auth import roles_for_token
from app.exceptions import ApiError, NotFound
from app.security import unquote_token
from app.services.usage import XLSX
from schemas.auth import TOKEN_JSON_SCHEMA, TOKEN_MAX, TOKEN_MIN

BINARY = {"type": "string", "format": "binary"}
TOKEN_RESPONSE = {"content": {"application/json": {"schema": TOKEN_JSON_SCHEMA}}, "description": "Token (JWT)."}
# The report's documented answer, in both dialects.
REPORT_RESPONSES = {
    "200": {
        "description": "Report in XLSX format.",
        "content": {XLSX: {"schema": BINARY}},
    }
}
# The documentation files' documented answer, in both dialects.
FILE_RESPONSES = {
    "200": {
        "description": "The documentation file.",
        "content": {"text/html": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}},
    }
}


def token_response(token):
    # Exactly the JSON string, no trailing newline (jsonify adds one): the reference client
    # returns the body verbatim and sends it back as `Bearer <body>`, where a newline is illegal.
    return current_app.response_class(json.dumps(token), mimetype="application/json")


def token_from_body(minimum=TOKEN_MIN, maximum=TOKEN_MAX):
    """The token of a validation request: a JSON string of the dialect's bounds."""
    if request.mimetype != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    body = jsonbody.loads(jsonbody.read_body(request))
    if not isinstance(body, str):
        raise ApiError(400, "Invalid request: body: must be a JSON string (the token)")
    if not minimum <= len(body) <= maximum:
        raise ApiError(400, f"Invalid request: body: length must be between {minimum} and {maximum}.")
    return body


def validation_result(token):
    """The TokenValidationResult of a token, built here rather than dumped by the schema:
    the platform validates a token on every request (see README, Performance)."""
    roles = roles_for_token(unquote_token(token))
    if roles is None:
        return jsonify(valid=False, roles=[])
    return jsonify(valid=True, roles=roles)


def report_answer(report):
    """A services.usage.Report as the XLSX attachment."""
    return send_file(report.handle, mimetype=XLSX, as_attachment=True, download_name=report.filename)


def file_download(chunks, filename):
    """Chunks (an iterator of bytes, read as they are sent) as an octet-stream attachment."""
    return Response(
        stream_with_context(chunks),
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def documentation_file(filename, spec_api=None):
    """A documentation file of the document of spec_api (7.9's unless told), or General404."""
    document = docs.render(filename, spec_api)
    if document is None:
        raise NotFound(filename)
    content, mimetype = document
    return Response(content, mimetype=mimetype)


def batch_refused(error):
    """The General400 of a services.ingest.RecordError: the record's field path in the body."""
    return ApiError(400, f"Invalid request: processes.{error.index}.{error.field}: {error.problem}")
