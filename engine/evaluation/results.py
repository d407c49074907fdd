"""Results as tables: the data rows with three columns per decision (value,
rule, reason), an error column, and the per-decision summary. Pure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.evaluation.columns import NULL, is_none, to_python
from engine.evaluation.decisions import Evaluation
from engine.text import format_value

ERRORS_COLUMN = "kade.errors"
MAX_OUTCOMES = 12  # beyond this many distinct values a summary shows a range instead


def row_errors(evaluation: Evaluation, entity: str) -> np.ndarray:
    """Per row: every problem found ('; '-joined), or None. Bad cells and missing
    parents first; a decision's own error only where no such cause is listed."""
    rows = evaluation.rows[entity]
    n = len(rows)
    causes = [m for m in [*rows.cell_errors.values(), rows.parent_missing] if m is not None]
    errors = np.full(n, None, dtype=object)
    if causes:
        acc = np.full(n, "", dtype=object)
        sep = np.full(n, "", dtype=object)
        for messages in causes:
            bad = ~is_none(messages)
            acc[bad] = acc[bad] + sep[bad] + messages[bad]
            sep[bad] = "; "
        errors = np.where(acc == "", NULL, acc)
    for result in evaluation.for_entity(entity):
        own = ~result.ok & is_none(errors)
        if own.any():
            errors[own] = f"{result.decision.name}: " + result.errors[own]
    return errors


def result_columns(
    evaluation: Evaluation, entity: str, *, arrow_text: bool = False, deferred: bool = False
) -> pd.DataFrame:
    """Decision columns for one entity's rows (without the input data). Reasons are
    pandas' text dtype (``str``: Arrow-backed, a missing reason is NaN), made
    without a Python string per row; with ``arrow_text`` they are pandas ArrowDtype
    text (a missing reason is NA), as the writers take them. ``deferred``: the
    reason columns are left empty, to be filled by a writer a block of rows at a
    time from ``reason_sources`` (a million rows' reasons are never held at once);
    the columns then share the evaluation's arrays instead of copies of them (the
    frame goes to a writer, which only reads it: at a million rows the copies, and
    pandas stacking them into one block, took over a second), and number outputs
    stay numpy floats (NaN for none) instead of a Python object per row."""
    import pyarrow as pa

    data: dict[str, pd.Series] = {}
    sources = reason_sources(evaluation, entity)
    n = len(evaluation.rows[entity])
    for result in evaluation.for_entity(entity):
        name = result.decision.name
        for clause in result.decision.outputs:
            col = result.outputs[clause.name]
            if deferred and col.is_float and col.type == "number":  # the writer formats numbers a block at a time
                data[clause.name] = pd.Series(col.values, copy=False)
            else:
                data[clause.name] = _objects(to_python(col.type, col.values) if col.is_float else col.values, deferred)
        data[f"{name}.rule"] = _objects(result.rules, deferred)
        reason = pa.nulls(n, pa.string()) if deferred else sources[f"{name}.reason"](0, n)
        if arrow_text or deferred:
            data[f"{name}.reason"] = pd.Series(pd.arrays.ArrowExtensionArray(reason))
        else:
            data[f"{name}.reason"] = pd.Series(pd.array(reason, dtype="str"))
    data[ERRORS_COLUMN] = _objects(row_errors(evaluation, entity), deferred)
    return pd.DataFrame(data, copy=not deferred)


def sheet_results(evaluation: Evaluation, *, deferred: bool) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """What the writers take, per evaluated sheet: its result frame (reasons as Arrow
    text; ``deferred``: left empty, for an .xlsx writer to make a block at a time) and
    its ``reason_sources``."""
    entities = [e for e in evaluation.rows if evaluation.for_entity(e)]
    frames = {
        evaluation.rows[e].sheet: result_frame(evaluation, e, arrow_text=True, deferred=deferred) for e in entities
    }
    return frames, {evaluation.rows[e].sheet: reason_sources(evaluation, e) for e in entities}


def reason_sources(evaluation: Evaluation, entity: str) -> dict:
    """Per reason column of one entity's results, a function giving its text for the
    rows lo..hi as written: the reason, or 'error: …' on a row the decision failed."""
    return {f"{result.decision.name}.reason": _written_reasons(result) for result in evaluation.for_entity(entity)}


def _written_reasons(result):
    import pyarrow as pa
    import pyarrow.compute as pc

    failed = ~result.ok

    def text(lo: int, hi: int) -> pa.Array | pa.ChunkedArray:
        # every row: the whole column, built once and kept; otherwise a block, built now and not kept
        reason = result.reason_text if (lo, hi) == (0, len(failed)) else result.reason_blocks.block(lo, hi)
        if failed[lo:hi].any():
            errors = pa.array(np.where(failed[lo:hi], result.errors[lo:hi], NULL), type=pa.string())
            reason = pc.if_else(pa.array(failed[lo:hi]), pc.binary_join_element_wise("error: ", errors, ""), reason)
        return reason

    return text


