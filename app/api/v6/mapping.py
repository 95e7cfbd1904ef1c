"""Thin mapping between what the service stores (the 7.9 names) and the 6.20 payloads.

Both dialects call the same services (app/services); this module only renames and
reshapes what they return:

- name <-> specification; method_group <-> process_type (the same value; a group only 6.20
  knows, such as PACK, is stored as it is); company_key <-> company.
- Tracedata: code = process_code, client = company + "_|_" + username, server = the pod of
  the process's first request, operation = that request's operation, time = the process's.
- AuditAction.statistics: points_count = request_points_count, duration = the sum of the
  five stored calculation durations.
- data_flow_convert: ORIGIN gives the stored bytes, JSON and XLSX convert stored JSON.
"""

import io
import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from openpyxl import Workbook

from app import clock
from app.db.ingest import CALCULATION_INFO_COLUMNS
from app.exceptions import ApiError
from app.jsonbody import DECODER, MAX_DEPTH, within_depth
from app.report import safe_text
from app.services import usage
from schemas.v6 import MAX_POINTS

CLIENT_SEPARATOR = "_|_"
UNKNOWN_OPERATION = "unknown_operation"
UNKNOWN_SERVER = "unknown_server"
# JSON and XLSX conversions hold the file in memory: past this size only ORIGIN is served.
CONVERT_MAX_BYTES = 16 * 1024 * 1024
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_COLUMNS = 16_384


def client(company, username):
    return f"{company}{CLIENT_SEPARATOR}{username}"


def server(pod):
    """A 6.20 server identifier (2..256 characters starting with a word character)."""
    if not pod:
        return UNKNOWN_SERVER
    if not re.match(r"\w", pod):
        pod = "_" + pod
    return pod[:256] if len(pod) >= 2 else pod + "_"


# Account


def account_info(user):
    return {
        "username": user["username"],
        "name": user["specification"],
        "email": user["email"],
        "phone": user["phone"],
        "company_key": user["company_key"],
        "timezone": user["timezone"],
    }


# The stored columns a 6.20 PUT /account/info changes, from its AccountInfo.
INFO_COLUMNS = ("specification", "email", "phone", "timezone")


def profile_changes(info):
    return {"specification": info["name"], "email": info["email"], "phone": info["phone"], "timezone": info["timezone"]}


# Statistics


def _points(value):
    """A count within the 6.20 bound (10^7): larger counts are reported as the bound."""
    return min(int(value or 0), MAX_POINTS)


def _method(row):
    return {
        "method_group": row.process_type,
        "unique_points_per_day": _points(row.unique_points),
        "points_per_day": _points(row.points),
    }


def user_statistics(username, rows):
    """StatisticsRows sorted by day, service, process type -> the 6.20 UserStatistics."""
    dates = [
        {
            "date": day,
            "services": [
                {"service": service, "methods": [_method(row) for row in of_service]}
                for service, of_service in services
            ],
        }
        for day, services in usage.by_day_and_service(rows)
    ]
    return {"username": username, "dates": dates}


# Audit


def audit_filters(query):
    """The 6.20 audit query -> the filters of app.services.audit.stream."""
    return {
        "service": query.get("service_name"),
        "process_type": query.get("method_group"),
        "operation": query.get("operation_id"),
    }


