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

import importlib
from typing import TYPE_CHECKING

from engine import memory
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
from engine.version import __version__

memory.configure()  # before numpy and pyarrow load (nothing above loads them): they read their settings then

if TYPE_CHECKING:
    from engine.api import evaluate_frame, evaluate_sheets, evaluate_workbook
    from engine.evaluation.bind import bind as bind  # not in __all__, used by benchmarks
    from engine.evaluation.decisions import DecisionResult, Evaluation, evaluate, evaluate_table
    from engine.evaluation.results import result_frame, summarize
    from engine.io.registers import Sheet, read_workbook
    from engine.model import DecisionTable, RuleSet
    from engine.model.rulebook import load_rules

# The API's functions and classes are imported on first use, so a process that
# needs little (`kade --help`, a button's small job) does not pay for pandas,
# pyarrow and the whole engine at start-up.
_LAZY = {
    "load_rules": "engine.model.rulebook",
    "read_workbook": "engine.io.registers",
    "Sheet": "engine.io.registers",
    "bind": "engine.evaluation.bind",
    "evaluate": "engine.evaluation.decisions",
    "evaluate_table": "engine.evaluation.decisions",
    "Evaluation": "engine.evaluation.decisions",
    "DecisionResult": "engine.evaluation.decisions",
    "result_frame": "engine.evaluation.results",
    "summarize": "engine.evaluation.results",
    "DecisionTable": "engine.model",
    "RuleSet": "engine.model",
    "evaluate_sheets": "engine.api",
    "evaluate_workbook": "engine.api",
    "evaluate_frame": "engine.api",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
