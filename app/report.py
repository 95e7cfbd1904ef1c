"""The usage report as an .xlsx workbook, written in openpyxl's write-only mode so that
rows stream to a temporary file instead of building the workbook in memory."""

import re
import tempfile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font

HEADERS = ("Date", "Service", "Process type", "Unique points", "Points", "Elements", "Processes")
WIDTHS = (12, 12, 14, 15, 14, 14, 12)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAX_CELL = 32767


def safe_text(value):
    """Text from user data as inert text: no formula, no control character, Excel's size."""
    text = _ILLEGAL.sub("", str(value))
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text[:_MAX_CELL]


def _header(ws, values):
    cells = []
    for value in values:
        cell = WriteOnlyCell(ws, value=value)
        cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _date_cell(ws, day):
    cell = WriteOnlyCell(ws, value=day)
    cell.number_format = "yyyy-mm-dd"
    return cell


def write_report(rows, username, company, first_day, last_day):
    """A temporary file holding the workbook of the statistics rows
    (day, service, process_type, unique_points, points, elements, processes)."""
    daily = {}
    totals = [0, 0, 0, 0]
    for row in rows:
        daily[row[0]] = daily.get(row[0], 0) + row[4]
        for index in range(4):
            totals[index] += row[3 + index]

    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet("Summary")
    summary.column_dimensions["A"].width = 22
    summary.column_dimensions["B"].width = 40
    summary.append(_header(summary, ("Usage report", "")))
    summary.append(["User", safe_text(username)])
    summary.append(["Company", safe_text(company)])
    summary.append(["From", _date_cell(summary, first_day)])
    summary.append(["To", _date_cell(summary, last_day)])
    summary.append([])
    summary.append(_header(summary, ("Total", "")))
    for label, value in zip(("Unique points (sum of days)", "Points", "Elements", "Processes"), totals, strict=True):
        summary.append([label, value])
    summary.append([])
    first_daily_row = 13  # the row of the "Date, Points" header below
    summary.append(_header(summary, ("Date", "Points")))
    for day in sorted(daily):
        summary.append([_date_cell(summary, day), daily[day]])
    if daily:
        chart = LineChart()
        chart.title = "Points per day"
        chart.y_axis.title = "Points"
        chart.x_axis.title = "Date"
        chart.x_axis.number_format = "yyyy-mm-dd"
        last_row = first_daily_row + len(daily)
        chart.add_data(Reference(summary, min_col=2, min_row=first_daily_row, max_row=last_row), titles_from_data=True)
        chart.set_categories(Reference(summary, min_col=1, min_row=first_daily_row + 1, max_row=last_row))
        chart.width, chart.height = 24, 10
        summary.add_chart(chart, "D2")

    data = workbook.create_sheet("Data")
    for letter, width in zip("ABCDEFG", WIDTHS, strict=True):
        data.column_dimensions[letter].width = width
    data.freeze_panes = "A2"
    data.append(_header(data, HEADERS))
    for day, service, process_type, unique_points, points, elements, count in rows:
        data.append([_date_cell(data, day), service, process_type, unique_points, points, elements, count])

    handle = tempfile.TemporaryFile()
    workbook.save(handle)
    handle.seek(0)
    return handle
