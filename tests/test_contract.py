"""Contract: a real gunicorn server, driven through the unmodified reference client.

The reference client `vrt_lss_account` 7.9 is the ground truth: every call here goes
through its typed API and its own (de)serialization, so a response it cannot parse, a
wrong status or a token it cannot send back fails the contract. Users and quotas are
made with the real administration CLI, in a subprocess, against the same database.
"""

import functools
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import openpyxl
import pytest
import vrt_lss_account
from vrt_lss_account import (
    AccountAuditResult,
    ApiClient,
    ApiException,
    Attribute,
    AuditAction,
    AuditApi,
    AuthApi,
    CalculationStatus,
    CheckResult,
    DataApi,
    DateStatistics,
    FlowType,
    General400,
    General404,
    InfoApi,
    InfoChangeRequest,
    PasswordChangeRequest,
    ProcessStatistics,
    ProcessType,
    QuotasApi,
    QuotasResult,
    Service,
    ServiceStatistics,
    StatisticsApi,
    SystemApi,
    TokenRequest,
    TokenValidationResult,
    Tracedata,
    User,
    UserRole,
    UserStatistics,
    VersionResult,
)

from tests import servers
from tests.conftest import process_record

pytestmark = pytest.mark.contract

SECRET = "contract-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "contract_password_1"
ENV_ID = "contract"


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    """gunicorn with two workers, on the backend of `database_url`."""
    workdir = tmp_path_factory.mktemp("contract")
    with servers.gunicorn(database_url, workdir, JWT_SECRET=SECRET, BCRYPT_ROUNDS="4", ENV_ID=ENV_ID) as running:
        yield running


@pytest.fixture
def new_user(server):
    """new_user(prefix, timezone=0) -> a fresh username made with the CLI (password PASSWORD)."""

    def create(prefix="contract", company="contract_co", timezone=0):
        return _create_user(server, prefix, company, timezone)

    return create


@pytest.fixture
def client(server):
    """client(token=None) -> a reference ApiClient on the server, authenticated with token."""

    return functools.partial(_reference_client, server)


def _login(client, username, password=PASSWORD):
    token = AuthApi(client()).run_token_generation(TokenRequest(username=username, password=password))
    assert isinstance(token, str)
    return token


def _assert_tracedata(tracedata, operation, username="anonymous", company="anonymous"):
    assert tracedata.service == Service.ACCOUNT
    assert tracedata.operation == operation
    assert tracedata.username == username
    assert tracedata.company == company
    assert tracedata.env == ENV_ID
    assert len(tracedata.pod) >= 2
    assert str(uuid.UUID(tracedata.request_code)) == tracedata.request_code
    assert isinstance(tracedata.time, datetime)
    assert tracedata.time.tzinfo is not None


def test_system_operations(client):
    system = SystemApi(client())

    health = system.check()
    assert isinstance(health, CheckResult)
    assert health.health == 1.0

    version = system.version()
    assert isinstance(version, VersionResult)
    assert (version.major, version.minor) == (7, 9)
    assert version.build


@pytest.mark.parametrize("filename,heading", [("file_en.html", "Operations"), ("file_ru.html", "Операции")])
def test_documentation_files(client, filename, heading):
    page = SystemApi(client()).file(filename)
    assert isinstance(page, str)
    assert "<html" in page
    assert heading in page
    for operation in ("run_token_generation", "run_token_validation", "read_info", "update_info", "read_quota"):
        assert operation in page


