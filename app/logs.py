"""Log lines: one per request, errors with their traceback, as JSON or as text
(LOG_FORMAT), gunicorn's own lines included.

A request's line carries its request_code (also sent back as X-Request-Id), method, path
without the query string, operation, username (or anonymous), status, duration and bytes
sent: never a header, a body or a query string, so no password, token or hash.
Under gunicorn with gunicorn.conf.py the line is gunicorn's access log line
(GunicornLogger), which knows the bytes written to the socket; elsewhere (flask run, the
test client) the app writes it when the response is closed.
"""

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime

from flask import g, has_request_context, request
from flask.logging import default_handler
from gunicorn.glogging import Logger as _GunicornLogger

from app import config as settings
from app import metrics
from app.errors import ANONYMOUS, operation_id, request_code

# What the app knows of a request, left in the WSGI environ for whoever writes its line.
ENVIRON_KEY = "account.request"
REQUEST_LOGGER = "account.request"

# Set in gunicorn's master by GunicornLogger (inherited by the forked workers): gunicorn
# writes the request lines, the app must not write them again.
SERVER_LOGS_REQUESTS = False


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the record's `fields`, the
    request_code of the request being served and any traceback, in one field."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if "request_code" not in entry and has_request_context():
            entry["request_code"] = request_code()
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger [request_code] message key=value...` and the traceback below."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record):  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        fields = dict(getattr(record, "fields", None) or {})
        if "request_code" not in fields and has_request_context():
            fields["request_code"] = request_code()
        return line + "".join(f" {key}={value}" for key, value in fields.items())


def formatter(log_format):
    return JsonFormatter() if log_format == "json" else TextFormatter()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (pytest swaps it per test)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


_handler = _StderrHandler()


_WERKZEUG_REQUEST_LINE = re.compile(r'\] "[A-Z]+ \S* HTTP/[\d.]+" \d{3} ')


def _drop_werkzeug_request_lines(record):
    """The development server's own request line has the query string: ours replaces it."""
    return not _WERKZEUG_REQUEST_LINE.search(record.getMessage())


def init_app(app):
    """Format every log line of this process, and write and tag each request's line."""
    _handler.setFormatter(formatter(app.config["LOG_FORMAT"]))
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
        logging.getLogger("werkzeug").addFilter(_drop_werkzeug_request_lines)
    app.logger.removeHandler(default_handler)  # its lines would be written twice
    logging.getLogger(REQUEST_LOGGER).setLevel(logging.INFO)
    app.after_request(_tag_response)
    app.wsgi_app = RequestObserver(app.wsgi_app)


def _tag_response(response):
    code = request_code()
    response.headers["X-Request-Id"] = code
    user = g.get("user")
    request.environ[ENVIRON_KEY] = {
        "request_code": code,
        "operation": operation_id(),
        "username": user["username"] if user else ANONYMOUS,
    }
    return response


def request_fields(environ, status, duration_s, sent):
    """The fields of a request's line."""
    known = environ.get(ENVIRON_KEY) or {}
    return {
        "request_code": known.get("request_code"),
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
        "operation": known.get("operation", "unknown_operation"),
        "username": known.get("username", ANONYMOUS),
        "status": status,
        "duration_ms": round(duration_s * 1000, 3),
        "bytes": sent,
    }


def request_message(fields):
    return f"{fields['method']} {fields['path']} {fields['status']}"


def log_request(fields, logger=None):
    level = logging.WARNING if (fields["status"] or 500) >= 500 else logging.INFO
    (logger or logging.getLogger(REQUEST_LOGGER)).log(level, request_message(fields), extra={"fields": fields})


class RequestObserver:
    """WSGI middleware: times a request until its body is sent, counts it in the metrics
    and, unless the server does it, writes its line."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status = [None]

        def observed_start_response(status_line, headers, exc_info=None):
            status[0] = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        try:
            body = self.wsgi_app(environ, observed_start_response)
        except BaseException:
            _finish(environ, 500, started, 0)
            raise
        return _ObservedBody(body, lambda sent: _finish(environ, status[0], started, sent))


class _ObservedBody:
    """The response body, counted; finished when exhausted or closed, whichever first."""

    def __init__(self, body, finish):
        self.body, self.finish, self.sent = body, finish, 0

    def __iter__(self):
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk
        self._done()

    def close(self):
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self._done()

    def _done(self):
        finish, self.finish = self.finish, None
        if finish is not None:
            finish(self.sent)


def _finish(environ, status, started, sent):
    fields = request_fields(environ, status, time.perf_counter() - started, sent)
    metrics.count_request(fields)
    if not SERVER_LOGS_REQUESTS:
        log_request(fields)


def configured_format():
    """LOG_FORMAT as the app will read it, for gunicorn's master (which builds no app)."""
    try:
        value = settings.read()["LOG_FORMAT"]
    except settings.ConfigError:
        return "text"  # gunicorn.conf.py's on_starting stops the server with the message
    if value not in settings.LOG_FORMATS:
        raise settings.ConfigError(f"LOG_FORMAT must be one of {', '.join(settings.LOG_FORMATS)}")
    return value


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger (gunicorn.conf.py), its lines in LOG_FORMAT; with json, the access
    log line is the request's line, with the app's fields."""

    def setup(self, cfg):
        global SERVER_LOGS_REQUESTS
        super().setup(cfg)
        self.log_format = configured_format()
        if self.log_format == "json":
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())
        SERVER_LOGS_REQUESTS = self.access_log_enabled

    def access(self, resp, req, environ, request_time):
        if self.log_format != "json":
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return None
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        try:
            fields = request_fields(environ, int(status), request_time.total_seconds(), resp.sent)
            log_request(fields, self.access_log)
        except Exception:
            self.exception("access log line")
        return None
