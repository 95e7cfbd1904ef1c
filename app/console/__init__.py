"""The account console: a small browser application at /account/console/, served from
static files (no build step). It calls the 7.9 API with the user's bearer token, which it
keeps in the tab's sessionStorage; these routes serve only the application's files, so
they need no token themselves."""

import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, redirect, request, send_from_directory, url_for

from schemas.common import CALCULATION_STATUSES, PROCESS_TYPES, SERVICES

STATIC = Path(__file__).parent / "static"

# The API's enums the console offers (the audit's filters), served as the module enums.js
# from their one definition: a service added to schemas/common.py appears in the console
# with no edit to its scripts.
ENUMS = {"SERVICES": SERVICES, "PROCESS_TYPES": PROCESS_TYPES, "STATUSES": CALCULATION_STATUSES}
ENUMS_MODULE = "enums.js"

# No inline script or style, nothing from another origin; the API is same-origin.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}

bp = Blueprint("console", __name__, url_prefix="/account/console")


@bp.after_request
def _secure(response):
    response.headers.update(HEADERS)
    return response


@bp.route("", methods=["GET"])
def root():
    # Relative URLs in the page (app.js, console.css) resolve under the slash.
    return redirect(url_for("console.page") + ("?" + request.query_string.decode() if request.query_string else ""))


@bp.route("/", methods=["GET"])
def page():
    return send_from_directory(STATIC, "index.html", mimetype="text/html")


@bp.route("/<path:name>", methods=["GET"])
def asset(name):
    """The application's files, and enums.js made from the schemas; anything else is the
    service's General404."""
    if name == ENUMS_MODULE:
        return Response(enums_module(), mimetype="text/javascript")
    return send_from_directory(STATIC, name)


@cache
def enums_module():
    """The text of enums.js: an ES module exporting each of ENUMS as an array of strings
    (JSON is valid JavaScript here: arrays of ASCII names)."""
    lines = ["// Made by the service (app/console/__init__.py) from schemas/common.py."]
    lines += [f"export const {name} = {json.dumps(list(values))};" for name, values in ENUMS.items()]
    return "\n".join(lines) + "\n"
