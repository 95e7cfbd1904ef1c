"""Contract of the legacy dialect: a real gunicorn server, driven through the unmodified
6.20 reference client (vrt-lss-account 6.20.2258) configured with host http://HOST:PORT/v6.

That client has the import name of the 7.9 client installed in .venv, so it lives in
.venv/v620 (`make test` installs requirements-v6.txt there) and runs in a subprocess,
tests/v6_client_driver.py, whose JSON report these tests assert on. Records are ingested
through the 7.9 producer API (and, for names only 6.20 knows, its /v6 extension) and read
back in 6.20 shapes; the 7.9 reference client, in this process, reads the same database
and must never meet a name it cannot parse.
"""

import base64
import hashlib
import io
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import vrt_lss_account as client79

from tests import servers
from tests.conftest import process_record

pytestmark = pytest.mark.contract

BIN = Path(sys.executable).parent
V620 = Path(sys.prefix) / "v620"
DRIVER = Path(__file__).with_name("v6_client_driver.py")
CLIENT_VERSION = "6.20.2258"
SECRET = "contract-v6-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "contract_password_1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BIG_OUTPUT = bytes(range(256)) * 4500  # > 1 MiB: stored and streamed in more than one chunk


def _v620_path():
    marker = V620 / "vrt_lss_account" / "__init__.py"
    if not marker.is_file() or f'__version__ = "{CLIENT_VERSION}"' not in marker.read_text():
        pytest.fail(
            f"the 6.20 reference client is not installed in {V620}: run `make test`, or "
            f"`{BIN / 'pip'} install --target {V620} -r requirements-v6.txt`",
            pytrace=False,
        )
    return V620


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    _v620_path()
    workdir = tmp_path_factory.mktemp("v6_contract")
    settings = {"JWT_SECRET": SECRET, "BCRYPT_ROUNDS": "4", "ENV_ID": "contract", "POD_ID": "v6_pod"}
    with servers.gunicorn(database_url, workdir, **settings) as running:
        yield running


