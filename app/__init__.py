"""The Account service: application factory."""

import logging
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import config as settings
from app import errors
from app.db import make_engine
from app.extensions import api as smorest_api
from app.version import API_MAJOR, API_MINOR


def create_app(test_config=None):
    app = Flask(__name__, instance_path=os.environ.get("ACCOUNT_INSTANCE_PATH") or _default_instance())
    app.config.from_mapping(settings.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(settings.from_environment())
    if test_config:
        app.config.update(test_config)
    settings.finalize(app.config, app.instance_path)

    app.config.update(
        API_TITLE="VRt.Account",
        API_VERSION=f"{API_MAJOR}.{API_MINOR}",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/account/openapi",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        OPENAPI_REDOC_PATH="/redoc",
        OPENAPI_REDOC_URL="https://cdn.jsdelivr.net/npm/redoc/bundles/redoc.standalone.js",
        JSON_SORT_KEYS=False,
    )
    if not app.debug:
        app.logger.setLevel(logging.INFO)

    if app.config["TRUSTED_PROXIES"]:
        # The client address (login throttling) comes from X-Forwarded-For only when the
        # operator says how many proxies in front of the service set it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    app.extensions["account_db"] = make_engine(app.config["DATABASE_URL"], app.config["DB_CONNECT_TIMEOUT"])

    errors.register(app)
    smorest_api.init_app(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {"ApiKeyAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            }
        },
    )
    from app.api import blueprints

    for blueprint in blueprints():
        smorest_api.register_blueprint(blueprint)
    from app.api import v6

    v6.init_app(app)  # the legacy 6.20 dialect under /v6, with its own OpenAPI document
    from app import console

    app.register_blueprint(console.bp)  # the browser console: static files, outside the API document
    # smorest registers its own HTTPException handler at init: ours must win everywhere.
    errors.register(app)

    from app import cli

    cli.register(app)
    return app


def _default_instance():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "instance")
