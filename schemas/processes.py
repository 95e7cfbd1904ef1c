"""Process records: the documented AuditAction and its parts, and the producer batch."""

from marshmallow import Schema, fields, pre_load, validate

from schemas.common import (
    CALCULATION_STATUSES,
    FLOW_STAGES,
    FLOW_TYPES,
    PROCESS_TYPES,
    SERVICES,
    company_field,
    enum_field,
    integer,
    query_integer,
    username_field,
)
from schemas.errors import Tracedata

# The ISO 8601 duration pattern of the reference client.
DURATION_PATTERN = (
    r"^P(?!$)((\d+Y)|(\d+\.\d+Y$))?((\d+M)|(\d+\.\d+M$))?((\d+W)|(\d+\.\d+W$))?((\d+D)|(\d+\.\d+D$))?"
    r"(T(?=\d)((\d+H)|(\d+\.\d+H$))?((\d+M)|(\d+\.\d+M$))?(\d+(\.\d+)?S)?)??$"
)
MAX_BATCH = 1000
MAX_POINT_KEYS = 100_000


def _duration(**kwargs):
    return fields.String(
        required=True,
        validate=[validate.Length(3, 16), validate.Regexp(DURATION_PATTERN)],
        metadata={"example": "PT1H45M", "description": "ISO 8601 duration."},
        **kwargs,
    )


class CalculationInfo(Schema):
    """Calculation information."""

    status = enum_field(CALCULATION_STATUSES, required=True)
    result_version = integer(0, 10**6, required=True)
    preparing_time = _duration()
    business_validation_time = _duration()
    math_validation_time = _duration()
    waiting_time = _duration()
    calculation_time = _duration()


class AuditActionStatistics(Schema):
    """Statistics of one process."""

    request_points_count = integer(0, 10**8, allow_none=True)
    result_elements_count = integer(0, 10**8, allow_none=True)
    calculation_info = fields.Nested(CalculationInfo, required=True)


class AuditAction(Schema):
    """One user action: a calculation process with its requests."""

    process_code = fields.UUID(required=True)
    process_type = enum_field(PROCESS_TYPES, required=True)
    username = username_field(required=True)
    company = company_field(required=True)
    service = enum_field(SERVICES, required=True)
    time = fields.AwareDateTime(required=True)
    requests = fields.List(fields.Nested(Tracedata), required=True)
    statistics = fields.Nested(AuditActionStatistics, required=True)
    input_file_exists = fields.Boolean(dump_default=False)
    output_file_exists = fields.Boolean(dump_default=False)


class AuditCountersDetail(Schema):
    total = integer(0, 10**8, required=True)


class AuditCounters(Schema):
    overall = fields.Nested(AuditCountersDetail, required=True)
    filter = fields.Nested(AuditCountersDetail, required=True)


class AccountAuditResult(Schema):
    """User actions and their counters."""

    actions = fields.List(fields.Nested(AuditAction), required=True, validate=validate.Length(0, 10**7))
    counters = fields.Nested(AuditCounters, required=True)


class ProcessRecord(AuditAction):
    """A process as a producer sends it: AuditAction plus the keys of its points.

    File flags are not accepted: they follow the uploads of PUT /account/data.
    """

    class Meta:
        exclude = ("input_file_exists", "output_file_exists")

    point_keys = fields.List(
        fields.String(validate=validate.Length(1, 256)),
        load_default=list,
        validate=validate.Length(0, MAX_POINT_KEYS),
        metadata={"description": "Keys identifying the request's points, for unique-point counting."},
    )


class ProcessBatch(Schema):
    """A batch of process records (extension of the documented API)."""

    processes = fields.List(fields.Nested(ProcessRecord), required=True, validate=validate.Length(1, MAX_BATCH))


class ProcessBatchResult(Schema):
    """How many records the batch held; all were stored."""

    stored = fields.Integer(required=True)


class _EmptyMeansAll(Schema):
    """An empty service or process_type means all of them. Only those two: any other
    parameter sent empty (sort_field, operation, limit, from, ...) breaks its bounds."""

    _ALL_WHEN_EMPTY = ("service", "process_type")

    @pre_load
    def drop_empty(self, data, **kwargs):
        if not hasattr(data, "items"):
            return data
        return {key: value for key, value in data.items() if not (key in self._ALL_WHEN_EMPTY and value == "")}


class StatisticsQuery(_EmptyMeansAll):
    from_ = fields.Date(data_key="from", metadata={"example": "2024-11-22"})
    to = fields.Date(metadata={"example": "2024-11-26"})
    service = enum_field(SERVICES)
    process_type = enum_field(PROCESS_TYPES)


SORT_FIELDS = ("time", "process_code", "process_type", "service", "username", "company", "status")


class AuditQuery(_EmptyMeansAll):
    offset = query_integer(0, 10**7, load_default=0)
    limit = query_integer(1, 10**7, load_default=100)
    from_ = fields.DateTime(data_key="from", metadata={"example": "2024-11-21T09:30:00+03:00"})
    to = fields.DateTime(metadata={"example": "2024-11-21T18:00:00+03:00"})
    service = enum_field(SERVICES)
    operation = fields.String(validate=validate.Length(3, 256))
    process_type = enum_field(PROCESS_TYPES)
    status = enum_field(CALCULATION_STATUSES)
    sort_field = fields.String(
        validate=[validate.Length(1, 64), validate.OneOf(SORT_FIELDS)], metadata={"example": "time"}
    )
    sort_direction = fields.String(validate=validate.OneOf(("ASC", "DESC")), load_default="ASC")


class DataQuery(Schema):
    data_flow_type = enum_field(FLOW_TYPES, load_default="INPUT")
    data_flow_stage = enum_field(FLOW_STAGES, load_default="RAW")


class ProcessCodePath(Schema):
    process_code = fields.UUID(required=True)
