"""A small model of Excel -- the host the xlwings clients drive -- for the client
tests: a workbook of worksheets and chart sheets in tab order, cell values and
fills, the active sheet and the selection.

It models Excel, not the clients (their code is run or transcribed, see
``tests.clients``). Its VBA-facing part (``Worksheets(i)``, ``Sheets_Add``,
``Move_After``, ``UsedRange``, ``Range.Value``...) follows Excel's object model as
documented; the Office Scripts runner (tests/node/office_scripts.mjs) has its own
``ExcelScript`` fake over the same state (``to_json`` / ``from_json``).

Where it stops: numbers are doubles, a date is a ``datetime`` (a date-formatted
number), formulas are kept as ``Formula`` text and never computed, and text put
into a cell is read as Excel reads a typed entry (``typed``) for the en-US
locale only: numbers, percentages, ISO and slash dates, TRUE/FALSE, ``=``
formulas, a leading apostrophe for text. No fonts, borders, shapes or tables.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter

EPOCH = dt.datetime(1899, 12, 30)  # serial 0 (the 1900 leap-year bug is after it)
_NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d*)?([eE][+-]?\d+)?%?")
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})( (\d{1,2}):(\d{2})(:(\d{2}))?)?")
_ADDRESS = re.compile(r"\$?([A-Z]{1,3})\$?(\d+)")
BAD_NAME = re.compile(r"[\[\]:*?/\\]")


class ExcelError(str):
    """An error value in a cell (#N/A, #SPILL!...); ``code`` is VBA's CVErr number."""

    CODES = {
        "#NULL!": 2000,
        "#DIV/0!": 2007,
        "#VALUE!": 2015,
        "#REF!": 2023,
        "#NAME?": 2029,
        "#NUM!": 2036,
        "#N/A": 2042,
        "#GETTING_DATA": 2043,
        "#SPILL!": 2045,
        "#CALC!": 2050,
    }

    @property
    def code(self) -> int:
        return self.CODES[str(self)]


@dataclass(frozen=True)
class Formula:
    text: str


class VBAError(Exception):
    """A VBA run-time error: the macro stops with Excel's error dialog."""

    def __init__(self, number: int, description: str):
        super().__init__(f"Run-time error '{number}': {description}")
        self.number, self.description = number, description


def typed(value):
    """What a cell holds after ``value`` is put into it (VBA ``Range.Value = ...``,
    Office Scripts ``setValues``): text is read as if typed in."""
    if not isinstance(value, str) or isinstance(value, ExcelError):
        return value
    if value == "":
        return None
    if value.startswith("'"):
        return value[1:]  # the apostrophe marks text; Excel does not show it
    if value.startswith("=") or (value[0] in "+-@" and not _NUMBER.fullmatch(value)):
        return Formula(value if value.startswith("=") else "=" + value)
    if value.strip().upper() in ("TRUE", "FALSE"):
        return value.strip().upper() == "TRUE"
    text = value.strip()
    if any(ch.isdigit() for ch in text) and _NUMBER.fullmatch(text):
        number = float(text.rstrip("%").replace(",", ""))
        return number / 100 if text.endswith("%") else number
    date = _DATE.fullmatch(text)
    if date:
        y, m, d = int(date[1]), int(date[2]), int(date[3])
        hours, minutes, seconds = int(date[5] or 0), int(date[6] or 0), int(date[8] or 0)
        try:
            return dt.datetime(y, m, d, hours, minutes, seconds)
        except ValueError:
            return value
    return value


def serial(value: dt.datetime) -> float:
    return (value - EPOCH).total_seconds() / 86400


def from_serial(number: float) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=round(number * 86400))


def column_letter(c: int) -> str:
    return get_column_letter(c)


# ----------------------------------------------------------------- the book ----


