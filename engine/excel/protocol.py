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
0-based range. The clients replay them in order. What each client does with
them is proven against the clients' own code (tests/clients: xlwings.ts run in
node, and a line-by-line transcription of Remote.bas); the facts this side
relies on, with the client lines:

* ``sheet_position`` counts worksheets only (Remote.bas GetRange:
  ``wb.Worksheets(pos + 1)``; xlwings.ts ``getWorksheets()[pos]``), as ``sheets``
  does. VBA's ``active_sheet_index`` counts chart sheets too (``ActiveSheet.Index
  - 1``): the VBA macros send the active worksheet as ``?worksheet=N``.
* addSheet with ``len(sheets)`` appends the sheet in both clients: VBA inserts it
  before the active sheet, then moves it after ``Worksheets(args[0] + 1)``,
  counted after the insert (Remote.bas addSheet); Office Scripts adds it and
  sets its position to ``args[0]``.
* VBA parses every cell of setValues with ``WebHelpers.ParseIso`` (ISO text
  becomes a date) and reads a JSON number of 16+ characters (17+ with a point)
  as text; Excel reads text as typed in (numbers, dates, ``=`` formulas): kade
  sends numbers short and text that Excel would convert with a leading
  apostrophe, which Excel keeps as "text" and does not show.
* Office Scripts on Excel on the web refuses an API call over about 5 MB: a
  setValues for that client is cut into blocks of at most
  ``OFFICE_SCRIPTS_CHUNK_BYTES``.

The client's xlwings version is deliberately not compared with anything: no
xlwings runs on this side.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import numpy as np

from engine.excel.errors import PayloadError

VBA = "VBA"
OFFICE_SCRIPTS = "Microsoft Office Scripts"
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?")
_CELL = re.compile(r"\$?([A-Za-z]{1,3})?\$?(\d+)?")
# Office Scripts / Excel on the web: about 5 MB per API call. A block is measured as
# JSON with every non-ASCII character escaped (6 bytes each: the largest encoding),
# so it stays well below the limit however the call is encoded.
OFFICE_SCRIPTS_CHUNK_BYTES = 2_000_000
# Text Excel would not keep as typed: a formula or sign first, an apostrophe (Excel
# would hide it), TRUE/FALSE, or only digits and number/date/time punctuation.
_AS_TYPED = re.compile(
    r"[=+\-@']|\s*(?:TRUE|FALSE)\s*\Z|[\d\s.,:/%()+\-eE$€¥£]*\d[\d\s.,:/%()+\-eE$€¥£]*\Z", re.IGNORECASE
)
_ASCII_JSON = json.JSONEncoder(separators=(",", ":"))  # a block's size: every non-ASCII character escaped


