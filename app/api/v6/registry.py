"""Serving the 6.20 dialect: its error bodies, its Api and document, its blueprints. Here
rather than in app.api.v6, which the 6.20 views import."""

from app import openapi_assets
from app.api.v6 import DIALECT_PREFIX, PREFIX, api, audit, auth, data, info, processes, quota, statistics, system
from app.api.v6.errors import error_body
from app.errors import register_dialect


def init_app(app):
    """Serve the 6.20 dialect on app: its error bodies, its Api, its document and its
    blueprints."""
    register_dialect(app, DIALECT_PREFIX, error_body)
    openapi_assets.init_api(app, api, "VRt.Account (legacy 6.20)", "6.20", f"{PREFIX}/openapi")
    for module in (auth, info, statistics, audit, data, quota, system, processes):
        api.register_blueprint(module.blp)