def test_token_profile_and_password_lifecycle(client, new_user):
    username = new_user("lifecycle", company="contract_co", timezone=3)

    # The token as the client returns it: the JSON string, quotes included.
    token = _login(client, username)
    assert token.startswith('"') and token.endswith('"')
    assert json.loads(token).count(".") == 2

    auth = AuthApi(client())
    validation = auth.run_token_validation(body=token)
    assert isinstance(validation, TokenValidationResult)
    assert validation.valid is True
    assert validation.roles == [UserRole.USER]

    # The client sends the token back verbatim: `Authorization: Bearer "<jwt>"`.
    info = InfoApi(client(token))
    user = info.read_info()
    assert isinstance(user, User)
    assert user.username == username
    assert user.company_key == "contract_co"
    assert user.roles == [UserRole.USER]
    assert user.timezone == 3
    assert user.enabled is True
    assert user.password is None
    assert isinstance(user.creation_date, datetime)
    assert user.creation_date.tzinfo is not None

    attributes = [Attribute(key="department", value="logistics"), Attribute(key="empty", value="")]
    updated = info.update_info(
        InfoChangeRequest(
            specification="Contract Tester",
            email="contract@example.com",
            phone="+71112223333",
            attributes=attributes,
        )
    )
    assert isinstance(updated, User)
    assert updated.username == username
    assert updated.specification == "Contract Tester"
    assert updated.email == "contract@example.com"
    assert updated.phone == "+71112223333"
    assert updated.attributes == attributes
    assert updated.company_key == "contract_co"
    assert updated.timezone == 3
    assert info.read_info() == updated

    new_password = "contract_password_2"
    new_token = AuthApi(client(token)).change_password(
        PasswordChangeRequest(current_password=PASSWORD, new_password=new_password)
    )
    assert isinstance(new_token, str)
    assert new_token != token

    # Every token issued before the change is revoked at once.
    with pytest.raises(ApiException) as caught:
        info.read_info()
    assert caught.value.status == 401
    assert auth.run_token_validation(body=token) == TokenValidationResult(valid=False, roles=[])

    assert auth.run_token_validation(body=new_token).valid is True
    assert InfoApi(client(new_token)).read_info().username == username

    # The new password logs in, the old one no longer does.
    assert isinstance(_login(client, username, new_password), str)
    with pytest.raises(ApiException) as caught:
        _login(client, username, PASSWORD)
    assert caught.value.status == 401


def test_read_quota_returns_the_quotas_set_with_the_cli(client, server, new_user):
    username = new_user("quota")
    quotas = [
        ("ROUTING", "MATRIX", 1000, 50000, 2),
        ("ROUTING", "PLAN", 500, 100000, 3),
        ("UNIVERSAL", "TRACE", 0, 100000000, 1000),
    ]
    for service, process_type, per_request, per_day, concurrent in quotas:
        servers.cli(
            server,
            "set-quota",
            username,
            service,
            process_type,
            "--points-per-request",
            str(per_request),
            "--points-per-day",
            str(per_day),
            "--max-concurrent",
            str(concurrent),
        )

    result = QuotasApi(client(_login(client, username))).read_quota()
    assert isinstance(result, QuotasResult)
    assert [service.service for service in result.base.services] == [Service.ROUTING, Service.UNIVERSAL]
    got = sorted(
        (
            service.service.value,
            process.process_type.value,
            process.points_per_request,
            process.points_per_day,
            process.max_concurrent_execution,
        )
        for service in result.base.services
        for process in service.processes
    )
    assert got == sorted(quotas)
    assert isinstance(result.base.services[0].processes[0].process_type, ProcessType)


def test_read_quota_without_quotas_is_general404(client, new_user):
    username = new_user("noquota", company="contract_co")
    with pytest.raises(ApiException) as caught:
        QuotasApi(client(_login(client, username))).read_quota()
    assert caught.value.status == 404
    body = General404.from_json(caught.value.body)
    assert caught.value.data == body  # the client parsed it as its documented General404 too
    assert body.resource_key == "quota"
    _assert_tracedata(body.detail.tracedata, "read_quota", username, "contract_co")


def test_wrong_password_is_401(client, new_user):
    username = new_user("wrongpw")
    with pytest.raises(ApiException) as caught:
        _login(client, username, "not_the_right_password")
    assert caught.value.status == 401
    with pytest.raises(ApiException) as caught:
        _login(client, f"nobody_{uuid.uuid4().hex[:12]}")
    assert caught.value.status == 401


