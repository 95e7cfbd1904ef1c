"""Health, version and the service's own documentation files."""

from flask import Response

from app import db, docs, health
from app.api import operation
from app.db import NotFound
from app.extensions import Blueprint
from app.version import API_MAJOR, API_MINOR, __version__
from schemas.system import CheckResult, FileParameters, VersionResult

blp = Blueprint("system", __name__, url_prefix="/account", description="System.")


@blp.route("/system/check", methods=["GET"])
@operation(blp, 500)
@blp.response(200, CheckResult)
def check():
    """Check the service's health: 1.0 when it can serve, 0.0 when it cannot (its database
    does not answer within a second, or its schema is not at the latest migration, or a
    table is missing)."""
    return {"health": 0.0 if health.problem(db.engine()) else 1.0}


@blp.route("/system/version", methods=["GET"])
@operation(blp, 500)
@blp.response(200, VersionResult)
def version():
    """The API version (major, minor) and the build of this service."""
    return {"major": API_MAJOR, "minor": API_MINOR, "build": __version__}


# The documentation files' documented answer, in both dialects.
FILE_RESPONSES = {
    "200": {
        "description": "The documentation file.",
        "content": {"text/html": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}},
    }
}


@blp.route("/file/<string:filename>", methods=["GET"])
@operation(blp, 400, 404, 500)
@blp.arguments(FileParameters, location="path", as_kwargs=True)
@blp.doc(responses=FILE_RESPONSES)
def file(filename):
    """A documentation file of this service (file_en.html, file_ru.html, openapi.json...)."""
    return documentation_file(filename)


def documentation_file(filename, spec_api=None):
    """A documentation file of the document of spec_api (7.9's unless told), or General404."""
    document = docs.render(filename, spec_api)
    if document is None:
        raise NotFound(filename)
    content, mimetype = document
    return Response(content, mimetype=mimetype)
