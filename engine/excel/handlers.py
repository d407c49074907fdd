"""What the three buttons do, written once over the workbook port
(``engine.excel.port``), so the desktop button, the server and ``--in-place``
behave the same.

* Evaluate: decide every row of every data sheet; write decision / rule /
  reason columns and kade.errors beside the data.
* Why?: explain the selected row — outputs, rule, reason, what would change it, inputs.
* Check rules: report gaps, overlaps and other rule-table problems.

Why? and Check rules show a short message and put the full text on a sheet of
its own ("kade why", "kade rules check"): a message box holds about 1,000 characters.
An Evaluate press also fills the sheet "kade summary" (``show_summary``, called by
``engine.pipeline.evaluate_book`` once the run has its audit id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import engine
from engine import audit
from engine.analysis.rules_check import ERROR, WARNING, CheckReport, check_path
from engine.audit.explain import explain_row
from engine.evaluation import results
from engine.excel.errors import SelectionError
from engine.excel.layout import SheetLayout, data_sheet, result_names
from engine.excel.port import DECISION_HEADER, ERROR_CELL, ERROR_HEADER, WorkbookPort
from engine.io.cells import cell_values
from engine.io.registers import place_unreadable
from engine.io.xlsx_copy import SUMMARY_SHEET
from engine.model import RuleSet
from engine.text import format_value

WHY_SHEET = "kade why"
CHECK_SHEET = "kade rules check"  # what `kade rules check` says, for the rules the buttons use
# written by kade, never read as data ('kade summary': named as in `kade evaluate`'s output)
KADE_SHEETS = (WHY_SHEET, CHECK_SHEET, SUMMARY_SHEET)
MESSAGE_LIMIT = 900  # characters; VBA's MsgBox shows about 1,024
TITLE = "kade"


@dataclass
class EvaluateOutcome:
    evaluation: engine.Evaluation
    written: dict[str, SheetLayout] = field(default_factory=dict)  # sheet -> where results went
    error_rows: int = 0


# ------------------------------------------------------------------ reading ----


def _read_data_sheets(book: WorkbookPort, rules: RuleSet) -> dict[str, tuple[SheetLayout, list[list]]]:
    names = result_names(rules)
    sheets = {}
    for name in book.sheet_names():
        if name in KADE_SHEETS:
            continue
        grid = book.values(name)
        if grid and any(v not in (None, "") for v in grid[0]):
            sheets[name] = (SheetLayout.of(name, grid, names), grid)
    return sheets


def _evaluate(book: WorkbookPort, rules: RuleSet, **options):
    sheets = _read_data_sheets(book, rules)
    frames = [data_sheet(grid, layout) for layout, grid in sheets.values()]
    if hasattr(book, "unreadable"):  # a port over a file: error values, formulas without a stored result
        frames = [place_unreadable(frame, book.unreadable(frame.name)) for frame in frames]
    evaluation = engine.evaluate_sheets(rules, frames, source=_book_name(book), **options)
    return evaluation, sheets


def _book_name(book: WorkbookPort) -> str:
    return getattr(book, "name", "") or "the workbook"


# ----------------------------------------------------------------- evaluate ----


def evaluate(
    book: WorkbookPort, rules: RuleSet, *, trace: bool = False, engine_name: str = "vectorized"
) -> EvaluateOutcome:
    """Decide every data sheet and write the results beside the data.
    Raises KadeError (missing column, ...) before anything is written."""
    evaluation, sheets = _evaluate(book, rules, trace=trace, engine=engine_name)
    outcome = EvaluateOutcome(evaluation)
    for entity, rows in evaluation.rows.items():
        if not evaluation.for_entity(entity):
            continue
        layout, _grid = sheets[rows.sheet]
        _write_results(book, layout, results.result_columns(evaluation, entity))
        outcome.written[rows.sheet] = layout
    outcome.error_rows = results.error_rows(evaluation)
    book.message(_evaluate_summary(evaluation, outcome), TITLE)
    return outcome


def _write_results(book: WorkbookPort, layout: SheetLayout, frame: pd.DataFrame):
    sheet, at = layout.sheet, layout.results_at
    if layout.old_results:
        book.clear(sheet, 0, at, layout.grid_rows, layout.old_results)
    headers = [str(c) for c in frame.columns]
    columns = [cell_values(frame[c], dates_as_datetime=True) for c in frame.columns]
    body = [list(row) for row in zip(*columns)] if len(frame) else []
    book.write(sheet, 0, at, [headers] + body)
    width, n = len(headers), len(frame)
    book.fill(sheet, 0, at, 1, width - 1, DECISION_HEADER)
    book.fill(sheet, 0, at + width - 1, 1, 1, ERROR_HEADER)
    for start, stop in _runs(np.array([v is not None for v in columns[-1]], dtype=bool)):
        book.fill(sheet, 1 + start, at + width - 1, stop - start, 1, ERROR_CELL)
    # values and rule ids are short: fit them; reasons and errors are sentences
    short = np.array([not h.endswith(".reason") and h != results.ERRORS_COLUMN for h in headers], dtype=bool)
    for start, stop in _runs(short):
        book.autofit(sheet, 0, at + start, n + 1, stop - start)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _evaluate_summary(evaluation, outcome: EvaluateOutcome) -> str:
    lines = []
    for sheet in outcome.written:
        entity = next(e for e, r in evaluation.rows.items() if r.sheet == sheet)
        decisions = ", ".join(r.decision.name for r in evaluation.for_entity(entity))
        lines.append(f"{sheet}: {len(evaluation.rows[entity]):,} rows decided ({decisions})")
    skipped: dict[str, list[str]] = {}
    for name, why in evaluation.skipped.items():  # one line per cause: a missing sheet skips several decisions
        skipped.setdefault(why, []).append(name)
    for why, names in skipped.items():
        lines.append(f"not decided ({why}): {', '.join(names)}")
    if outcome.error_rows:
        lines.append(f"{outcome.error_rows:,} row(s) in error: see the {results.ERRORS_COLUMN} column")
    return _clip("\n".join(lines) or "no data sheet kade knows in this workbook")


# ---------------------------------------------------------------------- why ----


def why(book: WorkbookPort, rules: RuleSet) -> str:
    """Explain the selected row of the active sheet; returns the explanation."""
    sheet = book.active_sheet()
    selected = book.selection()
    evaluation, _sheets = _evaluate(book, rules, trace=True)
    decided = {r.sheet: e for e, r in evaluation.rows.items() if evaluation.for_entity(e)}
    if sheet not in decided:
        where = ", ".join(decided) or "none in this workbook"
        raise SelectionError(
            f"kade decides no rows on sheet {sheet!r}; select a row on a data sheet ({where}) and press Why? again"
        )
    if selected is None:
        raise SelectionError("select a cell in the row you want explained, then press Why? again")
    entity, row = decided[sheet], selected[0]
    count = len(evaluation.rows[entity])
    if row == 0:
        raise SelectionError("that is the header row: select a cell in a data row, then press Why? again")
    if row > count:
        raise SelectionError(f"row {row + 1} is below the data of {sheet!r} (rows 2–{count + 1})")
    audited = audit.row_table(evaluation, entity).slice(row - 1, 1).to_pylist()[0]  # what the audit trail keeps
    text = explain_row(entity, audited, audit.rule_annotations(rules), rules=rules)
    head = f"Why? {sheet} row {row + 1} ({_book_name(book)})"
    _show_text(book, WHY_SHEET, [head, ""] + text.splitlines())
    book.message(
        _clip(_why_message(entity, audited, evaluation, row - 1))
        + f"\n\nFull explanation, with what would change each decision, on sheet '{WHY_SHEET}'.",
        f"{TITLE}: why?",
    )
    return text


def _why_message(entity: str, audited: dict, evaluation, index: int) -> str:
    """One line per decision, the final decisions first, each with its reason:
    what fits in a message box (the sheet has everything)."""
    lines = [f"{entity} {audited.get('key')} (sheet row {audited.get('row')})"]
    for result in reversed(evaluation.for_entity(entity)):
        name = result.decision.name
        if audited.get(f"{name}.error"):
            lines.append(f"• {name}: not decided — {audited[f'{name}.error']}")
            continue
        outputs = ", ".join(
            f"{c.name} = {format_value(audited.get(f'{name}.{c.name}'))}" for c in result.decision.outputs
        )
        lines.append(f"• {outputs}  (rule {audited.get(f'{name}.rule')})")
        if result.reasons[index]:
            lines.append(f"   {result.reasons[index]}")
    return "\n".join(lines)


# -------------------------------------------------------------------- check ----


def check_rules(book: WorkbookPort, rules_path: str | Path) -> CheckReport:
    """Check the rule tables; full report on the 'kade check' sheet."""
    result = check_path(rules_path)
    text = result.render_text().rstrip("\n")
    _show_text(book, CHECK_SHEET, [f"Check rules: {rules_path}", ""] + text.splitlines())
    if result.unreadable:
        summary = f"cannot check the rules: {result.unreadable}"
    else:
        summary = text.splitlines()[-1]
        serious = [f for f in result.findings if f.severity in (ERROR, WARNING)]
        shown = [f"- {f.severity}: {f.decision or f.file}: {f.message}" for f in serious[:5]]
        if len(serious) > 5:
            shown.append(f"… and {len(serious) - 5} more")
        summary = "\n".join([summary, *shown])
    book.message(
        _clip(summary) + f"\n\nEvery finding, with its cells, on sheet '{CHECK_SHEET}'.", f"{TITLE}: check rules"
    )
    return result


# ------------------------------------------------------------------- shared ----


def show_summary(book: WorkbookPort, rows: list[list]) -> None:
    """Replace the 'kade summary' sheet with ``rows`` (run facts, then the decision
    table of `kade evaluate`'s summary sheet)."""
    _show_rows(book, SUMMARY_SHEET, rows)
    book.autofit(SUMMARY_SHEET, 0, 0, len(rows), 1)


def _show_text(book: WorkbookPort, sheet: str, lines: list[str]):
    """Replace the contents of one of kade's text sheets with ``lines`` (one per row)."""
    _show_rows(book, sheet, [[line] for line in lines])


def _show_rows(book: WorkbookPort, sheet: str, rows: list[list]):
    if sheet in book.sheet_names():
        old = book.values(sheet)
        if old:
            book.clear(sheet, 0, 0, len(old), max(len(r) for r in old))
    else:
        book.add_sheet(sheet)
    book.write(sheet, 0, 0, rows)


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1].rstrip() + "…"