def test_invalid_email_is_general400(client, new_user):
    username = new_user("bademail", company="contract_co")
    info = InfoApi(client(_login(client, username)))
    with pytest.raises(ApiException) as caught:
        info.update_info(InfoChangeRequest(email="not-an-email"))
    assert caught.value.status == 400
    body = General400.from_json(caught.value.body)
    assert caught.value.data == body
    _assert_tracedata(body.tracedata, "update_info", username, "contract_co")
    assert "email" in body.message
    # Nothing was changed.
    assert info.read_info().email is None


def test_unknown_file_is_general404(client):
    with pytest.raises(ApiException) as caught:
        SystemApi(client()).file("nofile.html")
    assert caught.value.status == 404
    body = General404.from_json(caught.value.body)
    assert caught.value.data == body
    assert body.resource_key
    _assert_tracedata(body.detail.tracedata, "file")


def test_missing_token_is_401(client):
    with pytest.raises(ApiException) as caught:
        InfoApi(client()).read_info()
    assert caught.value.status == 401


# Usage read back through the reference client: records ingested with the producer API
# (an extension the client does not know, so plain HTTP), then statistics, report, audit
# and data read with the client's typed operations.

USAGE_TIMEZONE = 3
TZ_PLUS_3 = timezone(timedelta(hours=USAGE_TIMEZONE))
MARCH = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BIG_OUTPUT = bytes(range(256)) * 4500  # > 1 MiB: stored and read back in more than one chunk

# name: (service, process_type, UTC time, points, elements, status, operation, point keys, requests).
# The user's timezone is +3: local days start at 21:00 UTC of the day before.
USAGE = {
    "edge_before": ("ROUTING", "MATRIX", "2025-03-09T20:59:59+00:00", 1000, 1000, "FINISHED_IN_TIME",
                    "run_matrix_calculation", ("a",), 1),  # 03-09 23:59:59 local
    "first": ("ROUTING", "MATRIX", "2025-03-09T21:00:00+00:00", 4, 16, "FAILED",
              "run_matrix_calculation", ("a", "x"), 1),  # 03-10 00:00 local
    "plan1": ("ROUTING", "PLAN", "2025-03-10T08:00:00+00:00", 10, 5, "FINISHED_IN_TIME",
              "run_plan_calculation", ("a", "b", "c"), 1),
    "plan2": ("ROUTING", "PLAN", "2025-03-10T12:00:00+00:00", 20, 7, "FINISHED_OUT_OF_TIME",
              "run_plan_calculation", ("b", "c", "d"), 2),
    "late": ("UNIVERSAL", "PLAN", "2025-03-10T22:30:00+00:00", 7, 3, "CANCELED",
             "run_universal_plan", ("a", "b"), 1),  # 03-11 01:30 local: the next day
    "uni": ("UNIVERSAL", "PLAN", "2025-03-11T09:00:00+00:00", 5, None, "FINISHED_IN_TIME",
            "run_universal_plan", ("b", "e"), 1),
    "trace": ("UNIVERSAL", "TRACE", "2025-03-11T10:00:00+00:00", 2, 1, "IN_PROGRESS",
              "run_trace", (), 3),
    "last": ("ROUTING", "PLAN", "2025-03-12T20:59:59+00:00", 3, 1, "FINISHED_IN_TIME",
             "run_plan_calculation", ("z",), 1),  # 03-12 23:59:59 local
    "edge_after": ("ROUTING", "PLAN", "2025-03-12T21:00:00+00:00", 1000, 1000, "FINISHED_IN_TIME",
                   "run_plan_calculation", ("q",), 1),  # 03-13 00:00 local
}  # fmt: skip
ASCENDING = list(USAGE)  # the records in time order
# (local date, service, process type, unique points, points, elements, processes) of
# 2025-03-10..2025-03-12; unique points are the distinct keys of the day's processes.
EXPECTED_ROWS = [
    (date(2025, 3, 10), "ROUTING", "MATRIX", 2, 4, 16, 1),  # first: a, x
    (date(2025, 3, 10), "ROUTING", "PLAN", 4, 30, 12, 2),  # plan1 + plan2: a, b, c, d
    (date(2025, 3, 11), "UNIVERSAL", "PLAN", 3, 12, 3, 2),  # late + uni: a, b, e; uni has no elements
    (date(2025, 3, 11), "UNIVERSAL", "TRACE", 0, 2, 1, 1),
    (date(2025, 3, 12), "ROUTING", "PLAN", 1, 3, 1, 1),
]


