"""The documented error bodies: one factory builds the family of each dialect."""

from http import HTTPStatus
from typing import NamedTuple

from marshmallow import Schema, fields, validate

from schemas.common import SERVICES, company_field, enum_field, username_field


class Tracedata(Schema):
    """Trace data of one request."""

    process_code = fields.UUID(required=True)
    request_code = fields.UUID(required=True)
    username = username_field(required=True)
    company = company_field(required=True)
    service = enum_field(SERVICES, required=True)
    operation = fields.String(required=True, validate=validate.Length(3, 256))
    env = fields.String(required=True, validate=validate.Length(2, 256))
    pod = fields.String(required=True, validate=validate.Length(2, 256))
    time = fields.AwareDateTime(required=True)


class ErrorFamily(NamedTuple):
    """The error bodies of one dialect; by_status maps each documented status to its body."""

    General400: type
    General401: type
    General402: type
    General403: type
    General404: type
    General404Detail: type
    General429: type
    General500: type
    by_status: dict


def error_family(tracedata, not_found_key, module):
    """The error bodies of a dialect whose Tracedata schema is tracedata: General4xx and
    General500 are {tracedata, message}, General404 is {not_found_key, detail: {tracedata}};
    413 and 415 answer a General400. The classes' names are the component names of the
    OpenAPI document; module is the one they are said to belong to."""

    def schema(name, doc, **fields_):
        return type(name, (Schema,), {**fields_, "__doc__": doc, "__module__": module})

    def message(status):
        return schema(
            f"General{status}",
            f"{HTTPStatus(status).phrase}.",
            tracedata=fields.Nested(tracedata, required=True),
            message=fields.String(allow_none=True),
        )

    by_status = {status: message(status) for status in (400, 401, 402, 403, 429, 500)}
    detail = schema("General404Detail", "Resource details.", tracedata=fields.Nested(tracedata, required=True))
    by_status[404] = schema(
        "General404",
        "Resource not found.",
        **{not_found_key: fields.String(allow_none=True), "detail": fields.Nested(detail, allow_none=True)},
    )
    by_status[413] = by_status[415] = by_status[400]
    return ErrorFamily(
        *(by_status[status] for status in (400, 401, 402, 403, 404)),
        detail,
        by_status[429],
        by_status[500],
        dict(sorted(by_status.items())),
    )


# The documented 7.9 API gives 401 no body; ours is General401 like the others.
General400, General401, General402, General403, General404, General404Detail, General429, General500, BY_STATUS = (
    error_family(Tracedata, "resource_key", __name__)
)
