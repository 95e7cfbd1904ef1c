"""The 6.20 error bodies, from the factory of the 7.9 ones, over the 6.20 Tracedata."""

from marshmallow import Schema, fields, validate

from schemas.common import enum_field
from schemas.errors import error_family
from schemas.v6.common import SERVICE_NAMES


class Tracedata(Schema):
    """Data for request tracing."""

    code = fields.String(required=True, metadata={"description": "Unique process identifier."})
    client = fields.String(
        required=True,
        validate=[validate.Length(2, 256), validate.Regexp(r"\w+")],
        metadata={"description": "company_key + '_|_' + username.", "example": "company_|_username"},
    )
    server = fields.String(
        required=True, validate=[validate.Length(2, 256), validate.Regexp(r"\w+")], metadata={"example": "server_name"}
    )
    service = enum_field(SERVICE_NAMES, required=True)
    operation = fields.String(required=True, validate=validate.Length(3, 256))
    time = fields.AwareDateTime(required=True)


(
    General400,
    General401,
    General402,
    General403,
    General404,
    General404Detail,
    General429,
    General500,
    ERRORS_BY_STATUS,
) = error_family(Tracedata, "resource_id", __name__)