@dataclass
class Usage:
    username: str
    company: str
    token: str
    records: dict
    other_code: str
    inputs: dict
    outputs: dict


def _reference_client(server, token=None):
    configuration = vrt_lss_account.Configuration(host=server.host)
    if token is not None:
        configuration.access_token = token
    return ApiClient(configuration)


def _create_user(server, prefix, company, timezone=0, roles=()):
    username = f"{prefix}_{uuid.uuid4().hex[:12]}"
    role_options = [option for role in roles for option in ("--role", role)]
    servers.cli(
        server,
        "create-user",
        username,
        "--company",
        company,
        "--timezone",
        str(timezone),
        *role_options,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    return username


def _usage_record(username, company, name):
    service, process_type, moment, points, elements, status, operation, keys, requests = USAGE[name]
    record = process_record(
        username=username,
        company=company,
        service=service,
        process_type=process_type,
        time=moment,
        points=points,
        elements=elements,
        status=status,
        point_keys=keys,
        operation=operation,
        requests=requests,
    )
    # Distinct, recognisable values per record, so a mix-up of records shows.
    record["statistics"]["calculation_info"]["result_version"] = ASCENDING.index(name) + 1
    record["statistics"]["calculation_info"]["waiting_time"] = f"PT{ASCENDING.index(name) + 1}M"
    return record


@pytest.fixture(scope="module")
def usage(server):
    """A USER (timezone +3) with the USAGE records, and another user of the same company
    with one record; all ingested by a BOT of that company, with files for some."""
    company = f"usage_{uuid.uuid4().hex[:8]}"
    username = _create_user(server, "usage", company, timezone=USAGE_TIMEZONE)
    other = _create_user(server, "usage_other", company)
    bot = _create_user(server, "usage_bot", company, roles=("BOT",))
    make_client = functools.partial(_reference_client, server)
    bot_token = _login(make_client, bot)

    records = {name: _usage_record(username, company, name) for name in USAGE}
    other_record = process_record(username=other, company=company, time="2025-03-10T10:00:00+00:00", points=500)
    batch = json.dumps({"processes": [*records.values(), other_record]}).encode()
    status, body = servers.call(server, json.loads(bot_token), "POST", "/account/processes", batch, "application/json")
    assert status == 200, body
    assert json.loads(body) == {"stored": len(records) + 1}

    plan1, plan2 = records["plan1"]["process_code"], records["plan2"]["process_code"]
    other_code = other_record["process_code"]
    inputs = {plan1: b'{"task": "plan1", "points": ["a", "b", "c"]}', plan2: b"\x00\x01binary\xff", other_code: b"x"}
    outputs = {plan1: BIG_OUTPUT}
    for flow, files in (("INPUT", inputs), ("OUTPUT", outputs)):
        for code, payload in files.items():
            path = f"/account/data/{code}?data_flow_type={flow}&data_flow_stage=RAW"
            status, body = servers.call(server, json.loads(bot_token), "PUT", path, payload, "application/octet-stream")
            assert status == 204, body

    return Usage(
        username=username,
        company=company,
        token=_login(make_client, username),
        records=records,
        other_code=other_code,
        inputs=inputs,
        outputs=outputs,
    )


def _user_statistics(username, rows):
    """The documented nesting of flat (date, service, process type, figures...) rows."""
    dates = []
    for day, service, process_type, unique_points, points, elements, count in rows:
        if not dates or dates[-1]["date"] != day:
            dates.append({"date": day, "services": []})
        services = dates[-1]["services"]
        if not services or services[-1]["service"] != service:
            services.append({"service": service, "processes": []})
        services[-1]["processes"].append(
            ProcessStatistics(
                process_type=ProcessType(process_type),
                unique_points_per_day=unique_points,
                points_per_day=points,
                elements_per_day=elements,
                processes_per_day=count,
            )
        )
    return UserStatistics(
        username=username,
        dates=[
            DateStatistics(
                date=day["date"],
                services=[
                    ServiceStatistics(service=Service(service["service"]), processes=service["processes"])
                    for service in day["services"]
                ],
            )
            for day in dates
        ],
    )


def test_statistics_through_the_reference_client(client, usage):
    statistics = StatisticsApi(client(usage.token))
    first, last = date(2025, 3, 10), date(2025, 3, 12)

    result = statistics.generate_statistics(var_from=first, to=last)
    assert isinstance(result, UserStatistics)
    assert result == _user_statistics(usage.username, EXPECTED_ROWS)
    assert isinstance(result.dates[0].var_date, date)
    assert isinstance(result.dates[0].services[0].service, Service)
    assert isinstance(result.dates[0].services[0].processes[0].process_type, ProcessType)

    # The 22:30 UTC process counts on the next local day (timezone +3), not on its UTC day.
    assert statistics.generate_statistics(var_from=first, to=first) == _user_statistics(
        usage.username, EXPECTED_ROWS[:2]
    )
    assert statistics.generate_statistics(var_from=date(2025, 3, 11), to=date(2025, 3, 11)) == _user_statistics(
        usage.username, EXPECTED_ROWS[2:4]
    )
    # Both edge processes are a second outside the period in local time; a wider one has them.
    wider = statistics.generate_statistics(var_from=date(2025, 3, 9), to=date(2025, 3, 13))
    assert [day.var_date for day in wider.dates] == [date(2025, 3, day) for day in range(9, 14)]
    assert wider.dates[0].services[0].processes[0].points_per_day == 1000
    assert wider.dates[-1].services[0].processes[0].unique_points_per_day == 1

    for service, process_type in [
        (Service.ROUTING, None),
        (Service.UNIVERSAL, None),
        (None, ProcessType.PLAN),
        (None, ProcessType.MATRIX),
        (Service.UNIVERSAL, ProcessType.TRACE),
        (Service.ROUTING, ProcessType.TRACE),
        (Service.PACKER, None),
    ]:
        expected = [
            row
            for row in EXPECTED_ROWS
            if (service is None or row[1] == service.value) and (process_type is None or row[2] == process_type.value)
        ]
        got = statistics.generate_statistics(var_from=first, to=last, service=service, process_type=process_type)
        assert got == _user_statistics(usage.username, expected), (service, process_type)

    # Outside the usage: no days, and never the other user's process of 2025-03-10.
    empty = statistics.generate_statistics(var_from=date(2025, 2, 1), to=date(2025, 2, 28))
    assert empty == UserStatistics(username=usage.username, dates=[])


def test_statistics_period_errors_are_general400(client, usage):
    statistics = StatisticsApi(client(usage.token))
    with pytest.raises(ApiException) as caught:
        statistics.generate_statistics(var_from=date(2025, 3, 12), to=date(2025, 3, 10))
    assert caught.value.status == 400
    body = General400.from_json(caught.value.body)
    assert caught.value.data == body
    _assert_tracedata(body.tracedata, "generate_statistics", usage.username, usage.company)


def _sheet_rows(sheet):
    rows = []
    for row in sheet.iter_rows(values_only=True):
        day, *rest = row
        rows.append((day.date() if isinstance(day, datetime) else day, *rest))
    return rows


def test_report_through_the_reference_client(client, usage):
    statistics = StatisticsApi(client(usage.token))
    report = statistics.generate_report(var_from=date(2025, 3, 10), to=date(2025, 3, 12))
    # Typed `bytearray`, the client hands back the raw body (bytes) as received.
    assert isinstance(report, (bytes, bytearray))
    workbook = openpyxl.load_workbook(io.BytesIO(report))
    assert "Data" in workbook.sheetnames and "Summary" in workbook.sheetnames
    rows = _sheet_rows(workbook["Data"])
    assert rows[0] == ("Date", "Service", "Process type", "Unique points", "Points", "Elements", "Processes")
    assert rows[1:-1] == EXPECTED_ROWS
    assert rows[-1][0] == "Total"  # the totals row under the data
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["User"] == usage.username
    assert summary["Points"] == sum(row[4] for row in EXPECTED_ROWS)
    assert summary["Processes"] == sum(row[6] for row in EXPECTED_ROWS)

    response = statistics.generate_report_with_http_info(var_from=date(2025, 3, 10), to=date(2025, 3, 12))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == XLSX
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert usage.username in disposition and "2025-03-10" in disposition and "2025-03-12" in disposition
    # The same content (the bytes differ: the zip entries carry the time they were written).
    assert _sheet_rows(openpyxl.load_workbook(io.BytesIO(response.data))["Data"])[1:-1] == EXPECTED_ROWS

    routing = statistics.generate_report(var_from=date(2025, 3, 10), to=date(2025, 3, 12), service=Service.ROUTING)
    rows = _sheet_rows(openpyxl.load_workbook(io.BytesIO(routing))["Data"])
    assert rows[1:-1] == [row for row in EXPECTED_ROWS if row[1] == "ROUTING"]


def _expected_action(usage, name):
    record = {key: value for key, value in usage.records[name].items() if key != "point_keys"}
    record["requests"] = sorted(record["requests"], key=lambda request: request["request_code"])
    code = record["process_code"]
    return AuditAction.from_dict(
        {**record, "input_file_exists": code in usage.inputs, "output_file_exists": code in usage.outputs}
    )


def _names(usage, result):
    by_code = {record["process_code"]: name for name, record in usage.records.items()}
    return [by_code[action.process_code] for action in result.actions]


def test_audit_through_the_reference_client(client, usage):
    audit = AuditApi(client(usage.token))
    start, end = MARCH

    result = audit.read_audit(var_from=start, to=end)
    assert isinstance(result, AccountAuditResult)
    assert result.counters.filter.total == len(USAGE)
    assert _names(usage, result) == ASCENDING  # the default order: time ascending
    actions = dict(zip(ASCENDING, result.actions, strict=True))
    for name, action in actions.items():
        assert isinstance(action, AuditAction)
        assert isinstance(action.service, Service)
        assert isinstance(action.process_type, ProcessType)
        assert isinstance(action.statistics.calculation_info.status, CalculationStatus)
        assert isinstance(action.time, datetime) and action.time.tzinfo is not None
        assert all(isinstance(request, Tracedata) for request in action.requests)
        # Every field as ingested: requests, statistics, calculation info and file flags.
        assert action == _expected_action(usage, name), name
    assert (actions["plan1"].input_file_exists, actions["plan1"].output_file_exists) == (True, True)
    assert (actions["plan2"].input_file_exists, actions["plan2"].output_file_exists) == (True, False)
    assert (actions["late"].input_file_exists, actions["late"].output_file_exists) == (False, False)
    assert len(actions["trace"].requests) == 3
    assert actions["uni"].statistics.result_elements_count is None
    assert actions["late"].time == datetime(2025, 3, 10, 22, 30, tzinfo=UTC)
    assert actions["late"].statistics.calculation_info.waiting_time == "PT5M"

    # overall counts every record of the caller, their own ACCOUNT actions (logins,
    # downloads) included; those happen now, far outside March 2025.
    own = audit.read_audit(
        service=Service.ACCOUNT,
        var_from=datetime.now(UTC) - timedelta(days=1),
        to=datetime.now(UTC) + timedelta(days=1),
        limit=1000,
    )
    assert own.counters.filter.total >= 1  # the login that made usage.token
    assert {action.service for action in own.actions} == {Service.ACCOUNT}
    assert "run_token_generation" in {request.operation for action in own.actions for request in action.requests}
    assert result.counters.overall.total == len(USAGE) + own.counters.filter.total
    assert result.counters.overall.total >= result.counters.filter.total


@pytest.mark.parametrize(
    "filters,expected",
    [
        ({"service": Service.UNIVERSAL}, ["late", "uni", "trace"]),
        ({"service": Service.PACKER}, []),
        ({"process_type": ProcessType.MATRIX}, ["edge_before", "first"]),
        ({"status": CalculationStatus.FINISHED_IN_TIME}, ["edge_before", "plan1", "uni", "last", "edge_after"]),
        ({"status": CalculationStatus.IN_PROGRESS}, ["trace"]),
        ({"operation": "run_plan_calculation"}, ["plan1", "plan2", "last", "edge_after"]),
        ({"operation": "run_nothing"}, []),
        (
            {
                "service": Service.ROUTING,
                "process_type": ProcessType.PLAN,
                "status": CalculationStatus.FINISHED_IN_TIME,
            },
            ["plan1", "last", "edge_after"],
        ),
        ({"operation": "run_universal_plan", "status": CalculationStatus.CANCELED}, ["late"]),
    ],
)
def test_audit_filters_through_the_reference_client(client, usage, filters, expected):
    start, end = MARCH
    result = AuditApi(client(usage.token)).read_audit(var_from=start, to=end, **filters)
    assert result.counters.filter.total == len(expected)
    assert _names(usage, result) == expected
    assert result.counters.overall.total >= len(USAGE)


def test_audit_period_sort_and_paging_through_the_reference_client(client, usage):
    audit = AuditApi(client(usage.token))
    start, end = MARCH

    descending = audit.read_audit(var_from=start, to=end, sort_field="time", sort_direction="DESC")
    assert _names(usage, descending) == ASCENDING[::-1]
    times = [action.time for action in descending.actions]
    assert times == sorted(times, reverse=True)
    ascending = audit.read_audit(var_from=start, to=end, sort_field="time", sort_direction="ASC")
    assert _names(usage, ascending) == ASCENDING

    page = audit.read_audit(var_from=start, to=end, sort_field="time", offset=2, limit=3)
    assert _names(usage, page) == ASCENDING[2:5]
    assert page.counters.filter.total == len(USAGE)
    page = audit.read_audit(var_from=start, to=end, sort_field="time", sort_direction="DESC", offset=7, limit=5)
    assert _names(usage, page) == ASCENDING[1::-1]
    assert _names(usage, audit.read_audit(var_from=start, to=end, limit=1)) == ASCENDING[:1]
    beyond = audit.read_audit(var_from=start, to=end, offset=len(USAGE))
    assert beyond.actions == []
    assert beyond.counters.filter.total == len(USAGE)

    by_type = audit.read_audit(var_from=start, to=end, sort_field="process_type", sort_direction="DESC")
    types = [action.process_type.value for action in by_type.actions]
    assert types == sorted(types, reverse=True)

    # Both ends are inclusive, to the second.
    edges = audit.read_audit(
        var_from=datetime(2025, 3, 9, 20, 59, 59, tzinfo=UTC), to=datetime(2025, 3, 12, 21, tzinfo=UTC)
    )
    assert _names(usage, edges) == ASCENDING
    inner = audit.read_audit(
        var_from=datetime(2025, 3, 9, 21, 0, 0, 1, tzinfo=UTC), to=datetime(2025, 3, 12, 20, 59, 59, 999999, tzinfo=UTC)
    )
    assert _names(usage, inner) == ASCENDING[2:-1]
    # Another offset: the user's local 2025-03-11 (+03:00), with the 22:30 UTC process.
    local_day = audit.read_audit(
        var_from=datetime(2025, 3, 11, tzinfo=TZ_PLUS_3), to=datetime(2025, 3, 11, 23, 59, 59, tzinfo=TZ_PLUS_3)
    )
    assert _names(usage, local_day) == ["late", "uni", "trace"]
    # A naive date-time goes without offset: the server takes it as UTC.
    naive = audit.read_audit(var_from=datetime(2025, 3, 10, 22, 30), to=datetime(2025, 3, 10, 22, 30))
    assert _names(usage, naive) == ["late"]
    naive = audit.read_audit(var_from=datetime(2025, 3, 11), to=datetime(2025, 3, 11, 23, 59, 59))
    assert _names(usage, naive) == ["uni", "trace"]


def test_audit_bad_sort_field_is_general400(client, usage):
    with pytest.raises(ApiException) as caught:
        AuditApi(client(usage.token)).read_audit(var_from=MARCH[0], to=MARCH[1], sort_field="requests")
    assert caught.value.status == 400
    body = General400.from_json(caught.value.body)
    assert caught.value.data == body
    assert "sort_field" in body.message
    _assert_tracedata(body.tracedata, "read_audit", usage.username, usage.company)


def test_data_through_the_reference_client(client, usage):
    data = DataApi(client(usage.token))
    plan1, plan2 = usage.records["plan1"]["process_code"], usage.records["plan2"]["process_code"]

    output = data.read_data(process_code=plan1, data_flow_type=FlowType.OUTPUT)
    assert isinstance(output, (bytes, bytearray))
    assert bytes(output) == usage.outputs[plan1] == BIG_OUTPUT
    assert bytes(data.read_data(process_code=plan1, data_flow_type=FlowType.INPUT)) == usage.inputs[plan1]
    assert bytes(data.read_data(process_code=plan1)) == usage.inputs[plan1]  # INPUT is the default
    assert bytes(data.read_data(process_code=plan1, data_flow_stage="RAW")) == usage.inputs[plan1]
    assert bytes(data.read_data(process_code=plan2, data_flow_type=FlowType.INPUT)) == usage.inputs[plan2]
    # A UUID is case-insensitive on input.
    assert bytes(data.read_data(process_code=plan1.upper(), data_flow_type=FlowType.OUTPUT)) == BIG_OUTPUT

    response = data.read_data_with_http_info(process_code=plan1, data_flow_type=FlowType.OUTPUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert plan1 in response.headers["Content-Disposition"]

    # Another user's process (with a file), an unknown code and a missing file: one same 404.
    for code, flow in [
        (usage.other_code, FlowType.INPUT),
        (str(uuid.uuid4()), FlowType.INPUT),
        (plan2, FlowType.OUTPUT),
        (usage.records["late"]["process_code"], FlowType.INPUT),
    ]:
        with pytest.raises(ApiException) as caught:
            data.read_data(process_code=code, data_flow_type=flow)
        assert caught.value.status == 404, code
        body = General404.from_json(caught.value.body)
        assert caught.value.data == body
        assert body.resource_key == code
        _assert_tracedata(body.detail.tracedata, "read_data", usage.username, usage.company)

    # The client takes process_code as any string and does not check it: the server does.
    for malformed in ("not-a-uuid", plan1[:-1], "12345"):
        with pytest.raises(ApiException) as caught:
            data.read_data(process_code=malformed)
        assert caught.value.status == 400, malformed
        body = General400.from_json(caught.value.body)
        assert caught.value.data == body
        assert "process_code" in body.message
        _assert_tracedata(body.tracedata, "read_data", usage.username, usage.company)


def _own_operations(audit):
    """The operations of the caller's own ACCOUNT actions (made now, by the real clock)."""
    now = datetime.now(UTC)
    result = audit.read_audit(service=Service.ACCOUNT, var_from=now - timedelta(days=1), to=now + timedelta(days=1))
    assert result.counters.filter.total == len(result.actions)
    return sorted(request.operation for action in result.actions for request in action.requests)


def test_downloads_are_the_callers_own_actions(client, usage):
    audit = AuditApi(client(usage.token))
    before = _own_operations(audit)
    overall = audit.read_audit(var_from=MARCH[0], to=MARCH[1]).counters.overall.total

    StatisticsApi(client(usage.token)).generate_report(var_from=date(2025, 3, 10), to=date(2025, 3, 12))
    DataApi(client(usage.token)).read_data(process_code=usage.records["plan1"]["process_code"])
    with pytest.raises(ApiException):  # a failed download is no download
        DataApi(client(usage.token)).read_data(process_code=str(uuid.uuid4()))
    # Reading statistics and the audit is not recorded.
    StatisticsApi(client(usage.token)).generate_statistics(var_from=date(2025, 3, 10), to=date(2025, 3, 12))

    assert _own_operations(audit) == sorted([*before, "generate_report", "read_data"])
    after = audit.read_audit(var_from=MARCH[0], to=MARCH[1])
    assert after.counters.overall.total == overall + 2
    assert after.counters.filter.total == len(USAGE)
