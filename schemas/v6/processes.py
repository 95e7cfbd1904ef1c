"""Producer API (extension): the 7.9 record with the 6.20 names of services and groups."""

from marshmallow import Schema, fields, validate

from schemas.common import enum_field
from schemas.errors import Tracedata as Tracedata79
from schemas.processes import MAX_BATCH, ProcessRecord
from schemas.processes import AuditActionStatistics as AuditActionStatistics79
from schemas.v6.common import METHOD_GROUPS, SERVICE_NAMES


class ProducerTracedata(Tracedata79):
    """A request of a process, as in 7.9, naming any 6.20 service."""

    service = enum_field(SERVICE_NAMES, required=True)


class ProducerStatistics(AuditActionStatistics79):
    """The statistics of a process, as in 7.9."""


class ProducerRecord(ProcessRecord):
    """A 7.9 producer record whose service and process_type may be any 6.20 ServiceName and
    MethodGroup (STOCK, PACK, ...)."""

    service = enum_field(SERVICE_NAMES, required=True)
    process_type = enum_field(METHOD_GROUPS, required=True)
    requests = fields.List(fields.Nested(ProducerTracedata), required=True)
    statistics = fields.Nested(ProducerStatistics, required=True)


class ProducerBatch(Schema):
    """A batch of process records (extension of the documented API)."""

    processes = fields.List(fields.Nested(ProducerRecord), required=True, validate=validate.Length(1, MAX_BATCH))
