"""The legacy API 6.20 dialect (served under /v6): its enums and payloads, one module per
resource, with the names and bounds of the 6.20 reference client (vrt-lss-account
6.20.2258). Field building blocks of 7.9 are reused where 6.20 has the same bounds.

Every public name is re-exported here: `from schemas.v6 import X` serves the views.
"""

from schemas.v6.audit import (
    SORT_FIELDS,
    AccountAuditResult,
    AuditAction,
    AuditActionStatistics,
    AuditQuery,
    AuditStats,
    AuditStatsDetail,
)
from schemas.v6.auth import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    TOKEN_JSON_SCHEMA,
    TOKEN_MAX,
    TOKEN_MIN,
    PasswordRequest,
    TokenRequest,
    TokenValidationResult,
)
from schemas.v6.common import FLOW_CONVERTS, MAX_POINTS, METHOD_GROUPS, SERVICE_NAMES
from schemas.v6.data import DataQuery, TracecodePath
from schemas.v6.errors import (
    ERRORS_BY_STATUS,
    General400,
    General401,
    General402,
    General403,
    General404,
    General404Detail,
    General429,
    General500,
    Tracedata,
)
from schemas.v6.info import AccountInfo
from schemas.v6.processes import ProducerBatch, ProducerRecord, ProducerStatistics, ProducerTracedata
from schemas.v6.quota import MethodQuota, QuotaBase, QuotasResult, ServiceQuota
from schemas.v6.statistics import DateStatistics, MethodStatistics, ServiceStatistics, StatisticsQuery, UserStatistics
from schemas.v6.system import VersionResult

__all__ = [
    "AccountAuditResult",
    "AccountInfo",
    "AuditAction",
    "AuditActionStatistics",
    "AuditQuery",
    "AuditStats",
    "AuditStatsDetail",
    "DataQuery",
    "DateStatistics",
    "ERRORS_BY_STATUS",
    "FLOW_CONVERTS",
    "General400",
    "General401",
    "General402",
    "General403",
    "General404",
    "General404Detail",
    "General429",
    "General500",
    "MAX_POINTS",
    "METHOD_GROUPS",
    "MethodQuota",
    "MethodStatistics",
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "PasswordRequest",
    "ProducerBatch",
    "ProducerRecord",
    "ProducerStatistics",
    "ProducerTracedata",
    "QuotaBase",
    "QuotasResult",
    "SERVICE_NAMES",
    "SORT_FIELDS",
    "ServiceQuota",
    "ServiceStatistics",
    "StatisticsQuery",
    "TOKEN_JSON_SCHEMA",
    "TOKEN_MAX",
    "TOKEN_MIN",
    "TokenRequest",
    "TokenValidationResult",
    "TracecodePath",
    "Tracedata",
    "UserStatistics",
    "VersionResult",
]
