"""Drive the unmodified 6.20 reference client (vrt_lss_account 6.20.2258) and print what it
returned, as JSON. Run by tests/test_v6_contract.py in a subprocess whose PYTHONPATH puts
.venv/v620 first: the 7.9 client installed in .venv has the same import name.

Standard input: {"host": URL, "calls": [call, ...]} or {"list_operations": true}. A call is
{"api": "AuditApi", "op": "read_audit", "token": TOKEN|null, "args": {...}, "http_info": bool}.
Argument values are JSON, or tagged: {"$model": "AccountInfo", "fields": {...}},
{"$enum": "ServiceName", "value": "STOCK"}, {"$date": "2025-03-10"},
{"$datetime": "2025-03-10T00:00:00+00:00"}, {"$result": i} (the value call i returned).

Standard output: {"client": {"version", "file"}, "results": [result, ...]}. A result is
{"ok": true, "type", "value", "enums"[, "status", "headers"]} or {"ok": false, "error",
"status", "body", "data_type", "data"} (or "message" for a failure inside the client).
Byte results are {"sha256", "length", "base64" (up to 1 MiB)}.
"""

import base64
import enum
import hashlib
import inspect
import json
import sys
from datetime import date, datetime

import pydantic
import vrt_lss_account
from vrt_lss_account import ApiClient, ApiException, Configuration

BASE64_LIMIT = 1024 * 1024


def decode(value, results):
    if isinstance(value, list):
        return [decode(item, results) for item in value]
    if not isinstance(value, dict):
        return value
    if "$model" in value:
        return getattr(vrt_lss_account, value["$model"]).from_dict(decode(value["fields"], results))
    if "$enum" in value:
        return getattr(vrt_lss_account, value["$enum"])(value["value"])
    if "$date" in value:
        return date.fromisoformat(value["$date"])
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$result" in value:
        return results[value["$result"]]
    return {key: decode(item, results) for key, item in value.items()}


def enums(value, found):
    """'Class.VALUE' of every enum member the client typed, anywhere in a result."""
    if isinstance(value, enum.Enum):
        found.add(f"{type(value).__name__}.{value.value}")
    elif isinstance(value, pydantic.BaseModel):
        for name in type(value).model_fields:
            enums(getattr(value, name), found)
    elif isinstance(value, list | tuple):
        for item in value:
            enums(item, found)
    return found


def encode(value):
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
        encoded = {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}
        if len(data) <= BASE64_LIMIT:
            encoded["base64"] = base64.b64encode(data).decode("ascii")
        return encoded
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    return value


def run(host, call, results):
    configuration = Configuration(host=host)
    token = decode(call.get("token"), results)
    if token is not None:
        configuration.access_token = token
    api = getattr(vrt_lss_account, call["api"])(ApiClient(configuration))
    name = call["op"] + ("_with_http_info" if call.get("http_info") else "")
    try:
        returned = getattr(api, name)(**decode(call.get("args", {}), results))
    except ApiException as exc:
        results.append(None)
        return {
            "ok": False,
            "error": type(exc).__name__,  # NotFoundException, BadRequestException, ... or ApiException
            "api_exception": True,
            "status": exc.status,
            "body": exc.body,
            "data_type": type(exc.data).__name__ if exc.data is not None else None,
            "data": encode(exc.data),
            "enums": sorted(enums(exc.data, set())),
        }
    except Exception as exc:  # the client refused the arguments or the answer
        results.append(None)
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)[:4000]}
    result = {"ok": True}
    if call.get("http_info"):
        result.update(status=returned.status_code, headers=dict(returned.headers or {}))
        returned = returned.data
    results.append(returned)
    result.update(type=type(returned).__name__, value=encode(returned), enums=sorted(enums(returned, set())))
    return result


def list_operations():
    """(api, op, HTTP method, path) of every operation the client has."""
    operations = []
    for api_name in sorted(name for name in dir(vrt_lss_account) if name.endswith("Api")):
        api = getattr(vrt_lss_account, api_name)(ApiClient(Configuration(host="")))
        for name, _method in inspect.getmembers(api, inspect.ismethod):
            serialize = getattr(api, f"_{name}_serialize", None)
            if name.startswith("_") or serialize is None:
                continue
            params = [p for p in inspect.signature(serialize).parameters if not p.startswith("_")]
            http_method, url, *_ = serialize(
                **dict.fromkeys(params), _request_auth=None, _content_type=None, _headers=None, _host_index=0
            )
            operations.append({"api": api_name, "op": name, "method": http_method, "path": url.split("?")[0]})
    return operations


def main():
    request = json.load(sys.stdin)
    output = {"client": {"version": vrt_lss_account.__version__, "file": vrt_lss_account.__file__}}
    if request.get("list_operations"):
        output["operations"] = list_operations()
    else:
        results = []
        output["results"] = [run(request["host"], call, results) for call in request["calls"]]
    json.dump(output, sys.stdout)


if __name__ == "__main__":
    main()
