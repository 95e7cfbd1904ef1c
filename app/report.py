"""The usage report as an .xlsx workbook.

Three sheets: Summary (who, which period, whose local days, the totals, a table by service
and process type, and the daily points as columns stacked by service), Days (one row per
day of the period, zero days included: the chart's data) and Data (the statistics rows,
filterable, with a totals row that follows the filter). Every sheet prints landscape, fit
to the page width, with its header row repeated.

openpyxl (write-only mode) writes the workbook's parts: the Summary, the chart, the styles,
and each sheet's layout, header row and print settings. The rows of Days and Data (a row
per day, up to 3,653, and one per statistics row) are nearly all the cells, and openpyxl
builds an object, a style and an element for each: for the heavy user's 10-year report
that was most of the request. They hold only numbers, dates and inline strings in styles
registered with openpyxl, so they are written here as the <row> markup openpyxl writes,
streamed a chunk at a time into the saved sheets before </sheetData>."""

import io
import math
import tempfile
import zipfile
from datetime import date, timedelta
from typing import NamedTuple
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

HEADERS = ("Date", "Service", "Process type", "Unique points", "Points", "Elements", "Processes")
WIDTHS = (12, 12, 14, 15, 14, 14, 12)
FIGURES = ("Unique points (sum of days)", "Points", "Elements", "Processes")
BY_SERVICE_HEADERS = ("Service", "Process type", *FIGURES)
NUMBER = "#,##0"
DATE = "yyyy-mm-dd"
CHART_TITLE = "Points per day, by service"
SUMMARY_TABLE_ROW = 24  # the by-service table's caption, below the chart
_CHART_LABELS = 16  # at most this many date labels under the chart
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MAX_CELL = 32767
_EXCEL_EPOCH = date(1899, 12, 30)
_ROWS_PER_CHUNK = 1000  # rows joined into one write to the archive


def safe_text(value):
    """Text from user data as inert text: no formula, no control character, Excel's size."""
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text[:_MAX_CELL]


def timezone_words(hours):
    """'days are local days of UTC+3': the statistics' days begin at the user's midnight."""
    return "days are local days of " + ("UTC" if hours == 0 else f"UTC{hours:+d}")


def _cell(ws, value, number_format=None, bold=False):
    cell = WriteOnlyCell(ws, value=value)
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)
    return cell


def _header(ws, values):
    return [_cell(ws, value, bold=True) for value in values]


def _date_cell(ws, day, bold=False):
    return _cell(ws, day, DATE, bold)


def _numbers(ws, values, bold=False):
    return [_cell(ws, value, NUMBER, bold) for value in values]


def _style_id(ws, number_format, bold=False):
    """The workbook's index of that cell style (registering it), for cells written as XML."""
    return _cell(ws, None, number_format, bold).style_id


def _excel_day(day):
    """The serial number of a date as openpyxl writes it (Excel's 1900 leap-year bug kept)."""
    days = (day - _EXCEL_EPOCH).days
    return days - 1 if 0 < days <= 60 else days


class _RowMarkup:
    """<row> markup as openpyxl writes it, for one layout of cells from column A on: columns
    are (style index or None, "n" for a number or "s" for text); format(row number,
    *values) gives a row, values being numbers or text() of a text."""

    def __init__(self, columns):
        cells = []
        for index, (style, kind) in enumerate(columns, 1):
            start = f'<c r="{get_column_letter(index)}{{0}}"' + ("" if style is None else f' s="{style}"')
            if kind == "n":
                cells.append(f'{start} t="n"><v>{{{index}}}</v></c>')
            else:
                cells.append(f'{start} t="inlineStr"><is>{{{index}}}</is></c>')
        self.format = ('<row r="{0}">' + "".join(cells) + "</row>").format
        self._texts = {}

    def text(self, value):
        """The <t> element of a text from the data: safe_text, escaped (once per value)."""
        element = self._texts.get(value)
        if element is None:
            text = safe_text(value)
            space = ' xml:space="preserve"' if text != text.strip() else ""
            element = self._texts[value] = f"<t{space}>{escape(text)}</t>"
        return element


