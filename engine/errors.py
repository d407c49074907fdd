"""Typed errors. Every error that comes from a user's file carries where it happened.

Two families: *load* errors stop a run (bad rules, unreadable workbook, missing
column); *row* errors never raise - they are recorded per row in the result.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """Where a problem is: file, sheet, cell (any may be unknown), plus the column
    offset inside the cell text for syntax errors."""

    file: str | None = None
    sheet: str | None = None
    cell: str | None = None
    offset: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.sheet:
            parts.append(self.sheet)
        if self.cell:
            parts.append(self.cell)
        return "!".join(parts)

    def at(self, **changes) -> Position:
        values = {**self.__dict__, **changes}
        return Position(**values)


# How serious a finding is - in `kade rules check`, `kade check` and their reports.
ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)  # most serious first


class KadeError(Exception):
    """Base of every error kade raises on purpose."""

    def __init__(self, message: str, position: Position | None = None):
        self.message = message
        self.position = position or Position()
        super().__init__(str(self))

    def __str__(self) -> str:
        where = str(self.position)
        return f"{where}: {self.message}" if where else self.message


class RuleError(KadeError):
    """Anything wrong in the rule tables: exit code 2."""


class FeelSyntaxError(RuleError):
    """A cell whose text is not valid S-FEEL."""


class FeelValueError(FeelSyntaxError):
    """A literal whose text is no value of its type: ``date("2017-13-10")``."""


class FeelTypeError(RuleError):
    """A cell that parses but does not fit the variable's declared type."""


class RuleStructureError(RuleError):
    """A sheet whose layout is not a decision table / glossary we understand."""


class DecisionCycleError(RuleError):
    """Decisions that depend on each other in a loop."""


class EvaluatorError(KadeError):
    """The chosen evaluator cannot evaluate one decision table (a limit of durable-rules, its
    worker failing): that decision is reported as not evaluated, the other decisions still run."""


class DataError(KadeError):
    """A data workbook that cannot be used at all (unreadable, missing column): exit 2."""


class OutputError(KadeError):
    """A result that cannot be written where asked (it would overwrite the input,
    the folder cannot be written): exit 2, nothing written."""


class UsageError(KadeError):
    """An option that names something that is not there (a decision, a row key):
    exit 2, with the closest names as suggestions."""


class MissingColumnError(DataError):
    """A column that some decision needs is not in the sheet."""


class RuleErrors(RuleError):
    """Several rule errors found in one load: a manager fixes them all in one go."""

    def __init__(self, errors: list[RuleError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))

    def __str__(self) -> str:
        count = len(self.errors)
        head = f"{count} problem{'s' if count != 1 else ''} in the rule tables:"
        return head + "\n" + "\n".join(f"  {e}" for e in self.errors)


class ErrorCollector:
    """The problems found while loading rules (a rule workbook or a DMN model),
    collected instead of stopping at the first: a manager fixes them all in one go."""

    def __init__(self):
        self.errors: list[RuleError] = []

    def add(self, error: RuleError):
        self.errors.append(error)

    def __len__(self) -> int:
        return len(self.errors)

    def raise_if_any(self):
        """The one error, or all of them as ``RuleErrors``; nothing when there is none."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise RuleErrors(self.errors)
