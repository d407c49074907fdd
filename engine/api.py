"""The library API's evaluation entry points (re-exported by ``engine``):
a workbook file, sheets already read, or a DataFrame you already have."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.evaluation.bind import bind
from engine.evaluation.decisions import Evaluation, evaluate
from engine.evaluation.results import result_frame
from engine.io.registers import Sheet, read_workbook
from engine.model import RuleSet


def evaluate_sheets(rules: RuleSet, sheets: list[Sheet], *, source: str = "", **options) -> Evaluation:
    """Evaluate already-read sheets (what a front end that is not a file has).
    Options are those of ``engine.evaluate``: strict, reasons, engine, trace, progress."""
    rows = bind(rules, sheets, source)
    return evaluate(rules, rows, **options)


def evaluate_workbook(rules: RuleSet, path: str | Path, **options) -> Evaluation:
    """Read a data workbook and evaluate every decision on it."""
    return evaluate_sheets(rules, read_workbook(path), source=str(path), **options)


def evaluate_frame(
    rules: RuleSet,
    frame: pd.DataFrame,
    entity: str,
    *,
    parents: dict[str, pd.DataFrame] | None = None,
    strict: bool = True,
    reasons: bool = True,
) -> pd.DataFrame:
    """Evaluate the decisions over ``entity`` on a DataFrame; returns the frame with
    the decision columns added. ``parents`` supplies parent entities' rows
    (e.g. ``{"clients": clients_df}`` when evaluating contracts)."""

    def sheet(name: str, df: pd.DataFrame) -> Sheet:
        # typed columns are bound as they are (no conversion to objects and back)
        return Sheet(rules.entities[name].sheets[0] if name in rules.entities else name, df)

    sheets = [sheet(entity, frame)] + [sheet(name, df) for name, df in (parents or {}).items()]
    evaluation = evaluate_sheets(rules, sheets, strict=strict, reasons=reasons)
    return result_frame(evaluation, entity)
