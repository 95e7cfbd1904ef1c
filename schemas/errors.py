"""The documented error bodies."""

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


class _Message(Schema):
    tracedata = fields.Nested(Tracedata, required=True)
    message = fields.String(allow_none=True)


class General400(_Message):
    """Bad request."""


class General401(_Message):
    """Unauthorized (the documented 7.9 API gives 401 no body; ours is this one)."""


class General402(_Message):
    """Payment required."""


class General403(_Message):
    """Forbidden."""


class General429(_Message):
    """Too many requests."""


class General500(_Message):
    """Internal server error."""


class General404Detail(Schema):
    tracedata = fields.Nested(Tracedata, required=True)


class General404(Schema):
    """Resource not found."""

    resource_key = fields.String(allow_none=True)
    detail = fields.Nested(General404Detail, allow_none=True)


BY_STATUS = {400: General400, 402: General402, 403: General403, 404: General404, 429: General429, 500: General500}
