"""Tracedata and the one error handler that turns every failure into a documented body."""

import uuid
from datetime import UTC, datetime

from flask import current_app, g, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.db import NotFound

ANONYMOUS = "anonymous"

# Statuses whose body the API documents as {resource_key, detail: {tracedata}}.
_NOT_FOUND = 404


class ApiError(Exception):
    """A failure with a status and a message meant for the caller."""

    def __init__(self, status, message, headers=None, resource_key=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.resource_key = resource_key


def request_code():
    """The request's code: the caller's X-Request-Id when it is a UUID (so that a call can
    be followed across services), a fresh one otherwise."""
    code = g.get("request_code")
    if code is None:
        code = g.request_code = _incoming_request_id() or str(uuid.uuid4())
    return code


def _incoming_request_id():
    value = request.environ.get("HTTP_X_REQUEST_ID") if has_request_context() else None
    if not value:
        return None
    value = value.lower()
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        return None
    return canonical if canonical == value else None  # only the 8-4-4-4-12 form, as sent


def operation_id():
    endpoint = request.endpoint if has_request_context() else None
    if not endpoint:
        return "unknown_operation"
    return endpoint.rsplit(".", 1)[-1]


def tracedata():
    user = g.get("user")
    code = request_code()
    return {
        "process_code": g.get("process_code", code),
        "request_code": code,
        "username": user["username"] if user else ANONYMOUS,
        "company": user["company_key"] if user else ANONYMOUS,
        "service": "ACCOUNT",
        "operation": operation_id(),
        "env": current_app.config["ENV_ID"],
        "pod": current_app.config["POD_ID"],
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# Paths of the legacy 6.20 dialect, whose errors carry the 6.20 bodies.
V6_PREFIX = "/v6"


def is_v6_request():
    return has_request_context() and (request.path == V6_PREFIX or request.path.startswith(V6_PREFIX + "/"))


def error_response(status, message, headers=None, resource_key=None):
    if is_v6_request():
        from app.api.v6.mapping import error_body  # imported here: it builds on this module

        body = error_body(status, message, resource_key or request.path[:256], tracedata())
    elif status == _NOT_FOUND:
        body = {"resource_key": resource_key or request.path[:256], "detail": {"tracedata": tracedata()}}
    else:
        body = {"tracedata": tracedata(), "message": message}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validation_message(messages, prefix=""):
    """Flatten webargs/marshmallow messages into 'field: problem' parts."""
    parts = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "path", "view_args", "headers", "form") and not prefix:
                parts.extend(_validation_message(value, ""))
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
                parts.extend(_validation_message(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        parts.append(f"{prefix or 'body'}: {' '.join(messages)}")
    elif isinstance(messages, list):
        for item in messages:
            parts.extend(_validation_message(item, prefix))
    else:
        parts.append(f"{prefix or 'body'}: {messages}")
    return parts


def handle_http_exception(error):
    if isinstance(error, InternalServerError):
        return handle_unexpected(getattr(error, "original_exception", None) or error)
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if error.code == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    message = data.get("message")
    if "messages" in data:
        message = "Invalid request: " + "; ".join(_validation_message(data["messages"]))
    if not message:
        message = error.name if error.code in (404, 405) else (error.description or error.name)
    return error_response(error.code or 500, message, headers)


def handle_api_error(error):
    return error_response(error.status, error.message, error.headers, error.resource_key)


def handle_not_found(error):
    return error_response(404, "Not Found", resource_key=error.resource_key)


def handle_unexpected(error):
    from app import metrics  # imported here: metrics builds on this module

    metrics.count_unhandled(error)
    current_app.logger.error(
        "unhandled error request_code=%s operation=%s", request_code(), operation_id(), exc_info=error
    )
    return error_response(500, "Internal server error; quote the request_code to the operator.")


def register(app):
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(NotFound, handle_not_found)
    app.register_error_handler(Exception, handle_unexpected)