@dataclass
class Sheet:
    name: str
    kind: str = "worksheet"  # or "chart" (a chart sheet: no cells)
    cells: list[list] = field(default_factory=list)  # rows from row 1, each from column A
    fills: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column) 1-based -> '#RRGGBB'
    autofit: set[int] = field(default_factory=set)  # columns fitted to their contents
    book: Workbook | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------ cells ----
    def get(self, r: int, c: int):
        """The value of the cell at row r, column c (1-based)."""
        if r <= len(self.cells) and c <= len(self.cells[r - 1]):
            return self.cells[r - 1][c - 1]
        return None

    def put(self, r: int, c: int, value) -> None:
        while len(self.cells) < r:
            self.cells.append([])
        row = self.cells[r - 1]
        if len(row) < c:
            row.extend([None] * (c - len(row)))
        row[c - 1] = value

    def used(self) -> tuple[int, int, int, int] | None:
        """(first row, first column, last row, last column) of the cells with a value
        or a fill, 1-based; None for an empty sheet."""
        rows = [r for r, row in enumerate(self.cells, 1) if any(v is not None for v in row)]
        columns = [c for row in self.cells for c, v in enumerate(row, 1) if v is not None]
        rows += [r for r, _ in self.fills]
        columns += [c for _, c in self.fills]
        if not rows:
            return None
        return min(rows), min(columns), max(rows), max(columns)

    def grid(self) -> list[list]:
        """Values from A1 to the last used cell."""
        used = self.used()
        if used is None:
            return []
        return [[self.get(r, c) for c in range(1, used[3] + 1)] for r in range(1, used[2] + 1)]

    # ------------------------------------------- Excel's object model (VBA) ----
    @property
    def Name(self) -> str:  # Excel's names, for the transcription
        return self.name

    @Name.setter
    def Name(self, value: str) -> None:
        assert self.book is not None
        if not value or len(value) > 31 or BAD_NAME.search(value) or value.startswith("'"):
            raise VBAError(1004, f"the name {value!r} is not a valid sheet name")
        if any(s is not self and s.name.casefold() == value.casefold() for s in self.book.sheets):
            raise VBAError(1004, f"that name is already taken: {value!r}")
        self.name = value

    @property
    def Index(self) -> int:
        """1-based position among all sheets, chart sheets included (Sheet.Index)."""
        assert self.book is not None
        return self.book.sheets.index(self) + 1

    @property
    def UsedRange(self) -> Range:
        used = self.used()
        return Range(self, 1, 1, 1, 1) if used is None else Range(self, *used)

    def Cells(self, r, c) -> Range:
        """Cells(row, column), 1-based; a Double index is rounded, as VBA does."""
        r, c = _vba_index(r), _vba_index(c)
        return Range(self, r, c, r, c)

    def Range(self, first: Range, last: Range) -> Range:
        return Range(self, first.row, first.column, last.last_row, last.last_column)

    def Move_After(self, after: Sheet) -> None:
        """Sheet.Move After:=... . Moving a sheet after itself leaves it where it is."""
        assert self.book is not None
        if after is self:
            return
        self.book.sheets.remove(self)
        self.book.sheets.insert(self.book.sheets.index(after) + 1, self)

    @property
    def Shapes_Count(self) -> int:
        return 0  # the model has no shapes

    @property
    def ListObjects_Count(self) -> int:
        return 0  # the model has no tables


