"""Health, version and the 6.20 documentation files."""

from app.api.common import FILE_RESPONSES, documentation_file
from app.api.v6 import PREFIX, api, operation
from app.extensions import Blueprint
from app.services import system
from app.version import __version__
from schemas.system import CheckResult, FileParameters
from schemas.v6 import VersionResult

blp = Blueprint("v6_system", __name__, url_prefix=PREFIX, description="System.")

API_MAJOR, API_MINOR = 6, 20


@blp.route("/system/check", methods=["GET"])
@operation(blp, 500)
@blp.response(200, CheckResult)
def check():
    """Check the service's health: 1.0 when its database answers, 0.0 when it does not."""
    return {"health": system.health_score()}


@blp.route("/system/version", methods=["GET"])
@operation(blp, 500)
@blp.response(200, VersionResult)
def version():
    """The API version of this dialect (6.20) and the build of this service."""
    return {"major": API_MAJOR, "minor": API_MINOR, "build": __version__}


@blp.route("/file/<string:filename>", methods=["GET"])
@operation(blp, 404, 500)
@blp.arguments(FileParameters, location="path", as_kwargs=True)
@blp.doc(responses=FILE_RESPONSES)
def file(filename):
    """A documentation file of the 6.20 dialect (file_en.html, file_ru.html, openapi.json)."""
    return documentation_file(filename, api)
