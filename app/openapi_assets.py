"""The OpenAPI documents' settings, written once for both dialects (init_api), and the
JavaScript and CSS of the interactive API docs (Swagger UI and ReDoc), served by the
service itself, so /account/openapi/docs and /redoc (and the /v6 ones) work on a machine
without internet. Swagger UI comes from the pinned PyPI package flask-swagger-ui (its dist
folder); ReDoc, which no suitable PyPI package ships, is vendored in app/static/redoc.
Files are looked up by name in a fixed table, never by a path."""

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, request, send_from_directory

from app.docs import StatusOrder
from app.exceptions import NotFound

SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).parent / "dist"
REDOC_DIR = Path(__file__).parent / "static" / "redoc"

BUNDLES = {
    "swagger-ui": (
        SWAGGER_UI_DIR,
        {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"},
    ),
    "redoc": (REDOC_DIR, {"redoc.standalone.js"}),
}

# The docs pages' settings: URLs relative to the page (…/openapi/docs loads
# …/openapi/assets/...), so they hold under any mount point. No validator badge: Swagger
# UI would fetch it from validator.swagger.io.
SETTINGS = {
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_REDOC_PATH": "/redoc",
    "OPENAPI_SWAGGER_UI_URL": "assets/swagger-ui/",
    "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
    "OPENAPI_REDOC_URL": "assets/redoc/redoc.standalone.js",
}
SECURITY_SCHEMES = {"ApiKeyAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}


# The docs pages may load nothing from anywhere but the service: ReDoc's sidebar would
# fetch the Redocly logo from its CDN, and a page that calls out is no offline page.
# Inline scripts and styles are the pages' own (smorest's templates, ReDoc's styles).
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
)
DOC_PAGES = ("openapi_swagger_ui", "openapi_redoc")


def init_api(app, api, title, version, url_prefix):
    """Serve api's OpenAPI document at {url_prefix}/openapi.json, with its docs pages and
    their assets: the settings go under api's config prefix ("V6_" for the 6.20 Api)."""
    settings = {"API_TITLE": title, "API_VERSION": version, "OPENAPI_URL_PREFIX": url_prefix, **SETTINGS}
    app.config.update({f"{api.config_prefix}{name}": value for name, value in settings.items()})
    api.init_app(
        app, spec_kwargs={"extra_plugins": [StatusOrder()], "components": {"securitySchemes": SECURITY_SCHEMES}}
    )
    app.register_blueprint(blueprint(f"{api.config_prefix.lower()}openapi_assets", url_prefix))


def register(app):
    """Keep every docs page (7.9 and 6.20) offline."""

    @app.after_request
    def _offline_docs(response):
        blueprint_name, _, view = (request.endpoint or "").rpartition(".")
        if blueprint_name.endswith("api-docs") and view in DOC_PAGES:
            response.headers["Content-Security-Policy"] = POLICY
        return response


def blueprint(name, openapi_prefix):
    """A blueprint serving the assets at {openapi_prefix}/assets/<bundle>/<filename>."""
    blp = Blueprint(name, __name__, url_prefix=f"{openapi_prefix}/assets")

    @blp.route("/<string:bundle>/<string:filename>", methods=["GET"])
    def asset(bundle, filename):
        folder, names = BUNDLES.get(bundle, (None, ()))
        if filename not in names:
            raise NotFound(filename)
        return send_from_directory(folder, filename)

    return blp