class Range:
    """Excel's Range, over one block of one sheet (1-based, inclusive)."""

    def __init__(self, sheet: Sheet, row: int, column: int, last_row: int, last_column: int):
        self.sheet, self.row, self.column, self.last_row, self.last_column = sheet, row, column, last_row, last_column

    @property
    def Row(self) -> int:
        return self.row

    @property
    def Column(self) -> int:
        return self.column

    @property
    def Rows_Count(self) -> int:
        return self.last_row - self.row + 1

    @property
    def Columns_Count(self) -> int:
        return self.last_column - self.column + 1

    @property
    def Count(self) -> int:
        return self.Rows_Count * self.Columns_Count

    def _cells(self):
        for r in range(self.row, self.last_row + 1):
            for c in range(self.column, self.last_column + 1):
                yield r, c

    @property
    def Value(self):
        """One cell: its value (None = Empty). More: rows of values (numbers as doubles)."""

        def read(r, c):
            v = self.sheet.get(r, c)
            return float(v) if isinstance(v, int) and not isinstance(v, bool) else v

        if self.Count == 1:
            return read(self.row, self.column)
        return Array2D(
            [read(r, c) for c in range(self.column, self.last_column + 1)] for r in range(self.row, self.last_row + 1)
        )

    @Value.setter
    def Value(self, values) -> None:
        """A 2-D array fills the block from its top-left (cells beyond the array get
        #N/A); a single value fills every cell. Text is read as typed."""
        for r, c in self._cells():
            if isinstance(values, list):
                i, j = r - self.row, c - self.column
                v = values[i][j] if i < len(values) and j < len(values[i]) else ExcelError("#N/A")
            else:
                v = values
            self.sheet.put(r, c, typed(None if v is NULL else v))

    def Clear(self) -> None:
        self.ClearContents()
        for r, c in self._cells():
            self.sheet.fills.pop((r, c), None)

    def ClearContents(self) -> None:
        for r, c in self._cells():
            if self.sheet.get(r, c) is not None:
                self.sheet.put(r, c, None)

    def set_colour(self, rgb: str) -> None:
        for r, c in self._cells():
            self.sheet.fills[(r, c)] = rgb.upper()

    def Columns_AutoFit(self) -> None:
        self.sheet.autofit.update(range(self.column, self.last_column + 1))

    def Address(self, row_absolute: bool = True, column_absolute: bool = True) -> str:
        first = f"{column_letter(self.column)}{self.row}"
        last = f"{column_letter(self.last_column)}{self.last_row}"
        return first if first == last else f"{first}:{last}"


class Array2D(list):
    """A VBA 2-D array (what Range.Value returns for a block), as rows."""


class _Null:
    """VBA's Null (JSON null), apart from Empty (None)."""

    def __repr__(self) -> str:
        return "Null"


NULL = _Null()


