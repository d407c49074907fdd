"""What xlwings' BSD clients do, reproduced on a real .xlsx without Excel: build
the request payload as ``Remote.bas`` (VBA) or ``xlwings.ts`` (Office Scripts)
builds it, and replay the reply's actions onto the file as those clients do.

For tests, the benchmark and trying ``kade serve`` from a shell. It is a
faithful copy of the clients' logic, not the clients: formulas give openpyxl's
cached values (None in a file Excel never saved), and Excel's own behaviour
(autofit widths, message boxes) is approximated.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter, range_boundaries

from engine.excel.protocol import OFFICE_SCRIPTS, VBA

XLWINGS_CLIENT_VERSION = "0.37.8"  # the clients this was read from (addin/Remote.bas, js/xlwings.ts)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?")


def payload_from_xlsx(
    path: str | Path,
    *,
    client: str = VBA,
    active_sheet: str | None = None,
    selection: str | None = "A1",
    include: list[str] | None = None,
    exclude: list[str] | None = None,
) -> dict:
    """The JSON body a client sends for the workbook at ``path``.

    VBA: empty cells null, dates ``yyyy-mm-ddTHH:MM:SS.000Z``, an excluded sheet
    ``[[]]``. Office Scripts: empty cells "", dates only where the cell has a date
    format, and (its 0.37.8 behaviour) an excluded sheet repeats the previous
    sheet's values."""
    book = openpyxl.load_workbook(path, data_only=True)
    names = book.sheetnames
    skipped = set(exclude or ())
    if include is not None:
        skipped |= {n for n in names if n not in include}
    sheets: list[dict] = []
    previous: list[list] = [[]]
    for ws in book.worksheets:
        if ws.title in skipped:
            values = [[]] if client == VBA else previous
        else:
            values = _used_values(ws, client)
        previous = values
        sheets.append(
            {"name": ws.title, "values": values, "pictures": [], "tables": [] if ws.title in skipped else _tables(ws)}
        )
    active = names.index(active_sheet) if active_sheet else book.index(book.active)
    return {
        "client": client,
        "version": XLWINGS_CLIENT_VERSION,
        "book": {"name": Path(path).name, "active_sheet_index": active, "selection": selection},
        "names": _names(book),
        "sheets": sheets,
    }


def _used_values(ws, client: str) -> list[list]:
    # Remote.bas: Range(A1, last cell of UsedRange).Value; an empty sheet sends [[]]
    if ws.max_row == 1 and ws.max_column == 1 and ws.cell(1, 1).value is None:
        return [[]]
    return [
        [_client_value(cell, client) for cell in row]
        for row in ws.iter_rows(min_row=1, max_row=ws.max_row, min_col=1, max_col=ws.max_column)
    ]


def _client_value(cell, client: str):
    value = cell.value
    if value is None:
        return None if client == VBA else ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%dT00:00:00.000Z")
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)  # what arrives after JSON: 120000, not 120000.0
    return value


def _tables(ws) -> list[dict]:
    out = []
    for table in ws.tables.values():
        c1, r1, c2, r2 = range_boundaries(table.ref)
        headers = table.headerRowCount != 0
        totals = bool(table.totalsRowCount)
        out.append(
            {
                "name": table.name,
                "range_address": table.ref,
                "header_row_range_address": f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1}"
                if headers
                else None,
                "data_body_range_address": f"{get_column_letter(c1)}{r1 + headers}:{get_column_letter(c2)}{r2 - totals}",
                "total_row_range_address": f"{get_column_letter(c1)}{r2}:{get_column_letter(c2)}{r2}"
                if totals
                else None,
                "show_headers": headers,
                "show_totals": totals,
                "table_style": table.tableStyleInfo.name if table.tableStyleInfo else None,
                "show_autofilter": table.autoFilter is not None,
            }
        )
    return out


def _names(book) -> list[dict]:
    out = []
    for name, defined in book.defined_names.items():
        for sheet, ref in defined.destinations:
            if sheet in book.sheetnames:
                out.append(
                    {
                        "name": name,
                        "sheet_index": book.sheetnames.index(sheet),
                        "address": ref.replace("$", ""),
                        "book_scope": True,
                        "scope_sheet_name": None,
                        "scope_sheet_index": None,
                    }
                )
    return out


# ------------------------------------------------------------------ replay -----


class UnknownAction(Exception):
    """An action the replay does not implement: a test must notice, not skip it."""


def apply_actions(book: openpyxl.Workbook, actions: list[dict]) -> list[tuple[str, str]]:
    """Replay a reply's actions onto an openpyxl workbook as Remote.bas does;
    returns the (title, text) of each alert, in order."""
    alerts = []
    for action in actions:
        func = action["func"]
        if func == "alert":
            alerts.append((action["args"][1], action["args"][0]))
        elif func == "addSheet":
            book.create_sheet(action["args"][1], action["args"][0] + 1)
        elif func in _RANGE_ACTIONS:
            ws = book.worksheets[action["sheet_position"]]
            r0, c0 = action["start_row"] + 1, action["start_column"] + 1
            _RANGE_ACTIONS[func](ws, r0, c0, action["row_count"], action["column_count"], action)
        else:
            raise UnknownAction(func)
    return alerts


def _set_values(ws, r0, c0, rows, columns, action):
    for i, row in enumerate(action["values"]):
        for j, value in enumerate(row):
            if isinstance(value, str) and _ISO.fullmatch(value):  # VBA setValues: WebHelpers.ParseIso
                value = dt.datetime.fromisoformat(value.rstrip("Z")[:19])
            ws.cell(r0 + i, c0 + j).value = value


def _clear(ws, r0, c0, rows, columns, action):
    for r in range(r0, r0 + rows):
        for c in range(c0, c0 + columns):
            cell = ws.cell(r, c)
            cell.value = None
            cell.style = "Normal"


def _clear_contents(ws, r0, c0, rows, columns, action):
    for r in range(r0, r0 + rows):
        for c in range(c0, c0 + columns):
            ws.cell(r, c).value = None


def _colour(ws, r0, c0, rows, columns, action):
    rgb = action["args"][0].lstrip("#").upper()
    for r in range(r0, r0 + rows):
        for c in range(c0, c0 + columns):
            ws.cell(r, c).fill = PatternFill("solid", start_color=rgb, end_color=rgb)


def _autofit(ws, r0, c0, rows, columns, action):
    for c in range(c0, c0 + columns):
        longest = max(
            (len(str(ws.cell(r, c).value)) for r in range(r0, r0 + rows) if ws.cell(r, c).value is not None), default=0
        )
        ws.column_dimensions[get_column_letter(c)].width = min(80, max(8, longest + 2))


_RANGE_ACTIONS = {
    "setValues": _set_values,
    "rangeClear": _clear,
    "rangeClearContents": _clear_contents,
    "setRangeColor": _colour,
    "setAutofit": _autofit,
}

__all__ = ["payload_from_xlsx", "apply_actions", "UnknownAction", "VBA", "OFFICE_SCRIPTS"]
