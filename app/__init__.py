"""The Account service: application factory."""

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import config as settings
from app import errors, openapi_assets
from app.db import make_engine
from app.extensions import api as smorest_api
from app.streaming import SendTimeout
from app.version import API_MAJOR, API_MINOR


def create_app(test_config=None):
    # instance_relative_config: config.py is the instance folder's, not app/config.py.
    app = Flask(__name__, instance_path=settings.instance_path(), instance_relative_config=True)
    settings.load(app.config, test_config)

    app.config.update(JSON_SORT_KEYS=False)
    if not app.debug:
        app.logger.setLevel(logging.INFO)

    if app.config["TRUSTED_PROXIES"]:
        # The client address (login throttling) comes from X-Forwarded-For only when the
        # operator says how many proxies in front of the service set it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    # Under gunicorn: a client that stops reading (or sending) frees its thread.
    app.wsgi_app = SendTimeout(app.wsgi_app, app.config["SEND_TIMEOUT"])
    app.extensions["account_db"] = make_engine(app.config["DATABASE_URL"], app.config["DB_CONNECT_TIMEOUT"])

    errors.register(app)
    openapi_assets.init_api(app, smorest_api, "VRt.Account", f"{API_MAJOR}.{API_MINOR}", "/account/openapi")
    from app.api.registry import blueprints

    for blueprint in blueprints():
        smorest_api.register_blueprint(blueprint)
    openapi_assets.register(app)
    from app.api.v6 import registry as v6

    v6.init_app(app)  # the legacy 6.20 dialect under /v6, with its own OpenAPI document
    from app import console

    app.register_blueprint(console.bp)  # the browser console: static files, outside the API document
    # smorest registers its own HTTPException handler at init: ours must win everywhere.
    errors.register(app)

    from app import cli, health, logs, metrics

    cli.register(app)
    for extension in (logs, metrics, health):  # request lines and X-Request-Id, /metrics, probes
        extension.init_app(app)
    return app
