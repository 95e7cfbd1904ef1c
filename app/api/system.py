"""Health, version and the service's own documentation files."""

from app.api import operation
from app.api.common import FILE_RESPONSES, documentation_file
from app.extensions import Blueprint
from app.services import system
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
    return {"health": system.health_score()}


@blp.route("/system/version", methods=["GET"])
@operation(blp, 500)
@blp.response(200, VersionResult)
def version():
    """The API version (major, minor) and the build of this service."""
    return {"major": API_MAJOR, "minor": API_MINOR, "build": __version__}


@blp.route("/file/<string:filename>", methods=["GET"])
@operation(blp, 400, 404, 500)
@blp.arguments(FileParameters, location="path", as_kwargs=True)
@blp.doc(responses=FILE_RESPONSES)
def file(filename):
    """A documentation file of this service (file_en.html, file_ru.html, openapi.json...)."""
    return documentation_file(filename)
