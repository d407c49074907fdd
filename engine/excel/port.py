"""The workbook port: the few things kade's Excel handlers do to a workbook.

Three adapters implement it, so one handler serves every path:

* ``engine.excel.protocol.PayloadBook`` — a request from an xlwings client (VBA
  ``RunRemotePython``, Office Scripts ``runPython``); writes become JSON actions.
* ``engine.excel.desktop.XwBook`` — ``xw.Book.caller()`` under desktop ``RunPython``.
* ``engine.excel.inplace.OpenpyxlBook`` — the user's .xlsx on disk (``--in-place``).

Positions are 0-based (row 0 is the header row, column 0 is column A), as in
the xlwings wire protocol. Cell values are plain Python: None (empty), str,
int, float, bool, datetime.datetime.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

# Colours kade paints (Excel's "Good" green and "Neutral"/"Bad" oranges: readable
# on screen and in print, and familiar to Excel users).
DECISION_HEADER = "#C6EFCE"
ERROR_HEADER = "#F8CBAD"
ERROR_CELL = "#FCE4D6"


@runtime_checkable
class WorkbookPort(Protocol):
    def sheet_names(self) -> list[str]:
        """Worksheet names in workbook order."""

    def values(self, sheet: str) -> list[list]:
        """The sheet's cells from A1 to the last used cell, row by row; [] when the
        sheet is empty or its values were not sent (an excluded sheet)."""

    def active_sheet(self) -> str:
        """Name of the sheet the user is looking at."""

    def selection(self) -> tuple[int, int] | None:
        """(row, column) of the selection's top-left cell on the active sheet, or
        None when no cell is selected (a shape, a chart)."""

    def add_sheet(self, name: str) -> None:
        """Append an empty worksheet called ``name`` (callers check it is absent)."""

    def write(self, sheet: str, row: int, column: int, values: list[list]) -> None:
        """Write a block of rows starting at (row, column)."""

    def clear(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        """Empty a block: contents and formats (only ever kade's own columns)."""

    def fill(self, sheet: str, row: int, column: int, rows: int, columns: int, colour: str) -> None:
        """Paint a block's background, colour as '#RRGGBB'."""

    def autofit(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        """Fit the block's columns to their contents."""

    def message(self, text: str, title: str) -> None:
        """Tell the user something (a message box; Office Scripts shows it as the
        script's error, after every write)."""
