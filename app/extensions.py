"""Extensions, created here and bound to the app in the factory."""

from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from webargs.flaskparser import FlaskParser

from app import jsonbody
from app.errors import ApiError, handle_http_exception
from schemas.errors import General400


class Parser(FlaskParser):
    """Bad input is a documented 400 (webargs says 422), and a JSON body must say it is JSON."""

    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req, schema):
        if req.mimetype != "application/json":
            raise ApiError(415, "Content-Type must be application/json")
        return super().load_json(req, schema)

    def _raw_load_json(self, req):
        value = jsonbody.loads(req.get_data(cache=True))
        if not isinstance(value, dict):
            raise ApiError(400, "Invalid request: body: must be a JSON object")
        return value


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = Parser()


class Api(_Api):
    # Errors are documented per operation with the documented bodies, not smorest's own.
    DEFAULT_ERROR_RESPONSE_NAME = None
    ERROR_SCHEMA = General400

    def handle_http_exception(self, error):
        # One error body for the whole service, whoever raised the exception.
        return handle_http_exception(error)


api = Api()
