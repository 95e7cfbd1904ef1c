"""GET /account/report: the statistics as an .xlsx workbook, read back with openpyxl."""

import io
import re
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from app.report import FIGURES, HEADERS, safe_text, timezone_words, write_report
from tests.conftest import process_record

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERIOD = {"from": "2026-11-01", "to": "2026-11-14"}


@pytest.fixture
def alice(auth, clock):
    return auth("alice")


@pytest.fixture
def usage(ingest):
    ingest(
        process_record(point_keys=["a", "b", "c"], points=10, elements=5),
        process_record(time="2026-11-10T18:00:00+00:00", point_keys=["b", "c", "d"], points=7, elements=3),
        process_record(process_type="TRACE", point_keys=["a"], points=1, elements=1),
        process_record(service="ROUTING", point_keys=["a", "b"], points=2, elements=2),
        process_record(time="2026-11-11T08:00:00+00:00", point_keys=["a"], points=3, elements=0),
        process_record(time="2026-11-11T09:00:00+00:00", points=None, elements=None),
        process_record(time="2026-11-13T09:00:00+00:00", service="PACKER", process_type="CONVERT", points=100),
    )


def statistics_rows(client, headers, **query):
    response = client.get("/account/statistics", query_string=query, headers=headers)
    assert response.status_code == 200
    return [
        (
            date.fromisoformat(day["date"]),
            service["service"],
            process["process_type"],
            process["unique_points_per_day"],
            process["points_per_day"],
            process["elements_per_day"],
            process["processes_per_day"],
        )
        for day in response.get_json()["dates"]
        for service in day["services"]
        for process in service["processes"]
    ]


