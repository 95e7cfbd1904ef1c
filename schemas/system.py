"""System payloads."""

from marshmallow import Schema, fields, validate

from schemas.common import integer


class CheckResult(Schema):
    """Service health."""

    health = fields.Float(
        required=True,
        validate=validate.Range(0, 1),
        metadata={"description": "0.0: not ready; 1.0: fully ready.", "example": 1.0},
    )


class VersionResult(Schema):
    """Service version."""

    major = integer(1, 100, required=True)
    minor = integer(0, 111, required=True)
    build = fields.String(required=True, validate=validate.Length(1, 64))


class FileParameters(Schema):
    filename = fields.String(required=True, validate=validate.Length(6, 128), metadata={"example": "file_en.html"})