_DURATION = re.compile(
    r"^P(?:(?P<Y>\d+(?:\.\d+)?)Y)?(?:(?P<M>\d+(?:\.\d+)?)M)?(?:(?P<W>\d+(?:\.\d+)?)W)?(?:(?P<D>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
# Calendar units have no fixed length: a year counts as 365 days and a month as 30.
_UNIT_SECONDS = {"Y": 365 * 86400, "M": 30 * 86400, "W": 7 * 86400, "D": 86400, "h": 3600, "m": 60, "s": 1}
_MAX_DURATION_LENGTH = 16


def duration_seconds(text):
    """Seconds (a Decimal) of an ISO 8601 duration as stored (PT1H45M, P1DT2.5S...)."""
    match = _DURATION.match(text or "")
    if match is None:
        return Decimal(0)
    total = Decimal(0)
    for unit, value in match.groupdict().items():
        if value is not None:
            try:
                total += Decimal(value) * _UNIT_SECONDS[unit]
            except InvalidOperation:
                continue
    return total


def _number(value):
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _render(seconds):
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = "P" + (f"{int(days)}D" if days else "")
    clock_part = (
        (f"{int(hours)}H" if hours else "")
        + (f"{int(minutes)}M" if minutes else "")
        + (f"{_number(secs)}S" if secs else "")
    )
    if clock_part:
        text += "T" + clock_part
    return text if text != "P" else "PT0S"


def render_duration(seconds):
    """An ISO 8601 duration of 3..16 characters (the 6.20 bound): in days, hours, minutes
    and seconds (milliseconds at most), rounded to a coarser unit when that is too long."""
    seconds = max(Decimal(seconds), Decimal(0))
    for quantum in (Decimal("0.001"), Decimal(1), Decimal(60), Decimal(3600), Decimal(86400)):
        rounded = (seconds / quantum).quantize(Decimal(1), rounding=ROUND_HALF_UP) * quantum
        text = _render(rounded)
        if len(text) <= _MAX_DURATION_LENGTH:
            return text
    return f"P{10**14 - 1}D"


def total_duration(row):
    """The sum of the five stored calculation durations of a process."""
    names = [name for name in CALCULATION_INFO_COLUMNS if name.endswith("_time")]
    return render_duration(sum((duration_seconds(row[name]) for name in names), Decimal(0)))


def audit_action(row):
    """A process row of the audit (requests in time order) -> a 6.20 AuditAction."""
    first = row["requests"][0] if row["requests"] else None
    return {
        "username": row["username"],
        "company_key": row["company"],
        "tracedata": {
            "code": row["process_code"],
            "client": client(row["company"], row["username"]),
            "server": server(first["pod"] if first else None),
            "service": row["service"],
            "operation": first["operation"] if first else UNKNOWN_OPERATION,
            "time": clock.from_us(row["time_us"]),
        },
        "method_group": row["process_type"],
        "statistics": {"points_count": _points(row["request_points_count"]), "duration": total_duration(row)},
    }


# Quotas


def _method_quota(quota):
    return {
        "method_group": quota["process_type"],
        "points_per_request": quota["points_per_request"],
        "points_per_day": quota["points_per_day"],
        "points_per_date_window": quota["points_per_date_window"],
        "max_concurrent_execution": quota["max_concurrent_execution"],
    }


def quotas_result(grouped):
    """[(service, [quota...])...] of app.services.accounts.quotas_by_service -> the 6.20 QuotasResult."""
    services = [{"service": service, "methods": [_method_quota(q) for q in quotas]} for service, quotas in grouped]
    return {"base": {"services": services}}


# Data conversion (data_flow_convert, deprecated in 6.20)


def _refuse(detail):
    return ApiError(400, f"Invalid request: data_flow_convert: {detail}")


def read_limited(chunks, limit=CONVERT_MAX_BYTES):
    """The whole file from its chunks (a bytearray, not copied again), or a General400 past
    the conversion limit, read no further than the chunk that crosses it."""
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > limit:
            raise _refuse(f"the stored data is larger than {limit} bytes; only ORIGIN serves it")
    return data


def _cell(value):
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return safe_text(value)
    return safe_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _bounded(value, limit):
    """value, or a General400 when it nests deeper than the request bodies may."""
    if not within_depth(value, limit):
        raise _refuse(f"the stored data is nested deeper than {MAX_DEPTH} levels; only ORIGIN serves it")
    return value


def _top_values(text):
    """The values of stored JSON text, decoded one at a time: the elements of a top array,
    or the top value itself. A General400 when the text is not JSON (found when reached)."""
    try:
        start = _WHITESPACE.match(text).end()
        if not text.startswith("[", start):
            value, end = DECODER.raw_decode(text, start)
            if _WHITESPACE.match(text, end).end() != len(text):
                raise ValueError("text after the value")
            yield _bounded(value, MAX_DEPTH)
            return
        index = _WHITESPACE.match(text, start + 1).end()
        if text.startswith("]", index):
            index += 1
        else:
            while True:
                value, index = DECODER.raw_decode(text, index)
                yield _bounded(value, MAX_DEPTH - 1)  # an element of the top array
                index = _WHITESPACE.match(text, index).end()
                if text.startswith(",", index):
                    index = _WHITESPACE.match(text, index + 1).end()
                elif text.startswith("]", index):
                    index += 1
                    break
                else:
                    raise ValueError("neither , nor ] after an element")
        if _WHITESPACE.match(text, index).end() != len(text):
            raise ValueError("text after the array")
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
        raise _refuse("the stored data is not JSON; only ORIGIN serves it") from exc


def _text(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse("the stored data is not JSON; only ORIGIN serves it") from exc


def check_json(data):
    """A General400 unless the stored bytes are JSON, checked a top value (an element of a
    top array) at a time: memory holds the text and one element, never the whole array."""
    for _value in _top_values(_text(data)):
        pass


def to_xlsx(data):
    """Stored JSON that is an object, or an array of objects, as a one-sheet workbook: one
    column per key (in order of first appearance), one row per object; nested values as
    JSON text, text through the report's safe_text. Anything else is a General400. The
    objects are decoded one at a time, twice (the keys first, then the rows): memory holds
    the text and one object, never the whole decoded array."""
    text = _text(data)
    is_array = text.startswith("[", _WHITESPACE.match(text).end())
    columns, count, objects = {}, 0, True
    for value in _top_values(text):  # the whole text is checked before any refusal of its shape
        count += 1
        if isinstance(value, dict):
            columns.update(dict.fromkeys(value))
        else:
            objects = False
    if not objects or (not is_array and count != 1):
        raise _refuse("XLSX needs stored JSON that is an object or an array of objects")
    if count + 1 > XLSX_MAX_ROWS:
        raise _refuse(f"XLSX holds at most {XLSX_MAX_ROWS - 1} objects")
    if len(columns) > XLSX_MAX_COLUMNS:
        raise _refuse(f"XLSX holds at most {XLSX_MAX_COLUMNS} keys")
    columns = list(columns)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Data")
    sheet.append([safe_text(column) for column in columns])
    for row in _top_values(text):
        sheet.append([_cell(row.get(column)) for column in columns])
    handle = io.BytesIO()
    workbook.save(handle)
    return handle.getvalue()