def get_report(client, headers, **query):
    response = client.get("/account/report", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response


def data_rows(workbook):
    """The Data sheet's rows between its header and its totals row."""
    sheet = workbook["Data"]
    assert sheet.cell(sheet.max_row, 1).value == "Total"
    rows = []
    for cells in sheet.iter_rows(min_row=2, max_row=sheet.max_row - 1):
        day, service, process_type, *figures = cells
        assert day.is_date and day.number_format == "yyyy-mm-dd"
        assert isinstance(day.value, datetime) and day.value.time() == datetime.min.time()
        for cell in figures:
            assert cell.data_type == "n" and type(cell.value) is int
        rows.append((day.value.date(), service.value, process_type.value, *(cell.value for cell in figures)))
    return rows


def summary_values(workbook):
    return {row[0]: row[1] for row in workbook["Summary"].iter_rows(max_row=13, values_only=True) if row and row[0]}


def test_report_is_an_attachment_named_after_the_user_and_period(client, alice, usage):
    response = get_report(client, alice, **PERIOD)
    assert response.mimetype == XLSX
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    filename = re.search(r'filename="?([^";]+)"?', disposition).group(1)
    assert filename.endswith(".xlsx")
    assert "alice" in filename and "2026-11-01" in filename and "2026-11-14" in filename
    assert response.data[:2] == b"PK"


def test_data_sheet_equals_the_statistics(client, alice, usage):
    workbook = load_workbook(io.BytesIO(get_report(client, alice, **PERIOD).data))
    assert workbook.sheetnames == ["Summary", "Days", "Data"]
    sheet = workbook["Data"]
    assert [cell.value for cell in sheet[1]] == list(HEADERS)
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    for letter in "ABCDEFG":
        assert sheet.column_dimensions[letter].width >= 12
    expected = statistics_rows(client, alice, **PERIOD)
    assert len(expected) == 5
    assert data_rows(workbook) == expected
    assert data_rows(workbook)[1] == (date(2026, 11, 10), "UNIVERSAL", "PLAN", 4, 17, 8, 2)


def by_service_table(workbook):
    """The Summary's table by service and process type: {(service, type): figures}, total."""
    rows = list(workbook["Summary"].iter_rows(values_only=True))
    start = next(index for index, row in enumerate(rows) if row and row[0] == "By service and process type")
    assert rows[start + 1][:6] == ("Service", "Process type", *FIGURES)
    table = {}
    for row in rows[start + 2 :]:
        if row[0] == "Total":
            return table, tuple(row[2:6])
        table[(row[0], row[1])] = tuple(row[2:6])
    raise AssertionError("no Total row under the table by service and process type")


def test_summary_states_who_which_period_and_whose_days(client, auth, clock):
    headers = auth("alice", timezone=3)
    summary = summary_values(load_workbook(io.BytesIO(get_report(client, headers, **PERIOD).data)))
    assert summary["User"] == "alice"
    assert summary["Company"] == "acme"
    assert summary["From"] == datetime(2026, 11, 1)
    assert summary["To"] == datetime(2026, 11, 14)
    assert summary["Days"] == 14
    assert summary["Time zone"] == "days are local days of UTC+3"


@pytest.mark.parametrize("hours, words", [(0, "UTC"), (3, "UTC+3"), (-5, "UTC-5"), (12, "UTC+12")])
def test_timezone_in_words(hours, words):
    assert timezone_words(hours) == f"days are local days of {words}"


def test_summary_totals_and_table_by_service_and_process_type(client, alice, usage):
    workbook = load_workbook(io.BytesIO(get_report(client, alice, **PERIOD).data))
    rows = statistics_rows(client, alice, **PERIOD)
    summary = summary_values(workbook)
    assert summary["Unique points (sum of days)"] == sum(row[3] for row in rows) == 8
    assert summary["Points"] == sum(row[4] for row in rows) == 123
    assert summary["Elements"] == sum(row[5] for row in rows) == 16
    assert summary["Processes"] == sum(row[6] for row in rows) == 7
    table, total = by_service_table(workbook)
    assert table == {
        ("PACKER", "CONVERT"): (0, 100, 5, 1),
        ("ROUTING", "PLAN"): (2, 2, 2, 1),
        ("UNIVERSAL", "PLAN"): (5, 20, 8, 4),
        ("UNIVERSAL", "TRACE"): (1, 1, 1, 1),
    }
    expected = {}
    for _, service, process_type, *figures in rows:
        sums = expected.setdefault((service, process_type), [0, 0, 0, 0])
        for index, value in enumerate(figures):
            sums[index] += value
    assert table == {key: tuple(value) for key, value in expected.items()}
    assert total == (8, 123, 16, 7)
    # Every figure on the Summary has a thousands separator.
    sheet = workbook["Summary"]
    figures = [cell for row in sheet.iter_rows(min_col=2) for cell in row if type(cell.value) is int]
    assert len(figures) == 1 + 4 + 4 * 5  # days, totals, the table with its total row
    assert {cell.number_format for cell in figures} == {"#,##0"}


def test_days_sheet_has_every_day_of_the_period_by_service(client, alice, usage):
    workbook = load_workbook(io.BytesIO(get_report(client, alice, **PERIOD).data))
    sheet = workbook["Days"]
    assert [cell.value for cell in sheet[1]] == ["Date", "PACKER", "ROUTING", "UNIVERSAL", "Total points"]
    days = [(row[0].date(), *row[1:]) for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert [day[0] for day in days] == [date(2026, 11, 1) + timedelta(days=n) for n in range(14)]
    by_day = {day[0]: day[1:] for day in days}
    assert by_day[date(2026, 11, 10)] == (0, 2, 18, 20)
    assert by_day[date(2026, 11, 11)] == (0, 0, 3, 3)
    assert by_day[date(2026, 11, 13)] == (100, 0, 0, 100)
    assert sum(1 for day in days if day[1:] == (0, 0, 0, 0)) == 11
    assert all(cell.number_format == "#,##0" for row in sheet.iter_rows(min_row=2, min_col=2) for cell in row)


def test_the_chart_stacks_columns_by_service_over_every_day(client, alice, usage):
    content = get_report(client, alice, **PERIOD).data
    (chart,) = load_workbook(io.BytesIO(content))["Summary"]._charts
    assert chart.tagname == "barChart"
    assert (chart.type, chart.grouping, chart.overlap) == ("col", "stacked", 100)
    # One series per service, titled by the Days sheet's header, over every day (rows 2..15).
    assert [series.tx.strRef.f for series in chart.series] == ["'Days'!B1", "'Days'!C1", "'Days'!D1"]
    assert [series.val.numRef.f for series in chart.series] == [f"'Days'!${c}$2:${c}$15" for c in "BCD"]
    assert {series.cat.numRef.f for series in chart.series} == {"'Days'!$A$2:$A$15"}
    assert all(not series.smooth for series in chart.series)
    assert chart.x_axis.delete is False and chart.y_axis.delete is False
    assert chart.x_axis.auto is True  # dated categories: Excel and LibreOffice draw a date axis
    assert chart.y_axis.number_format.formatCode == "#,##0"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        xml = archive.read("xl/charts/chart1.xml").decode()
    assert "Points per day, by service" in xml
    assert "lineChart" not in xml and not re.search(r'<(c:)?smooth val="(1|true)"', xml)
    assert re.findall(r'<(?:c:)?delete val="([^"]+)"', xml) == ["0", "0"]


def test_services_without_points_have_no_series_but_stay_in_the_tables():
    rows = [
        (date(2026, 11, 2), "ACCOUNT", "NOTRACE", 0, 0, 0, 3),
        (date(2026, 11, 2), "ROUTING", "ROUTE", 4, 9, 8, 1),
    ]
    workbook = load_workbook(write_report(rows, "alice", "acme", date(2026, 11, 1), date(2026, 11, 3), 3))
    (chart,) = workbook["Summary"]._charts
    assert [series.tx.strRef.f for series in chart.series] == ["'Days'!B1"]
    assert [cell.value for cell in workbook["Days"][1]] == ["Date", "ROUTING", "Total points"]
    assert by_service_table(workbook)[0] == {("ACCOUNT", "NOTRACE"): (0, 0, 0, 3), ("ROUTING", "ROUTE"): (4, 9, 8, 1)}
    assert data_rows(workbook) == rows
    only_account = write_report(rows[:1], "alice", "acme", date(2026, 11, 1), date(2026, 11, 3))
    assert load_workbook(only_account)["Summary"]._charts == []


def test_data_sheet_filters_totals_and_prints_readably(client, alice, usage):
    workbook = load_workbook(io.BytesIO(get_report(client, alice, **PERIOD).data))
    sheet = workbook["Data"]
    assert sheet.auto_filter.ref == "A1:G6"
    assert [cell.value for cell in sheet[7]] == ["Total", None, None] + [
        f"=SUBTOTAL(109,{letter}2:{letter}6)" for letter in "DEFG"
    ]
    assert all(cell.number_format == "#,##0" for row in sheet.iter_rows(min_row=2, min_col=4) for cell in row)
    for name in ("Summary", "Days", "Data"):
        setup = workbook[name]
        assert setup.page_setup.orientation == "landscape"
        assert (setup.page_setup.fitToWidth, setup.page_setup.fitToHeight) == (1, 0)
        assert setup.sheet_properties.pageSetUpPr.fitToPage is True
    assert workbook["Data"].print_title_rows == "$1:$1"
    assert workbook["Days"].print_title_rows == "$1:$1"


def test_an_empty_period_gives_headers_zero_totals_and_no_chart(client, alice):
    response = get_report(client, alice, **{"from": "2026-10-01", "to": "2026-10-31"})
    workbook = load_workbook(io.BytesIO(response.data))
    assert [cell.value for cell in workbook["Data"][1]] == list(HEADERS)
    assert data_rows(workbook) == []
    summary = summary_values(workbook)
    assert [summary[name] for name in FIGURES] == [0] * 4
    assert by_service_table(workbook) == ({}, (0, 0, 0, 0))
    days = list(workbook["Days"].iter_rows(min_row=2, values_only=True))
    assert [(row[0].date(), row[1]) for row in days] == [(date(2026, 10, 1) + timedelta(days=n), 0) for n in range(31)]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert not [name for name in archive.namelist() if name.startswith("xl/charts/")]


def test_default_period_is_the_current_month_up_to_yesterday(client, alice, usage, ingest):
    ingest(process_record(time="2026-11-15T01:00:00+00:00"), process_record(time="2026-10-31T23:00:00+00:00"))
    response = get_report(client, alice)
    assert "2026-11-01" in response.headers["Content-Disposition"]
    assert "2026-11-14" in response.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.data))
    assert data_rows(workbook) == statistics_rows(client, alice, **PERIOD)


