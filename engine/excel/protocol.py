"""xlwings' wire protocol, server side, written from the BSD clients only
(``addin/Remote.bas`` for VBA ``RunRemotePython``/``RunServerPython`` and
``js/xlwings.ts`` for Office Scripts ``runPython``); nothing from ``xlwings.pro``.

Request: ``{"client", "version", "book": {"name", "active_sheet_index",
"selection"}, "names": [...], "sheets": [{"name", "values", "pictures",
"tables"}]}``. ``values`` runs from A1 to the last used cell; an excluded sheet
sends ``[[]]``; dates are ISO text ``2026-01-31T00:00:00.000Z``; empty cells are
``null`` from VBA and ``""`` from Office Scripts.

Response: ``{"actions": [...]}``; each action names a client function
(setValues, rangeClear, setRangeColor, setAutofit, addSheet, alert) and a
0-based range. The clients replay them in order.

The client's xlwings version is deliberately not compared with anything: no
xlwings runs on this side.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from engine.excel.errors import PayloadError

VBA = "VBA"
OFFICE_SCRIPTS = "Microsoft Office Scripts"
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?")
_CELL = re.compile(r"\$?([A-Za-z]{1,3})?\$?(\d+)?")


class PayloadBook:
    """A workbook port over one request payload; writes become actions."""

    def __init__(self, payload: object):
        self.client, self.name, self._active, self._selection, self._sheets = _validate(payload)
        self._index = {sheet["name"]: i for i, sheet in enumerate(self._sheets)}
        self._names = [sheet["name"] for sheet in self._sheets]
        self._empty = None if self.client == VBA else ""  # Office.js ignores null: it would keep old values
        self._actions: list[dict] = []
        self._grids: dict[str, list[list]] = {}

    # ------------------------------------------------------------ reading ----
    def sheet_names(self) -> list[str]:
        return list(self._names)

    def values(self, sheet: str) -> list[list]:
        if sheet not in self._grids:
            i = self._index.get(sheet)
            self._grids[sheet] = [] if i is None or self._excluded(i) else _decode_grid(self._sheets[i]["values"])
        return self._grids[sheet]

    def _excluded(self, i: int) -> bool:
        values = self._sheets[i]["values"]
        if not values or values == [[]]:
            return True
        # xlwings.ts 0.37.8 sends an excluded sheet with the *previous* sheet's values
        # (its `values` variable is not reset): a grid identical to the one before it
        # is that bug, not data
        return self.client == OFFICE_SCRIPTS and i > 0 and values == self._sheets[i - 1]["values"]

    def active_sheet(self) -> str:
        return self._names[self._active]

    def selection(self) -> tuple[int, int] | None:
        return _top_left(self._selection)

    # ------------------------------------------------------------ writing ----
    def add_sheet(self, name: str) -> None:
        last = len(self._names) - 1
        # VBA moves the new sheet *after* args[0]; Office Scripts sets its position to args[0]
        position = last if self.client == VBA else last + 1
        self._actions.append(_action("addSheet", [position, name]))
        self._index[name] = len(self._names)
        self._names.append(name)
        self._sheets.append({"name": name, "values": [[]]})

    def write(self, sheet: str, row: int, column: int, values: list[list]) -> None:
        if not values:
            return
        width = max(len(r) for r in values)
        rows = [[_encode(v, self._empty, self.client) for v in r] + [self._empty] * (width - len(r)) for r in values]
        self._actions.append(_action("setValues", [], self._position(sheet), row, column, len(rows), width, rows))

    def clear(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        if rows and columns:
            self._actions.append(_action("rangeClear", [], self._position(sheet), row, column, rows, columns))

    def fill(self, sheet: str, row: int, column: int, rows: int, columns: int, colour: str) -> None:
        if rows and columns:
            self._actions.append(_action("setRangeColor", [colour], self._position(sheet), row, column, rows, columns))

    def autofit(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        if rows and columns:
            self._actions.append(_action("setAutofit", ["columns"], self._position(sheet), row, column, rows, columns))

    def message(self, text: str, title: str, *, important: bool = True) -> None:
        # Office Scripts can only show a message by failing the script: skip mere notes there
        if important or self.client == VBA:
            self._actions.append(_action("alert", [text, title, "ok", "info", ""]))

    def _position(self, sheet: str) -> int:
        return self._index[sheet]

    def response(self) -> dict:
        """The reply body: ``{"actions": [...]}``, messages last (Office Scripts
        stops at its first message, so every write must come before it)."""
        alerts = [a for a in self._actions if a["func"] == "alert"]
        return {"actions": [a for a in self._actions if a["func"] != "alert"] + alerts}


# ----------------------------------------------------------------- decoding ----


def _validate(payload: object):
    if not isinstance(payload, dict):
        raise PayloadError("the request is not an xlwings workbook payload (expected a JSON object)")
    sheets, book = payload.get("sheets"), payload.get("book")
    if not isinstance(sheets, list) or not sheets or not isinstance(book, dict):
        raise PayloadError(
            "the request has no 'sheets' or 'book': send it with RunRemotePython (VBA) or runPython (Office Scripts)"
        )
    for i, sheet in enumerate(sheets):
        if not (
            isinstance(sheet, dict)
            and isinstance(sheet.get("name"), str)
            and isinstance(sheet.get("values"), list)
            and all(isinstance(r, list) for r in sheet["values"])
        ):
            raise PayloadError(f"sheet {i + 1} of the request has no name or no values grid")
    active = book.get("active_sheet_index", 0)
    if not isinstance(active, int) or not 0 <= active < len(sheets):
        raise PayloadError(f"active_sheet_index {active!r} does not name one of the {len(sheets)} sheets")
    selection = book.get("selection")
    client = payload.get("client") if isinstance(payload.get("client"), str) else VBA
    return client, str(book.get("name") or ""), active, selection if isinstance(selection, str) else None, list(sheets)


def _decode_grid(values: list[list]) -> list[list]:
    return [[_decode(v) for v in row] for row in values]


def _decode(value):
    if value == "":
        return None
    if isinstance(value, (list, dict)):
        raise PayloadError(
            "a cell of the request holds a list or an object; cells are numbers, text, true/false or null"
        )
    if isinstance(value, str) and len(value) >= 19 and _ISO.fullmatch(value):
        return dt.datetime.fromisoformat(value.rstrip("Z")[:19])
    return value


def _top_left(address: str | None) -> tuple[int, int] | None:
    """'B5' / 'B5:D9' / 'A:A' / '5:5' / 'B5:C6,E1' -> 0-based (row, column) of the first cell."""
    if not address:
        return None
    first = address.split(",")[0].split(":")[0].split("!")[-1]
    match = _CELL.fullmatch(first)
    if not match or not (match.group(1) or match.group(2)):
        return None
    letters, digits = match.group(1), match.group(2)
    column = 0
    for ch in (letters or "A").upper():
        column = column * 26 + ord(ch) - 64
    return (int(digits) - 1 if digits else 0), column - 1


# ----------------------------------------------------------------- encoding ----


def _encode(value, empty, client: str):
    if value is None:
        return empty
    if isinstance(value, float) and not math.isfinite(value):
        return empty
    if isinstance(value, dt.datetime):
        # VBA's setValues turns ISO text into a date (a trailing Z would shift it to local time);
        # Office Scripts' setValues reads date text as typed into a cell
        return (
            value.strftime("%Y-%m-%dT%H:%M:%S")
            if client == VBA
            else value.strftime("%Y-%m-%d %H:%M:%S").removesuffix(" 00:00:00")
        )
    return value


def _action(
    func: str,
    args: list,
    sheet: int | None = None,
    row: int | None = None,
    column: int | None = None,
    rows: int | None = None,
    columns: int | None = None,
    values: list[list] | None = None,
) -> dict:
    return {
        "func": func,
        "args": args,
        "values": values,
        "sheet_position": sheet,
        "start_row": row,
        "start_column": column,
        "row_count": rows,
        "column_count": columns,
    }
