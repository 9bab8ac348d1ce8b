"""The report as files: CSV (one sheet, with a byte-order mark) and XLSX (every sheet)."""

from __future__ import annotations

import csv
import io
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from services.reporting.monthly import (
    MonthlyReport,
    format_share,
)
from services.reporting.render.tables import (
    TABLES,
    Cell,
    Percent,
    Table,
    attachment1_table,
    attachment2_table,
    comparisons_table,
    summary_table,
    written_table,
)

CsvSheet = Literal["summary", "attachment1", "attachment2", "written", "comparisons"]
CSV_SHEETS: dict[str, str] = {
    "summary": "汇总",
    "written": "文字部分",
    "comparisons": "环比同比",
    "attachment1": "附件1",
    "attachment2": "附件2",
}
"""The CSV sheets and their names (``render_csv``)."""
CSV_BOM = "\ufeff"


def _csv_cell(cell: Cell) -> str | int:
    if cell is None:
        return ""
    if isinstance(cell, Percent):
        return format_share(cell.tenths)
    return cell


def render_csv(report: MonthlyReport, sheet: CsvSheet) -> str:
    """One sheet as CSV: header row, body rows, totals row; starts with a UTF-8 BOM for Excel.

    Encode the result with plain UTF-8; read it back with ``encoding="utf-8-sig"``.
    """
    if sheet not in TABLES:
        raise ValueError(f"sheet must be one of {sorted(TABLES)}, not {sheet!r}")
    table = TABLES[sheet](report)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.header)
    for row in [*table.rows, *([table.totals] if table.totals else [])]:
        writer.writerow([_csv_cell(cell) for cell in row])
    return CSV_BOM + out.getvalue()


_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _write_sheet(ws: Worksheet, table: Table) -> None:
    width = len(table.header)
    ws.append([table.title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(row=1, column=1).font = Font(bold=True, size=13)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    ws.append(table.header)
    for cell in ws[2]:
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    body = [*table.rows, *([table.totals] if table.totals else [])]
    for row in body:
        ws.append([cell.tenths / 1000 if isinstance(cell, Percent) else cell for cell in row])
        for index, value in enumerate(row, start=1):
            if isinstance(value, Percent):
                ws.cell(row=ws.max_row, column=index).number_format = "0.0%"
    if table.totals:
        for cell in ws[ws.max_row]:
            cell.font = _BOLD
    ws.freeze_panes = "A3"
    for index, heading in enumerate(table.header, start=1):
        longest = max([len(heading), *(len(str(_csv_cell(r[index - 1]))) for r in body)])
        ws.column_dimensions[get_column_letter(index)].width = min(4 + 2 * longest, 40)


def render_xlsx(report: MonthlyReport) -> bytes:
    """The report as an Excel workbook: sheets 汇总, 文字部分, 环比同比, 附件1 and 附件2, zh-CN
    headers, totals rows."""
    workbook = Workbook()
    sheets = [
        ("汇总", summary_table),
        ("文字部分", written_table),
        ("环比同比", comparisons_table),
        ("附件1", attachment1_table),
        ("附件2", attachment2_table),
    ]
    for index, (name, build) in enumerate(sheets):
        ws = workbook.active if index == 0 else workbook.create_sheet()
        ws.title = name
        _write_sheet(ws, build(report))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