def test_filters_apply_to_the_report(client, alice, usage):
    query = {**PERIOD, "service": "UNIVERSAL", "process_type": "PLAN"}
    workbook = load_workbook(io.BytesIO(get_report(client, alice, **query).data))
    rows = data_rows(workbook)
    assert rows == statistics_rows(client, alice, **query)
    assert {(row[1], row[2]) for row in rows} == {("UNIVERSAL", "PLAN")}
    assert summary_values(workbook)["Points"] == 20


def test_report_days_follow_the_users_timezone(client, auth, clock, ingest):
    headers = auth("alice", timezone=3)
    ingest(process_record(time="2026-11-10T22:30:00+00:00"))
    rows = data_rows(load_workbook(io.BytesIO(get_report(client, headers, **PERIOD).data)))
    assert [row[0] for row in rows] == [date(2026, 11, 11)]


def test_another_users_usage_is_not_in_the_report(client, alice, auth, ingest):
    auth("bob")
    ingest(process_record(username="bob", points=999))
    workbook = load_workbook(io.BytesIO(get_report(client, alice, **PERIOD).data))
    assert data_rows(workbook) == []
    assert summary_values(workbook)["Points"] == 0


def test_a_report_is_recorded_as_an_account_action(client, alice, clock, db):
    get_report(client, alice, **PERIOD)
    response = client.get("/account/audit", query_string={"operation": "generate_report"}, headers=alice)
    (action,) = response.get_json()["actions"]
    assert (action["service"], action["process_type"], action["time"]) == (
        "ACCOUNT",
        "NOTRACE",
        "2026-11-15T12:00:00+00:00",
    )
    assert action["requests"][0]["operation"] == "generate_report"
    assert db("select count(*) as n from process_requests where operation = 'generate_report'")[0]["n"] == 1


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-11-14", "to": "2026-11-13"},
        {"from": "2016-01-01", "to": "2026-01-01"},
        {"from": "2026-13-01"},
        {"to": "2026-11-31"},
        {"service": "WEATHER"},
        {"process_type": "FLY"},
    ],
)
def test_report_validates_like_statistics(client, alice, query, db):
    response = client.get("/account/report", query_string=query, headers=alice)
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert body["tracedata"]["operation"] == "generate_report"
    assert db("select count(*) as n from process_requests where operation = 'generate_report'")[0]["n"] == 0