def _create_user(server, prefix, company, timezone=0, roles=()):
    username = f"{prefix}_{uuid.uuid4().hex[:12]}"
    options = [option for role in roles for option in ("--role", role)]
    servers.cli(server, "create-user", username, "--company", company, "--timezone", str(timezone), *options,
         "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    return username


# The 6.20 client, in its subprocess


def call(api, op, token=None, http_info=False, **args):
    return {"api": api, "op": op, "token": token, "args": args, "http_info": http_info}


def model(model_name, /, **fields):
    return {"$model": model_name, "fields": fields}


def enum(name, value):
    return {"$enum": name, "value": value}


def day(text):
    return {"$date": text}


def moment(text):
    return {"$datetime": text}


def drive(server, *calls, request=None):
    """Run the calls through the 6.20 client; the list of their results."""
    payload = request or {"host": f"{server.host}/v6", "calls": list(calls)}
    env = {**server.env, "PYTHONPATH": str(_v620_path())}
    done = subprocess.run(
        [sys.executable, str(DRIVER)],
        input=json.dumps(payload),
        env=env,
        capture_output=True,
        text=True,
        timeout=servers.CALL_SECONDS,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    output = json.loads(done.stdout)
    assert output["client"]["version"] == CLIENT_VERSION
    assert Path(output["client"]["file"]).resolve().is_relative_to(V620.resolve())
    return output if request else output["results"]


def ok(result):
    assert result["ok"], result
    return result["value"]


def failed(result, status, data_type):
    assert not result["ok"], result
    assert result.get("api_exception"), result  # the client's ApiException or one of its subclasses
    assert result["status"] == status, result
    assert result["data_type"] == data_type, result  # the client parsed its documented body
    return result["data"]


def assert_tracedata(tracedata, operation, username="anonymous", company="anonymous"):
    assert set(tracedata) == {"code", "client", "server", "service", "operation", "time"}
    assert tracedata["client"] == f"{company}_|_{username}"
    assert tracedata["server"] == "v6_pod"
    assert tracedata["service"] == "ACCOUNT"
    assert tracedata["operation"] == operation
    assert str(uuid.UUID(tracedata["code"])) == tracedata["code"]
    assert datetime.fromisoformat(tracedata["time"]).tzinfo is not None


def login(server, username, password=PASSWORD):
    token = ok(drive(server, call("AuthApi", "run_token_generation", token_request=model(
        "TokenRequest", username=username, password=password)))[0])  # fmt: skip
    # Unlike 7.9.2527, the 6.20 client JSON-decodes the string: it holds the bare JWT.
    assert token.count(".") == 2 and not token.startswith('"'), token
    return token


def client_79(server, token=None):
    configuration = client79.Configuration(host=server.host)
    if token is not None:
        configuration.access_token = token
    return client79.ApiClient(configuration)


# Every operation


def test_every_operation_of_the_620_client_is_served_under_v6(server):
    output = drive(server, request={"list_operations": True})
    operations = output["operations"]
    assert len(operations) == 13
    with urllib.request.urlopen(f"{server.host}/v6/account/openapi/openapi.json", timeout=30) as response:
        spec = json.load(response)
    assert spec["info"]["version"] == "6.20"
    for operation in operations:
        served = spec["paths"]["/v6" + operation["path"]][operation["method"].lower()]
        assert served["operationId"] == operation["op"], operation


def test_system_operations(server):
    check, version, english, russian, missing = drive(
        server,
        call("SystemApi", "check"),
        call("SystemApi", "version"),
        call("SystemApi", "file", filename="file_en.html"),
        call("SystemApi", "file", filename="file_ru.html"),
        call("SystemApi", "file", filename="nofile.html"),
    )
    assert ok(check) == {"health": 1.0}
    assert check["type"] == "CheckResult"
    value = ok(version)
    assert (value["major"], value["minor"]) == (6, 20) and value["build"]
    assert "Operations" in ok(english) and "read_report" in ok(english) and "6.20" in ok(english)
    assert "Операции" in ok(russian)
    body = failed(missing, 404, "General404")
    assert body["resource_id"] == "nofile.html"
    assert_tracedata(body["detail"]["tracedata"], "file")


def test_tokens_account_info_and_password(server):
    company = f"life_{uuid.uuid4().hex[:8]}"
    username = _create_user(server, "life", company, timezone=3)
    token = login(server, username)
    whole = {"username": username, "name": "Legacy Tester", "email": "legacy@example.com",
             "phone": "+71112223333", "company_key": company, "timezone": 5}  # fmt: skip
    results = drive(
        server,
        call("AuthApi", "run_token_validation", body=token),
        call("InfoApi", "read_info", token=token),
        call("InfoApi", "update_info", token=token, account_info=model("AccountInfo", **whole)),
        call("InfoApi", "read_info", token=token),
        call(
            "InfoApi", "update_info", token=token, account_info=model("AccountInfo", **{**whole, "username": "someone"})
        ),
        call(
            "InfoApi",
            "update_info",
            token=token,
            account_info=model("AccountInfo", **{**whole, "email": "not-an-email"}),
        ),
        call("InfoApi", "read_info"),
    )
    validation, before, updated, after, foreign, bad_email, anonymous = results
    assert ok(validation) == {"valid": True, "roles": ["USER"]}
    assert validation["enums"] == ["UserRole.USER"]
    assert ok(before) == {"username": username, "name": None, "email": None, "phone": None,
                          "company_key": company, "timezone": 3}  # fmt: skip
    assert before["type"] == "AccountInfo"
    assert ok(updated) == whole
    assert ok(after) == whole
    assert_tracedata(failed(foreign, 403, "General403")["tracedata"], "update_info", username, company)
    body = failed(bad_email, 400, "General400")
    assert "email" in body["message"]
    assert_tracedata(body["tracedata"], "update_info", username, company)
    assert_tracedata(failed(anonymous, 401, "General401")["tracedata"], "read_info")

    # One account: the 7.9 client sees what 6.20 changed, with the same token.
    user = client79.InfoApi(client_79(server, token)).read_info()
    assert (user.specification, user.email, user.phone, user.timezone) == (
        "Legacy Tester", "legacy@example.com", "+71112223333", 5)  # fmt: skip

    new_password = "contract_password_2"
    changed, old_info, old_validation = drive(
        server,
        call("AuthApi", "change_password", token=token,
             password_request=model("PasswordRequest", current_password=PASSWORD, new_password=new_password)),
        call("InfoApi", "read_info", token=token),
        call("AuthApi", "run_token_validation", body=token),
    )  # fmt: skip
    new_token = ok(changed)
    assert isinstance(new_token, str) and new_token != token
    assert_tracedata(failed(old_info, 401, "General401")["tracedata"], "read_info")
    assert ok(old_validation) == {"valid": False, "roles": []}
    assert ok(drive(server, call("InfoApi", "read_info", token=new_token))[0])["username"] == username
    # The new password logs in through both dialects.
    assert login(server, username, new_password)
    token79 = client79.AuthApi(client_79(server)).run_token_generation(
        client79.TokenRequest(username=username, password=new_password)
    )
    assert ok(drive(server, call("InfoApi", "read_info", token=token79))[0])["timezone"] == 5
    wrong = drive(server, call("AuthApi", "run_token_generation",
                               token_request=model("TokenRequest", username=username, password="x")))  # fmt: skip
    assert_tracedata(failed(wrong[0], 401, "General401")["tracedata"], "run_token_generation")


# Usage: records of both producers, read back in 6.20 shapes

TIMEZONE = 3
# name: (producer, service, process type, request service, UTC time, points, keys, operation, requests).
# The user's timezone is +3: local days start at 21:00 UTC of the day before.
USAGE = {
    "matrix": ("7.9", "ROUTING", "MATRIX", None, "2025-03-09T21:00:00+00:00", 4, ("a", "x"), "run_matrix", 1),
    "plan": ("7.9", "ROUTING", "PLAN", None, "2025-03-10T08:00:00+00:00", 10, ("a", "b", "c"), "run_plan", 2),
    "pack": ("6.20", "STOCK", "PACK", None, "2025-03-10T12:00:00+00:00", 20, ("p", "q"), "run_pack", 1),
    "late": ("7.9", "UNIVERSAL", "PLAN", None, "2025-03-10T22:30:00+00:00", 7, ("a", "b"), "run_universal", 1),
    "predict": ("6.20", "UNIVERSAL", "PREDICT", None, "2025-03-11T09:00:00+00:00", 5, (), "run_predict", 1),
    "haul": ("6.20", "ROUTING", "PLAN", "LONGHAUL", "2025-03-11T10:00:00+00:00", 3, (), "run_haul", 2),
}  # fmt: skip
ORDER = list(USAGE)  # time order
SIX_ONLY = ("pack", "predict", "haul")  # a name (haul: of a request) 7.9 cannot parse
MARCH = ("2025-03-01T00:00:00+00:00", "2025-03-31T23:59:59+00:00")
QUOTAS = [  # service, group, per request, per day, concurrent, date window
    ("STOCK", "PACK", 15, 1500, 5, 4500),
    ("UNIVERSAL", "PLAN", 10, 100, 2, None),
    ("UNIVERSAL", "PREDICT", 1, 2, 3, 0),
]


@dataclass
class Usage:
    username: str
    company: str
    token: str
    records: dict
    other_code: str
    files: dict


def _record(username, company, name):
    _, service, process_type, request_service, time, points, keys, operation, requests = USAGE[name]
    record = process_record(username=username, company=company, service=service, process_type=process_type,
                            time=time, points=points, point_keys=keys, operation=operation, requests=requests)  # fmt: skip
    for request in record["requests"]:
        request["service"] = request_service or service
    record["statistics"]["calculation_info"]["waiting_time"] = f"PT{ORDER.index(name) + 1}M"
    return record


@pytest.fixture(scope="module")
def usage(server):
    company = f"usage_{uuid.uuid4().hex[:8]}"
    username = _create_user(server, "usage", company, timezone=TIMEZONE)
    other = _create_user(server, "other", company)
    bot = _create_user(server, "bot", company, roles=("BOT",))
    for service, group, per_request, per_day, concurrent, window in QUOTAS:
        window_option = ["--points-per-date-window", str(window)] if window is not None else []
        servers.cli(server, "set-quota", username, service, group, "--points-per-request", str(per_request),
             "--points-per-day", str(per_day), "--max-concurrent", str(concurrent), *window_option)  # fmt: skip
    bot_token = login(server, bot)  # a 6.20 token serves the 7.9 producer API as well

    records = {name: _record(username, company, name) for name in USAGE}
    other_record = process_record(username=other, company=company, time="2025-03-10T10:00:00+00:00", points=500)
    for path, names in (("/account/processes", ("matrix", "plan", "late")), ("/v6/account/processes", SIX_ONLY)):
        batch = [records[name] for name in names] + ([other_record] if path == "/account/processes" else [])
        status, body = servers.call(
            server, bot_token, "POST", path, json.dumps({"processes": batch}).encode(), "application/json"
        )
        assert status == 200, body
        assert json.loads(body) == {"stored": len(batch)}
    # A name only 6.20 knows is refused by the 7.9 producer.
    status, body = servers.call(server, bot_token, "POST", "/account/processes",
                         json.dumps({"processes": [records["pack"]]}).encode(), "application/json")  # fmt: skip
    assert status == 400 and b"processes.0.service" in body

    plan, pack = records["plan"]["process_code"], records["pack"]["process_code"]
    files = {
        (plan, "INPUT"): json.dumps([{"point": "a", "weight": 1.5}, {"point": "=b", "tags": ["x"]}]).encode(),
        (plan, "OUTPUT"): BIG_OUTPUT,
        (pack, "INPUT"): b'{"boxes": 3, "name": "pallet"}',
        (other_record["process_code"], "INPUT"): b"{}",
    }
    for (code, flow), payload in files.items():
        status, body = servers.call(server, bot_token, "PUT", f"/account/data/{code}?data_flow_type={flow}", payload,
                             "application/octet-stream")  # fmt: skip
        assert status == 204, body
    return Usage(username, company, login(server, username), records, other_record["process_code"], files)


def _method(group, unique, points):
    return {"method_group": group, "unique_points_per_day": unique, "points_per_day": points}


def test_statistics_and_report_through_the_620_client(server, usage):
    statistics, report, default = drive(
        server,
        call("StatisticsApi", "generate_statistics", token=usage.token, var_from=day("2025-03-10"), to=day("2025-03-11")),
        call("StatisticsApi", "read_report", token=usage.token, http_info=True, var_from=day("2025-03-10"),
             to=day("2025-03-11")),
        call("StatisticsApi", "generate_statistics", token=usage.token),
    )  # fmt: skip
    assert statistics["type"] == "UserStatistics"
    assert ok(statistics) == {
        "username": usage.username,
        "dates": [
            {"date": "2025-03-10", "services": [
                {"service": "ROUTING", "methods": [_method("MATRIX", 2, 4), _method("PLAN", 3, 10)]},
                {"service": "STOCK", "methods": [_method("PACK", 2, 20)]},
            ]},
            {"date": "2025-03-11", "services": [
                {"service": "ROUTING", "methods": [_method("PLAN", 0, 3)]},
                {"service": "UNIVERSAL", "methods": [_method("PLAN", 2, 7), _method("PREDICT", 0, 5)]},
            ]},
        ],
    }  # fmt: skip
    assert {"ServiceName.STOCK", "MethodGroup.PACK", "MethodGroup.PREDICT"} <= set(statistics["enums"])
    assert ok(default)["username"] == usage.username  # this month up to yesterday: none of March 2025

    assert report["status"] == 200
    assert report["headers"]["Content-Type"] == XLSX
    content = base64.b64decode(ok(report)["base64"])
    rows = list(openpyxl.load_workbook(io.BytesIO(content))["Data"].iter_rows(values_only=True))
    assert rows[-1][0] == "Total"
    assert [(row[1], row[2], row[4]) for row in rows[1:-1]] == [
        ("ROUTING", "MATRIX", 4), ("ROUTING", "PLAN", 10), ("STOCK", "PACK", 20),
        ("ROUTING", "PLAN", 3), ("UNIVERSAL", "PLAN", 7), ("UNIVERSAL", "PREDICT", 5),
    ]  # fmt: skip

    # The 7.9 client reads the same days: only what 7.9 can name, and it parses; "haul"
    # (ROUTING PLAN with a LONGHAUL request) is out of 7.9's audit, so out of its statistics.
    seen = client79.StatisticsApi(client_79(server, usage.token)).generate_statistics(
        var_from=date(2025, 3, 10), to=date(2025, 3, 11)
    )
    assert [(d.var_date, s.service.value, p.process_type.value) for d in seen.dates for s in d.services
            for p in s.processes] == [(date(2025, 3, 10), "ROUTING", "MATRIX"), (date(2025, 3, 10), "ROUTING", "PLAN"),
                                      (date(2025, 3, 11), "UNIVERSAL", "PLAN")]  # fmt: skip


def _expected_action(usage, name):
    record = usage.records[name]
    _, service, process_type, _, time, points, _, operation, _ = USAGE[name]
    return {
        "username": usage.username,
        "company_key": usage.company,
        "tracedata": {
            "code": record["process_code"],
            "client": f"{usage.company}_|_{usage.username}",
            "server": "pod-1",
            "service": service,
            "operation": operation,
            "time": datetime.fromisoformat(time),
        },
        "method_group": process_type,
        # PT1S + PT2S + PT3S + PT<n>M + PT1H45M
        "statistics": {"points_count": points, "duration": f"PT1H{45 + ORDER.index(name) + 1}M6S"},
    }


def _actions(result):
    actions = ok(result)["actions"]
    for action in actions:
        action["tracedata"]["time"] = datetime.fromisoformat(action["tracedata"]["time"])
    return actions


def _names(usage, result):
    by_code = {record["process_code"]: name for name, record in usage.records.items()}
    return [by_code[action["tracedata"]["code"]] for action in ok(result)["actions"]]


def test_audit_through_the_620_client(server, usage):
    period = {"var_from": moment(MARCH[0]), "to": moment(MARCH[1])}
    audit = drive(
        server,
        call("AuditApi", "read_audit", token=usage.token, **period),
        call("AuditApi", "read_audit", token=usage.token, service_name=enum("ServiceName", "STOCK"), **period),
        call("AuditApi", "read_audit", token=usage.token, method_group=enum("MethodGroup", "PLAN"), **period),
        call("AuditApi", "read_audit", token=usage.token, operation_id="run_predict", **period),
        call("AuditApi", "read_audit", token=usage.token, sort_field="time", sort_direction="DESC", **period),
        call("AuditApi", "read_audit", token=usage.token, sort_field="time", offset=2, limit=3, **period),
        call("AuditApi", "read_audit", token=usage.token, service_name=enum("ServiceName", "ROUTING"),
             method_group=enum("MethodGroup", "PLAN"), sort_field="code", **period),
        call("AuditApi", "read_audit", token=usage.token, sort_field="status", **period),
        call("AuditApi", "read_audit", token=usage.token, var_from=moment("2025-03-11T00:00:00+03:00"),
             to=moment("2025-03-11T23:59:59+03:00")),
    )  # fmt: skip
    everything, stock, plan, predict, descending, page, routing_plan, bad_sort, local_day = audit
    assert everything["type"] == "AccountAuditResult"
    assert _actions(everything) == [_expected_action(usage, name) for name in ORDER]
    counters = ok(everything)["statistics"]
    assert counters["filter"] == {"total": len(USAGE)}
    assert counters["overall"]["total"] >= len(USAGE) + 1  # the logins are the user's actions too
    assert {"ServiceName.STOCK", "ServiceName.ROUTING", "MethodGroup.PACK", "MethodGroup.PREDICT"} <= set(
        everything["enums"]
    )
    assert _names(usage, stock) == ["pack"]
    assert _names(usage, plan) == ["plan", "late", "haul"]
    assert _names(usage, predict) == ["predict"]
    assert _names(usage, descending) == ORDER[::-1]
    assert _names(usage, page) == ORDER[2:5]
    assert ok(page)["statistics"]["filter"] == {"total": len(USAGE)}
    codes = sorted((usage.records["plan"]["process_code"], usage.records["haul"]["process_code"]))
    assert [action["tracedata"]["code"] for action in ok(routing_plan)["actions"]] == codes
    body = failed(bad_sort, 400, "General400")
    assert "sort_field" in body["message"]
    assert_tracedata(body["tracedata"], "read_audit", usage.username, usage.company)
    assert _names(usage, local_day) == ["late", "predict", "haul"]

    # The 7.9 client: the records 7.9 can name, nothing it would fail to parse.
    seen = client79.AuditApi(client_79(server, usage.token)).read_audit(
        var_from=datetime.fromisoformat(MARCH[0]), to=datetime.fromisoformat(MARCH[1])
    )
    by_code = {record["process_code"]: name for name, record in usage.records.items()}
    assert [by_code[action.process_code] for action in seen.actions] == ["matrix", "plan", "late"]
    assert seen.counters.filter.total == 3
    assert seen.counters.overall.total == counters["overall"]["total"] - len(SIX_ONLY)


def test_data_through_the_620_client(server, usage):
    plan, pack = usage.records["plan"]["process_code"], usage.records["pack"]["process_code"]
    late = usage.records["late"]["process_code"]
    flow = lambda value: enum("FlowType", value)  # noqa: E731
    convert = lambda value: enum("FlowConvert", value)  # noqa: E731
    results = drive(
        server,
        call("DataApi", "read_data", token=usage.token, tracecode=plan),
        call("DataApi", "read_data", token=usage.token, http_info=True, tracecode=plan, data_flow_type=flow("OUTPUT"),
             data_flow_stage=0, data_flow_convert=convert("ORIGIN")),
        call("DataApi", "read_data", token=usage.token, http_info=True, tracecode=plan, data_flow_convert=convert("JSON")),
        call("DataApi", "read_data", token=usage.token, tracecode=plan, data_flow_convert=convert("XLSX")),
        call("DataApi", "read_data", token=usage.token, tracecode=pack, data_flow_convert=convert("XLSX")),
        call("DataApi", "read_data", token=usage.token, tracecode=plan, data_flow_type=flow("OUTPUT"),
             data_flow_convert=convert("JSON")),
        call("DataApi", "read_data", token=usage.token, tracecode=plan, data_flow_stage=1),
        call("DataApi", "read_data", token=usage.token, tracecode=usage.other_code),
        call("DataApi", "read_data", token=usage.token, tracecode=late),
        call("DataApi", "read_data", token=usage.token, tracecode="not-a-uuid"),
        call("DataApi", "read_data", token=usage.token, tracecode=plan, data_flow_stage=4),
    )  # fmt: skip
    origin, output, as_json, as_xlsx, pack_xlsx, not_json, stage1, other, no_file, malformed, stage4 = results

    def content(result):
        value = ok(result)
        return base64.b64decode(value["base64"]) if "base64" in value else value

    assert content(origin) == usage.files[(plan, "INPUT")]
    assert ok(output)["sha256"] == hashlib.sha256(BIG_OUTPUT).hexdigest() and ok(output)["length"] == len(BIG_OUTPUT)
    assert output["headers"]["Content-Type"] == "application/octet-stream"
    assert content(as_json) == usage.files[(plan, "INPUT")]
    assert as_json["headers"]["Content-Type"] == "application/json"

    def sheet(result):
        return list(openpyxl.load_workbook(io.BytesIO(content(result)))["Data"].iter_rows(values_only=True))

    assert sheet(as_xlsx) == [("point", "weight", "tags"), ("a", 1.5, None), ("'=b", None, '["x"]')]
    assert sheet(pack_xlsx) == [("boxes", "name"), (3, "pallet")]
    body = failed(not_json, 400, "General400")
    assert "data_flow_convert" in body["message"]
    assert_tracedata(body["tracedata"], "read_data", usage.username, usage.company)
    for result, code in ((stage1, plan), (other, usage.other_code), (no_file, late)):
        body = failed(result, 404, "General404")
        assert body["resource_id"] == code
        assert_tracedata(body["detail"]["tracedata"], "read_data", usage.username, usage.company)
    assert "tracecode" in failed(malformed, 400, "General400")["message"]
    # The client itself refuses a stage outside 0..3: nothing is sent.
    assert stage4["error"] == "ValidationError" and "data_flow_stage" in stage4["message"]


def test_quota_through_the_620_client(server, usage):
    (quota,) = drive(server, call("QuotasApi", "read_quota", token=usage.token))
    assert quota["type"] == "QuotasResult"
    methods = {}
    for service in ok(quota)["base"]["services"]:
        for method in service["methods"]:
            methods[(service["service"], method["method_group"])] = (
                method["points_per_request"],
                method["points_per_day"],
                method["max_concurrent_execution"],
                method["points_per_date_window"],
            )
    assert methods == {(s, g): (r, d, c, w) for s, g, r, d, c, w in QUOTAS}
    assert {"ServiceName.STOCK", "MethodGroup.PACK", "MethodGroup.PREDICT"} <= set(quota["enums"])

    seen = client79.QuotasApi(client_79(server, usage.token)).read_quota()
    assert [
        (s.service.value, p.process_type.value, p.points_per_day) for s in seen.base.services for p in s.processes
    ] == [("UNIVERSAL", "PLAN", 100)]


def test_tokens_issued_by_79_work_in_620(server, usage):
    token79 = client79.AuthApi(client_79(server)).run_token_generation(
        client79.TokenRequest(username=usage.username, password=PASSWORD)
    )
    validation, info = drive(
        server, call("AuthApi", "run_token_validation", body=token79), call("InfoApi", "read_info", token=token79)
    )
    assert ok(validation) == {"valid": True, "roles": ["USER"]}
    assert ok(info)["timezone"] == TIMEZONE
    # And the audit shows the logins of both dialects as the user's own ACCOUNT actions.
    now = datetime.now(UTC)
    (own,) = drive(server, call("AuditApi", "read_audit", token=token79, service_name=enum("ServiceName", "ACCOUNT"),
                                var_from=moment((now - timedelta(days=1)).isoformat()),
                                to=moment((now + timedelta(days=1)).isoformat())))  # fmt: skip
    operations = [action["tracedata"]["operation"] for action in ok(own)["actions"]]
    assert operations.count("run_token_generation") >= 2