class PayloadBook:
    """A workbook port over one request payload; writes become actions."""

    def __init__(self, payload: object, *, active_worksheet: int | None = None):
        """``active_worksheet``: the 0-based position of the active sheet among the
        worksheets when the client says so apart from the payload (VBA's own index
        counts chart sheets)."""
        self.client, self.name, self._active, self._selection, self._sheets = _validate(payload)
        self._active_worksheet = active_worksheet
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
        n = len(self._sheets)
        if self._active_worksheet is not None:
            if not 0 <= self._active_worksheet < n:
                raise PayloadError(f"?worksheet={self._active_worksheet + 1} is not one of the {n} worksheets sent")
            return self._names[self._active_worksheet]
        if not 0 <= self._active < n:
            raise PayloadError(
                f"the active sheet is tab {self._active + 1}, but the workbook sent {n} worksheets: "
                + (
                    "the VBA client counts chart sheets in the active tab but does not send them; "
                    "use the Why? macro from docs/excel.md, which sends the active worksheet (?worksheet=N)"
                    if self.client == VBA
                    else "select a cell on a data sheet and press again"
                )
            )
        return self._names[self._active]

    def selection(self) -> tuple[int, int] | None:
        return _top_left(self._selection)

    # ------------------------------------------------------------ writing ----
    def add_sheet(self, name: str) -> None:
        # both clients end with the new sheet at args[0] when that is the count before it
        # (VBA: moved after Worksheets(args[0] + 1), counted after its insert; Office
        # Scripts: setPosition(args[0])) -- see the module docstring
        self._actions.append(_action("addSheet", [len(self._names), name]))
        self._index[name] = len(self._names)
        self._names.append(name)
        self._sheets.append({"name": name, "values": [[]]})

    def write(self, sheet: str, row: int, column: int, values: list[list]) -> None:
        if not values:
            return
        width = max(len(r) for r in values)
        padded = (r if len(r) == width else list(r) + [None] * (width - len(r)) for r in values)
        columns = [_encode_column(c, self._empty, self.client) for c in zip(*padded)]
        rows = [list(r) for r in zip(*columns)]
        position = self._position(sheet)
        blocks = _blocks(rows, OFFICE_SCRIPTS_CHUNK_BYTES) if self.client == OFFICE_SCRIPTS else [(0, len(rows))]
        for start, stop in blocks:
            block = rows[start:stop]
            self._actions.append(_action("setValues", [], position, row + start, column, len(block), width, block))

    def clear(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        if rows and columns:
            self._actions.append(_action("rangeClear", [], self._position(sheet), row, column, rows, columns))

    def fill(self, sheet: str, row: int, column: int, rows: int, columns: int, colour: str) -> None:
        if rows and columns:
            self._actions.append(_action("setRangeColor", [colour], self._position(sheet), row, column, rows, columns))

    def autofit(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        if rows and columns:
            self._actions.append(_action("setAutofit", ["columns"], self._position(sheet), row, column, rows, columns))

    def message(self, text: str, title: str) -> None:
        # Office Scripts shows it as the script's error (its only way to show text)
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
    if isinstance(active, float) and active.is_integer():
        active = int(active)
    if not isinstance(active, int) or isinstance(active, bool) or active < 0:
        raise PayloadError(f"active_sheet_index {active!r} is not a sheet position")
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


def _encode_column(values: tuple, empty, client: str) -> list:
    """One column's values for the client, a kind at a time where the column is one kind."""
    kinds = set(map(type, values))
    if kinds <= {str, type(None)}:
        return [empty if v is None else _text(v) for v in values]
    if kinds <= {float, type(None)}:
        numbers = np.array(values, dtype=float)  # None -> NaN
        out = np.full(len(numbers), empty, dtype=object)
        finite = np.isfinite(numbers)
        whole = finite & (np.abs(numbers) < 1e15) & (numbers == np.trunc(numbers))
        out[whole] = numbers[whole].astype(np.int64).tolist()  # 9, not 9.0
        rest = numbers[finite & ~whole].tolist()
        out[finite & ~whole] = [_short_float(x) for x in rest] if client == VBA else rest
        return out.tolist()
    return [_encode(v, empty, client) for v in values]


def _text(value: str) -> str:
    # Excel reads text as typed in: '1-2' would become a date, '=x' a formula
    return "'" + value if _AS_TYPED.match(value) else value


def _encode(value, empty, client: str):
    if value is None:
        return empty
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return empty
        if value.is_integer() and abs(value) < 1e15:
            return int(value)  # 9, not 9.0
        return _short_float(value) if client == VBA else value
    if isinstance(value, dt.datetime):
        # VBA's setValues turns ISO text into a date (a trailing Z would shift it to local time);
        # Office Scripts' setValues reads date text as typed into a cell
        return (
            value.strftime("%Y-%m-%dT%H:%M:%S")
            if client == VBA
            else value.strftime("%Y-%m-%d %H:%M:%S").removesuffix(" 00:00:00")
        )
    return value


def _short_float(value: float) -> float:
    """``value`` to at most 15 significant digits (what Excel keeps) and short
    enough that VBA-Web reads it as a number: it turns a number of 16+ characters
    (17+ with a decimal point) into text (WebHelpers.bas json_ParseNumber)."""
    for digits in range(15, 0, -1):
        short = float(f"{value:.{digits}g}")
        token = repr(short)
        if len(token) < (17 if "." in token else 16):
            return short
    return value


def _blocks(rows: list[list], limit: int) -> list[tuple[int, int]]:
    """[start, stop) runs of rows, each under ``limit`` bytes of JSON (one row at
    least, however long)."""
    sizes = np.fromiter((len(_ASCII_JSON.encode(r)) + 1 for r in rows), dtype=np.int64, count=len(rows))
    ends = np.cumsum(sizes)
    blocks, start, base = [], 0, 0
    while start < len(rows):
        # a block's JSON: each row and a comma (sizes), plus the brackets, less one comma
        stop = max(start + 1, int(np.searchsorted(ends, base + limit - 1, side="right")))
        blocks.append((start, stop))
        base, start = int(ends[stop - 1]), stop
    return blocks


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