def test_a_period_of_3653_days_is_accepted(client, alice):
    response = get_report(client, alice, **{"from": "2016-01-02", "to": "2026-01-01"})
    assert "2016-01-02" in response.headers["Content-Disposition"]


def test_without_a_token_is_401(client):
    assert client.get("/account/report").status_code == 401


def test_on_the_first_of_the_month_the_default_report_is_empty(client, alice, clock, ingest):
    clock.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    ingest(process_record(time="2026-11-30T12:00:00+00:00"))
    workbook = load_workbook(io.BytesIO(get_report(client, alice).data))
    assert data_rows(workbook) == []


# ---------------------------------------------------------------- safe_text


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("alice", "alice"),
        ("a=1", "a=1"),
        ("", ""),
        ("a\x00b\x07c\x1fd", "abcd"),
        ("\x00=1", "'=1"),
        ("line\nbreak", "line\nbreak"),
        (42, "42"),
    ],
)
def test_safe_text_neutralises_formulas_and_control_characters(value, expected):
    assert safe_text(value) == expected


def test_safe_text_truncates_to_the_excel_cell_limit():
    assert len(safe_text("x" * 40_000)) == 32767
    assert safe_text("=" + "x" * 40_000).startswith("'=")
    assert len(safe_text("=" + "x" * 40_000)) == 32767