def _chunks(rows):
    """<row> strings joined and encoded a chunk at a time: memory stays a chunk's."""
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _ROWS_PER_CHUNK:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


def _save(workbook, sheet_rows):
    """A temporary file holding the workbook with sheet_rows ({sheet: iterable of <row>
    strings}) added after each sheet's rows."""
    saved = io.BytesIO()
    workbook.save(saved)
    added = {ws.path.lstrip("/"): rows for ws, rows in sheet_rows.items()}
    handle = tempfile.TemporaryFile()
    # Deflate's fastest level: a third of the default level's time for about 28% more bytes.
    target = zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
    with zipfile.ZipFile(saved) as source, target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename not in added:
                target.writestr(item, content)
                continue
            head, tail = content.split(b"</sheetData>")
            with target.open(item.filename, "w") as out:
                out.write(head)
                for chunk in _chunks(added[item.filename]):
                    out.write(chunk)
                out.write(b"</sheetData>" + tail)
    handle.seek(0)
    return handle


class _Styles(NamedTuple):
    """Style indexes of the cells written as XML: registered with the workbook before it
    is saved, so that its styles part holds them."""

    date: int
    number: int
    bold: int
    bold_number: int

    @classmethod
    def of(cls, ws):
        return cls(_style_id(ws, DATE), _style_id(ws, NUMBER), _style_id(ws, None, True), _style_id(ws, NUMBER, True))


def _days_rows(styles, days, daily, services):
    """Days' rows: a day, its points by service, their total."""
    markup = _RowMarkup([(styles.date, "n")] + [(styles.number, "n")] * (len(services) + 1))
    for row_number, day in enumerate(days, 2):
        by_service = daily.get(day, {})
        points = [by_service.get(service, 0) for service in services]
        yield markup.format(row_number, _excel_day(day), *points, sum(points))


def _data_rows(styles, rows, totals):
    """Data's rows: the statistics rows, then the totals row; SUBTOTAL(109, ...) sums the
    rows the filter shows, so the totals follow the filter. Their cached values are the
    totals of every row (what the sheet shows when opened), for readers that never
    calculate."""
    markup = _RowMarkup([(styles.date, "n"), (None, "s"), (None, "s")] + [(styles.number, "n")] * 4)
    text = markup.text
    serials = {}
    for row_number, (day, service, process_type, *figures) in enumerate(rows, 2):
        serial = serials.get(day)
        if serial is None:
            serial = serials[day] = _excel_day(day)
        yield markup.format(row_number, serial, text(service), text(process_type), *figures)
    last = len(rows) + 1
    total = last + 1
    yield (
        f'<row r="{total}"><c r="A{total}" s="{styles.bold}" t="inlineStr"><is><t>Total</t></is></c>'
        + "".join(
            f'<c r="{letter}{total}" s="{styles.bold_number}"><f>SUBTOTAL(109,{letter}2:{letter}{last})</f>'
            f"<v>{value}</v></c>"
            for letter, value in zip("DEFG", totals, strict=True)
        )
        + "</row>"
    )


