"""Desktop buttons: the workbook port over ``xw.Book.caller()`` (xlwings BSD
desktop API), and the three entry points the buttons' ``RunPython`` calls name:

    RunPython "import engine.excel.desktop as kade; kade.evaluate()"
    RunPython "import engine.excel.desktop as kade; kade.why()"
    RunPython "import engine.excel.desktop as kade; kade.check()"

xlwings is imported inside the functions: the rest of engine.excel never loads it.
Rules: $KADE_RULES, else a ``rules`` folder beside the workbook, else ./rules,
else the shipped rules.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine import pipeline
from engine.errors import KadeError
from engine.excel import handlers
from engine.excel.rules_source import RulesSource, default_rules_path
from engine.io.cells import plain_value


class XwBook:
    """A workbook port over an ``xw.Book`` (0-based positions -> xlwings' 1-based)."""

    def __init__(self, book):
        self.book = book
        self.name = book.name
        self.fullname = book.fullname  # the file's path (the audit trail's name for it)

    def _sheet(self, name: str):
        return self.book.sheets[name]

    def _range(self, sheet: str, row: int, column: int, rows: int, columns: int):
        return self._sheet(sheet).range((row + 1, column + 1), (row + rows, column + columns))

    def sheet_names(self) -> list[str]:
        return [s.name for s in self.book.sheets]

    def values(self, sheet: str) -> list[list]:
        last = self._sheet(sheet).used_range.last_cell
        grid = self._sheet(sheet).range((1, 1), (last.row, last.column)).options(ndim=2).value
        if grid == [[None]]:
            return []
        return [[plain_value(v) for v in row] for row in grid]

    def active_sheet(self) -> str:
        return self.book.sheets.active.name

    def selection(self) -> tuple[int, int] | None:
        try:
            selected = self.book.selection
        except Exception:
            return None
        return None if selected is None else (selected.row - 1, selected.column - 1)

    def add_sheet(self, name: str) -> None:
        self.book.sheets.add(name, after=self.book.sheets[-1])

    def write(self, sheet: str, row: int, column: int, values: list[list]) -> None:
        if values:
            self._sheet(sheet).range((row + 1, column + 1)).value = values

    def clear(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        if rows and columns:
            self._range(sheet, row, column, rows, columns).clear()

    def fill(self, sheet: str, row: int, column: int, rows: int, columns: int, colour: str) -> None:
        if rows and columns:
            self._range(sheet, row, column, rows, columns).color = colour

    def autofit(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        if rows and columns:
            self._range(sheet, row, column, rows, columns).columns.autofit()

    def message(self, text: str, title: str) -> None:
        self.book.app.alert(text, title=title)


def _rules_source(book) -> RulesSource:
    if not os.environ.get("KADE_RULES"):
        beside = Path(book.fullname).resolve().parent / "rules"
        if beside.is_dir():
            return RulesSource(beside)
    return RulesSource(default_rules_path())


def _press(button) -> None:
    import xlwings as xw

    book = xw.Book.caller()
    port = XwBook(book)
    updating = _screen_updating(book.app, False)  # thousands of cells: draw once at the end
    try:
        button(port, _rules_source(book))
    except KadeError as exc:  # the user's data or rules: say what to fix
        _screen_updating(book.app, updating)
        port.message(str(exc), "kade: cannot do that")
    finally:
        _screen_updating(book.app, updating)


def _screen_updating(app, value: bool) -> bool:
    """Set Excel's screen updating; returns the previous setting. Engines without
    it (xlwings' remote engine in the licensed test) just draw as they go."""
    try:
        previous = app.screen_updating
        app.screen_updating = value
        return previous
    except (AttributeError, NotImplementedError):
        return True


def evaluate() -> None:
    """Evaluate button: the run goes to the audit trail as the OS user's, under
    the workbook's full path (so ``kade explain`` finds it), unless
    $KADE_NO_AUDIT is set."""

    def press(port: XwBook, rules: RulesSource) -> None:
        options = pipeline.AuditOptions(enabled=not os.environ.get("KADE_NO_AUDIT"), front_end="excel-desktop")
        pipeline.evaluate_book(port, rules.load(), audit_options=options, workbook=port.fullname)

    _press(press)


def why() -> None:
    """Why? button."""
    _press(lambda port, rules: handlers.why(port, rules.load()))


def check() -> None:
    """Check rules button."""
    _press(lambda port, rules: handlers.check_rules(port, rules.path))


ENTRY_POINTS = {"evaluate": evaluate, "why": why, "check": check}