@dataclass
class Workbook:
    name: str
    sheets: list[Sheet]
    active: Sheet
    selection: str | None = "A1"  # address on the active sheet; None: a shape or chart is selected
    message_boxes: list[tuple[str, str]] = field(default_factory=list)  # (title, prompt) of each MsgBox

    def __post_init__(self):
        for sheet in self.sheets:
            sheet.book = self

    @classmethod
    def from_xlsx(cls, path: str | Path, *, active: str | None = None, selection: str | None = "A1") -> Workbook:
        """The workbook as Excel holds it once opened: cached values of formulas,
        dates as datetimes, solid fills."""
        source = openpyxl.load_workbook(path, data_only=True)
        sheets = []
        for ws in source.worksheets:
            sheet = Sheet(ws.title)
            for row in ws.iter_rows():
                for cell in row:
                    value = cell.value
                    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                        value = dt.datetime(value.year, value.month, value.day)
                    if isinstance(value, str) and value in ExcelError.CODES:
                        value = ExcelError(value)
                    if value is not None:
                        sheet.put(cell.row, cell.column, value)
                    if cell.fill is not None and cell.fill.fill_type == "solid":
                        sheet.fills[(cell.row, cell.column)] = "#" + str(cell.fill.fgColor.rgb)[-6:].upper()
            sheets.append(sheet)
        book = cls(Path(path).name, sheets, sheets[0], selection)
        book.active = book.sheet(active) if active else sheets[source.index(source.active)]
        return book

    def sheet(self, name: str) -> Sheet:
        return next(s for s in self.sheets if s.name == name)

    def add_chart_sheet(self, name: str, position: int) -> Sheet:
        """A chart sheet at 0-based tab ``position``."""
        chart = Sheet(name, kind="chart", book=self)
        self.sheets.insert(position, chart)
        return chart

    def copy(self) -> Workbook:
        twin = copy.deepcopy(self)
        for sheet in twin.sheets:
            sheet.book = twin
        return twin

    # ------------------------------------------- Excel's object model (VBA) ----
    @property
    def Name(self) -> str:
        return self.name

    @property
    def ActiveSheet(self) -> Sheet:
        return self.active

    @property
    def Selection(self) -> Range | None:
        """The selected cells (None: a shape or chart is selected)."""
        if self.selection is None or self.active.kind != "worksheet":
            return None
        first, _, last = self.selection.partition(":")
        r1, c1 = _cell(first)
        r2, c2 = _cell(last or first)
        return Range(self.active, r1, c1, r2, c2)

    def worksheet_list(self) -> list[Sheet]:
        return [s for s in self.sheets if s.kind == "worksheet"]

    def Worksheets(self, index):
        """Worksheets(i), 1-based; chart sheets are not worksheets. A text index is a name."""
        sheets = self.worksheet_list()
        if isinstance(index, str):
            found = [s for s in sheets if s.name.casefold() == index.casefold()]
            if not found:
                raise VBAError(9, "Subscript out of range")
            return found[0]
        i = _vba_index(index)
        if not 1 <= i <= len(sheets):
            raise VBAError(9, "Subscript out of range")
        return sheets[i - 1]

    @property
    def Worksheets_Count(self) -> int:
        return len(self.worksheet_list())

    def Sheets(self, name: str) -> Sheet | None:
        """Sheets("name") over every kind of sheet; None where VBA raises error 9."""
        return next((s for s in self.sheets if s.name.casefold() == name.casefold()), None)

    def Sheets_Add(self) -> Sheet:
        """Sheets.Add without arguments: a new worksheet before the active sheet,
        which it becomes."""
        n = 1
        while self.Sheets(f"Sheet{n}") is not None:
            n += 1
        sheet = Sheet(f"Sheet{n}", book=self)
        self.sheets.insert(self.sheets.index(self.active), sheet)
        self.active, self.selection = sheet, "A1"
        return sheet

    def MsgBox(self, prompt: str, title: str) -> None:
        self.message_boxes.append((title, prompt))

    # ------------------------------------------- state for the node runner ----
    def to_json(self) -> dict:
        """What tests/node/office_scripts.mjs builds its fake ExcelScript.Workbook
        from. Office Scripts sees worksheets only."""
        sheets = []
        for sheet in self.worksheet_list():
            values, dates = [], []
            for r, row in enumerate(sheet.cells):
                out = []
                for c, v in enumerate(row):
                    if isinstance(v, dt.datetime):
                        dates.append([r, c])
                        v = serial(v)
                    elif isinstance(v, Formula):
                        v = v.text
                    out.append("" if v is None else v)
                values.append(out)
            fills = {f"{r - 1},{c - 1}": colour for (r, c), colour in sheet.fills.items()}
            sheets.append({"name": sheet.name, "values": values, "dates": dates, "fills": fills})
        worksheets = self.worksheet_list()
        return {
            "name": self.name,
            "sheets": sheets,
            "active": worksheets.index(self.active) if self.active in worksheets else 0,
            "selection": self.selection,
        }

    def from_json(self, state: dict) -> Workbook:
        """This book after the Office Scripts run that left ``state``: cells that
        setValues wrote ({"typed": text}) are read as typed."""
        sheets = []
        for s in state["sheets"]:
            sheet = Sheet(s["name"])
            dates = {(r, c) for r, c in s["dates"]}
            for r, row in enumerate(s["values"]):
                for c, v in enumerate(row):
                    if isinstance(v, dict):
                        v = typed(v["typed"])
                    elif (r, c) in dates and isinstance(v, (int, float)) and not isinstance(v, bool):
                        v = from_serial(v)
                    elif isinstance(v, str) and v in ExcelError.CODES:
                        v = ExcelError(v)
                    if v not in (None, ""):
                        sheet.put(r + 1, c + 1, v)
            sheet.fills = {tuple(int(x) + 1 for x in k.split(",")): colour for k, colour in s["fills"].items()}
            sheet.autofit = {c + 1 for c in s["autofit"]}
            sheets.append(sheet)
        book = Workbook(self.name, sheets, sheets[state["active"]], self.selection)
        return book


def _cell(address: str) -> tuple[int, int]:
    match = _ADDRESS.fullmatch(address.upper())
    if not match:
        raise ValueError(f"not a cell address: {address!r}")
    column = 0
    for ch in match[1]:
        column = column * 26 + ord(ch) - 64
    return int(match[2]), column


def _vba_index(index) -> int:
    """VBA rounds a Double index to the nearest integer, halves to even."""
    return round(index)
