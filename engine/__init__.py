"""kade's library API: load rules, evaluate rows, get decisions with their reasons.

    import engine
    rules = engine.load_rules("rules")
    evaluation = engine.evaluate_workbook(rules, "workbooks/key_accounts.xlsx")
    frame = engine.result_frame(evaluation, "clients")

    # or on a DataFrame you already have (headers as in the sheet, or variable names):
    out = engine.evaluate_frame(rules, clients_df, entity="clients")

Every user-level job (evaluate to a file / in place / a button's workbook,
check a register, explain a row, export an audited run) is a function of
``engine.pipeline``; the parts are subpackages - ``feel`` (the cell language),
``model`` (rule workbooks), ``evaluation``, ``io``, ``analysis`` (rules check,
tests, diff, compliance), ``audit``, ``dmn``, ``excel`` (the buttons). See
docs/architecture.md.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.errors import (
    DataError,
    DecisionCycleError,
    EvaluatorError,
    FeelSyntaxError,
    FeelTypeError,
    KadeError,
    MissingColumnError,
    Position,
    RuleError,
    RuleErrors,
    RuleStructureError,
)
from engine.evaluation.bind import bind
from engine.evaluation.decisions import DecisionResult, Evaluation, evaluate, evaluate_table
from engine.evaluation.results import result_frame, summarize
from engine.io.registers import Sheet, read_workbook
from engine.model import DecisionTable, RuleSet
from engine.model.rulebook import load_rules
from engine.version import __version__

__all__ = [
    "__version__",
    "load_rules",
    "read_workbook",
    "evaluate_workbook",
    "evaluate_sheets",
    "evaluate_frame",
    "evaluate",
    "evaluate_table",
    "result_frame",
    "summarize",
    "Evaluation",
    "DecisionResult",
    "DecisionTable",
    "RuleSet",
    "Sheet",
    "KadeError",
    "RuleError",
    "RuleErrors",
    "RuleStructureError",
    "FeelSyntaxError",
    "FeelTypeError",
    "DecisionCycleError",
    "EvaluatorError",
    "DataError",
    "MissingColumnError",
    "Position",
]


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
        return Sheet(
            rules.entities[name].sheets[0] if name in rules.entities else name,
            df.astype(object).where(df.notna(), None),
        )

    sheets = [sheet(entity, frame)] + [sheet(name, df) for name, df in (parents or {}).items()]
    evaluation = evaluate_sheets(rules, sheets, strict=strict, reasons=reasons)
    return result_frame(evaluation, entity)