def _objects(values: np.ndarray, shared: bool = False) -> pd.Series:
    # object dtype keeps None as None (pandas would infer a string dtype with NaN)
    return pd.Series(values, dtype=object, copy=not shared)


def result_frame(
    evaluation: Evaluation, entity: str, *, arrow_text: bool = False, deferred: bool = False
) -> pd.DataFrame:
    """The sheet as read, followed by the decision columns (``arrow_text``,
    ``deferred``: see ``result_columns``)."""
    rows = evaluation.rows[entity]
    left = rows.frame.reset_index(drop=True)
    right = result_columns(evaluation, entity, arrow_text=arrow_text, deferred=deferred)
    clash = [c for c in right.columns if c in left.columns]
    if clash:  # re-evaluating a results workbook: the new decisions replace the old
        left = left.drop(columns=clash)
    frame = pd.concat([left, right], axis=1)
    frame.attrs["data_columns"] = len(left.columns)
    frame.attrs["replaced_columns"] = clash
    return frame


@dataclass
class DecisionSummary:
    decision: str
    entity: str | None
    rows: int
    errors: int
    outcomes: list[tuple[str, int]]  # (value, count), most common first
    range: tuple[float, float] | None = None  # numeric outputs with many values


def summarize(evaluation: Evaluation) -> list[DecisionSummary]:
    out = []
    for name, result in evaluation.results.items():
        table = result.decision
        ok = result.ok
        col = result.outputs[table.outputs[0].name]
        values = col.values[ok]
        if col.type == "list":  # lists are not hashable: count their text
            values = pd.Series(values, dtype=object).map(format_value).to_numpy(dtype=object)
        # count raw values first, format each distinct value once
        counts = pd.Series(values, dtype=object if values.dtype == object else None).value_counts(dropna=False)
        shown: Counter = Counter()
        for value, count in counts.items():
            python = (
                to_python(col.type, np.array([value], dtype=float))[0] if col.is_float and col.type != "list" else value
            )
            shown[format_value(python)] += int(count)
        numeric_range = None
        if len(shown) > MAX_OUTCOMES and col.is_float and ok.any():
            finite = col.values[ok][~np.isnan(col.values[ok])]
            numeric_range = (float(finite.min()), float(finite.max())) if len(finite) else None
        out.append(DecisionSummary(name, table.entity, len(ok), int((~ok).sum()), shown.most_common(), numeric_range))
    return out


def summary_lines(summary: list[DecisionSummary], skipped: dict[str, str], error_rows: int) -> list[str]:
    """The summary as lines of text (the terminal, a button's message): per decision
    its rows and outcomes, the decisions not run and why, the rows in error."""
    lines = []
    for s in summary:
        if s.range:
            outcomes = f"values {s.range[0]:,.6g} … {s.range[1]:,.6g}"
        else:
            outcomes = ", ".join(f"{value} {count}" for value, count in s.outcomes[:MAX_OUTCOMES_SHOWN])
            if len(s.outcomes) > MAX_OUTCOMES_SHOWN:
                outcomes += f", … ({len(s.outcomes) - MAX_OUTCOMES_SHOWN} more)"
        line = f"{s.decision:<22} {s.rows:>8,} rows  {outcomes}"
        if s.errors:
            line += f"  [{s.errors:,} in error]"
        lines.append(line)
    lines += [f"{name:<22} skipped: {why}" for name, why in skipped.items()]
    if error_rows:
        lines.append(f"{error_rows:,} row(s) in error: see the {ERRORS_COLUMN} column")
    return lines


MAX_OUTCOMES_SHOWN = 8


def summary_rows(summary: list[DecisionSummary]) -> list[list]:
    """The summary as a table (header first): the 'kade summary' sheet."""
    rows: list[list] = [["decision", "rows over", "rows", "in error", "outcomes"]]
    for s in summary:
        outcomes = (
            f"{s.range[0]:,.6g} … {s.range[1]:,.6g}"
            if s.range
            else ", ".join(f"{value}: {count}" for value, count in s.outcomes)
        )
        rows.append([s.decision, s.entity, s.rows, s.errors, outcomes])
    return rows


def error_rows(evaluation: Evaluation) -> int:
    """Rows (over all evaluated entities) with at least one error."""
    return sum(int((~is_none(row_errors(evaluation, e))).sum()) for e in evaluation.rows if evaluation.for_entity(e))