def test_hostile_names_are_inert_text_in_the_workbook():
    handle = write_report([], "=cmd|' /C calc'!A0", "@company", date(2026, 11, 1), date(2026, 11, 14))
    workbook = load_workbook(handle)
    summary = summary_values(workbook)
    assert summary["User"] == "'=cmd|' /C calc'!A0"
    assert summary["Company"] == "'@company"
    assert all(cell.data_type != "f" for row in workbook["Summary"].iter_rows() for cell in row)


# ------------------------------------------------ rows written as XML (Days and Data)


def test_data_rows_read_back_exactly_whatever_the_day_or_name():
    """Days around Excel's 1900 leap-year bug, names that XML must escape, with edge
    spaces or a formula's start: each comes back as the same date and inert text."""
    rows = [
        (date(1900, 1, 1), "A&B <x>", 'say "hi"', 1, 2, 3, 4),
        (date(1900, 2, 28), " lead", "trail ", 0, 5, 0, 1),
        (date(1900, 3, 1), "=1+1", "@SUM(A1)", 7, 8, 9, 10),
        (date(2026, 11, 2), "ROUTING", "ROUTE", 4, 9, 8, 1),
    ]
    workbook = load_workbook(write_report(rows, "alice", "acme", date(1900, 1, 1), date(1900, 3, 1)))
    assert data_rows(workbook) == [
        (day, safe_text(service), safe_text(process_type), *figures) for day, service, process_type, *figures in rows
    ]
    assert [cell.data_type for row in workbook["Data"].iter_rows(max_row=5) for cell in row].count("f") == 0
    days = [row[0].date() for row in workbook["Days"].iter_rows(min_row=2, values_only=True)]
    assert days == [date(1900, 1, 1) + timedelta(days=n) for n in range(60)]


def test_data_totals_carry_their_values_for_readers_that_do_not_calculate(client, alice, usage):
    content = get_report(client, alice, **PERIOD).data
    sheet = load_workbook(io.BytesIO(content), data_only=True)["Data"]
    assert [cell.value for cell in sheet[sheet.max_row]] == ["Total", None, None, 8, 123, 16, 7]
    assert all(cell.font.b and cell.number_format == "#,##0" for cell in sheet[sheet.max_row][3:])


def test_a_ten_year_report_has_every_day_in_days_and_the_chart():
    first, last = date(2016, 1, 2), date(2026, 1, 1)
    rows = [
        (first, "ROUTING", "ROUTE", 1, 5, 1, 1),
        (date(2020, 2, 29), "ROUTING", "PLAN", 2, 6, 2, 1),
        (date(2020, 2, 29), "UNIVERSAL", "PLAN", 3, 7, 3, 2),
        (last, "UNIVERSAL", "TRACE", 4, 8, 4, 1),
    ]
    workbook = load_workbook(write_report(rows, "alice", "acme", first, last, -5))
    days = [(row[0].date(), *row[1:]) for row in workbook["Days"].iter_rows(min_row=2, values_only=True)]
    assert len(days) == 3653
    assert [day[0] for day in days] == [first + timedelta(days=n) for n in range(3653)]
    by_day = {day[0]: day[1:] for day in days if day[3]}
    assert by_day == {first: (5, 0, 5), date(2020, 2, 29): (6, 7, 13), last: (0, 8, 8)}
    (chart,) = workbook["Summary"]._charts
    assert {series.cat.numRef.f for series in chart.series} == {"'Days'!$A$2:$A$3654"}
    assert data_rows(workbook) == rows
    assert workbook["Data"].auto_filter.ref == "A1:G5"
