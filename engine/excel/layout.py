"""Where kade's columns go in a data sheet, and which cells are the user's data.

A data sheet holds the user's columns from A, header in row 1. kade writes its
decision / rule / reason columns to their right. Pressing Evaluate again must
overwrite those columns, not append another copy, so the block kade wrote is
recognised by its headers. A workbook built by ``kade excel workbook`` has a
narrow "kade buttons" column between the data and the results (the buttons
float over it); when present, results start right of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.evaluation.results import ERRORS_COLUMN
from engine.io.registers import Sheet, frame_from_rows
from engine.model import RuleSet

GUTTER_HEADER = "kade buttons"


def result_names(rules: RuleSet) -> frozenset[str]:
    """Every header kade may write for these rules (outputs, .rule, .reason, kade.errors)."""
    names = {ERRORS_COLUMN}
    for table in rules.decisions:
        names.update(table.output_names)
        names.update((f"{table.name}.rule", f"{table.name}.reason"))
    return frozenset(names)


def _is_result_header(text: str, names: frozenset[str]) -> bool:
    # .rule/.reason also catch columns of decisions since removed from the rules
    return text in names or text.endswith((".rule", ".reason"))


@dataclass(frozen=True)
class SheetLayout:
    sheet: str
    data_columns: int  # columns 0..data_columns-1 are the user's data
    results_at: int  # first column kade writes
    old_results: int  # width of kade's columns from an earlier run (cleared first)
    grid_rows: int  # rows in the sheet's grid, header included

    @classmethod
    def of(cls, sheet: str, grid: list[list], names: frozenset[str]) -> SheetLayout:
        header = [("" if h is None else str(h).strip()) for h in (grid[0] if grid else [])]
        width = max((len(r) for r in grid), default=0)
        if GUTTER_HEADER in header:
            gutter = header.index(GUTTER_HEADER)
            return cls(sheet, gutter, gutter + 1, max(0, width - gutter - 1), len(grid))
        for c, text in enumerate(header):
            if _is_result_header(text, names):
                return cls(sheet, c, c, width - c, len(grid))
        return cls(sheet, _last_filled(header), width, 0, len(grid))


def _last_filled(header: list[str]) -> int:
    """Columns up to the last one with a header (blank trailing columns are not data)."""
    for c in range(len(header), 0, -1):
        if header[c - 1]:
            return c
    return 0


def data_sheet(grid: list[list], layout: SheetLayout) -> Sheet:
    """The user's columns as kade evaluate reads them (engine.io.registers: same header
    names, blank cells None, trailing empty rows dropped), so a sheet decides the
    same from a button as from the command line."""
    n = layout.data_columns
    rows = [list(r[:n]) + [None] * (n - len(r)) for r in grid]
    return Sheet(layout.sheet, frame_from_rows(rows))
