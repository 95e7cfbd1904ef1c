"""Extensions, created here and bound to the app in the factory."""

from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from marshmallow import RAISE, ValidationError, fields
from webargs.flaskparser import FlaskParser

from app import jsonbody
from app.errors import handle_http_exception
from app.exceptions import ApiError
from schemas.errors import General400


class Parser(FlaskParser):
    """Bad input is a documented 400 (webargs says 422), a JSON body must say it is JSON,
    and a query string is read as strictly as a body: an unknown parameter, a parameter
    given twice and text the database cannot store are a General400 naming it."""

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}

    def load_querystring(self, req, schema):
        by_name = {field.data_key or name: field for name, field in schema.fields.items()}
        problems = {}
        for name, values in req.args.lists():
            if len(values) > 1 and not isinstance(by_name.get(name), fields.List):
                problems[name] = ["Given more than once."]
            elif any(jsonbody.UNSTORABLE.search(value) for value in values):
                problems[name] = [jsonbody.UNSTORABLE_PROBLEM]
        if problems:
            raise ValidationError(problems)
        return super().load_querystring(req, schema)

    def load_json(self, req, schema):
        if req.mimetype != "application/json":
            raise ApiError(415, "Content-Type must be application/json")
        return super().load_json(req, schema)

    def _raw_load_json(self, req):
        data = jsonbody.read_body(req)
        value = jsonbody.loads(data)
        if not isinstance(value, dict):
            raise ApiError(400, "Invalid request: body: must be a JSON object")
        jsonbody.check_storable(value, data)
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