def _print_setup(ws, title_rows="1:1"):
    """Landscape, as wide as the page and as many pages down as it takes, header repeated."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    if title_rows:
        ws.print_title_rows = title_rows


def _every_day(first_day, last_day):
    return [first_day + timedelta(days=offset) for offset in range((last_day - first_day).days + 1)]


def _chart(days_sheet, services, day_count):
    """Columns stacked by service, one per day: series are the Days sheet's service
    columns, categories its dates (every day of the period, so gaps show as gaps)."""
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.gapWidth = 40 if day_count > 31 else 80
    chart.title = CHART_TITLE
    chart.style = 10
    last_row = day_count + 1
    for column in range(2, len(services) + 2):
        chart.add_data(Reference(days_sheet, min_col=column, min_row=1, max_row=last_row), titles_from_data=True)
    chart.set_categories(Reference(days_sheet, min_col=1, min_row=2, max_row=last_row))
    for series in chart.series:
        series.smooth = False
    # openpyxl 3.1 writes <c:delete val="1"/> unless told: some viewers then hide the axes.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.x_axis.number_format = "d mmm" if day_count > 31 else "ddd d mmm"
    chart.x_axis.tickLblSkip = max(1, math.ceil(day_count / _CHART_LABELS))
    chart.x_axis.tickMarkSkip = chart.x_axis.tickLblSkip
    chart.x_axis.auto = True  # Excel then takes the dated categories as a date axis
    chart.x_axis.title = "Day"
    chart.y_axis.title = "Points"
    chart.y_axis.number_format = NUMBER
    chart.legend.position = "b"
    chart.width, chart.height = 24, 11
    return chart


def write_report(rows, username, company, first_day, last_day, timezone=0):
    """A temporary file holding the workbook of the statistics rows
    (day, service, process_type, unique_points, points, elements, processes);
    timezone: the user's, in hours from UTC (the rows' days are its local days)."""
    rows = list(rows)
    # Chart series: the services with points (ACCOUNT's own actions, for one, have none).
    services = sorted({row[1] for row in rows if row[4]})
    daily = {}  # day -> {service: points}
    by_kind = {}  # (service, process type) -> four figures
    totals = [0, 0, 0, 0]
    for day, service, process_type, *figures in rows:
        daily.setdefault(day, {}).setdefault(service, 0)
        daily[day][service] += figures[1]
        kind = by_kind.setdefault((service, process_type), [0, 0, 0, 0])
        for index, value in enumerate(figures):
            kind[index] += value
            totals[index] += value
    days = _every_day(first_day, last_day) if first_day <= last_day else []

    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet("Summary")
    days_sheet = workbook.create_sheet("Days")
    data = workbook.create_sheet("Data")

    for letter, width in zip("ABCDEF", (28, 30, 26, 14, 14, 14), strict=True):
        summary.column_dimensions[letter].width = width
    _print_setup(summary, title_rows=None)
    title = _cell(summary, "Usage report")
    title.font = Font(bold=True, size=14)
    summary.append([title])
    summary.append(["User", safe_text(username)])
    summary.append(["Company", safe_text(company)])
    summary.append(["From", _date_cell(summary, first_day)])
    summary.append(["To", _date_cell(summary, last_day)])
    summary.append(["Days", _cell(summary, len(days), NUMBER)])
    summary.append(["Time zone", timezone_words(timezone)])
    summary.append([])
    summary.append(_header(summary, ("Total", "")))
    for label, value in zip(FIGURES, totals, strict=True):
        summary.append([label, _cell(summary, value, NUMBER)])
    for _ in range(14, SUMMARY_TABLE_ROW):  # the info above takes 13 rows
        summary.append([])
    summary.append(_header(summary, ("By service and process type",)))
    wrapped = _header(summary, BY_SERVICE_HEADERS)
    for cell in wrapped[2:]:
        cell.alignment = Alignment(horizontal="right", wrap_text=True)
    summary.append(wrapped)
    for (service, process_type), figures in sorted(by_kind.items()):
        summary.append([service, process_type, *_numbers(summary, figures)])
    summary.append([_cell(summary, "Total", bold=True), "", *_numbers(summary, totals, bold=True)])
    if not rows:
        summary.append([])
        summary.append(["No usage in this period."])

    days_sheet.column_dimensions["A"].width = 12
    for column in range(2, len(services) + 3):
        days_sheet.column_dimensions[get_column_letter(column)].width = 14
    days_sheet.freeze_panes = "B2"
    _print_setup(days_sheet)
    days_sheet.append(_header(days_sheet, ("Date", *services, "Total points")))
    if services:
        summary.add_chart(_chart(days_sheet, services, len(days)), "C1")

    for letter, width in zip("ABCDEFG", WIDTHS, strict=True):
        data.column_dimensions[letter].width = width
    data.freeze_panes = "A2"
    _print_setup(data)
    data.append(_header(data, HEADERS))
    data.auto_filter.ref = f"A1:G{len(rows) + 1}"

    styles = _Styles.of(data)
    return _save(
        workbook, {days_sheet: _days_rows(styles, days, daily, services), data: _data_rows(styles, rows, totals)}
    )
