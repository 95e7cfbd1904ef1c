"""Process data queries (6.20)."""

from marshmallow import Schema, fields

from schemas.common import FLOW_TYPES, enum_field, query_integer
from schemas.v6.common import FLOW_CONVERTS


class DataQuery(Schema):
    data_flow_type = enum_field(FLOW_TYPES, load_default="INPUT")
    data_flow_stage = query_integer(
        0, 3, load_default=0, metadata={"description": "0 is the raw data, the only stage stored."}
    )
    data_flow_convert = enum_field(
        FLOW_CONVERTS,
        load_default="ORIGIN",
        metadata={"deprecated": True, "description": "ORIGIN: the stored bytes; JSON or XLSX: converted."},
    )


class TracecodePath(Schema):
    tracecode = fields.UUID(required=True)
