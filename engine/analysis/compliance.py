"""Compliance checks (`kade check`): do the decisions people recorded in a
register follow the rules?

A glossary variable with ``records`` set names a register column that records a
decision output: 审批人级别 (signed_approver) records required_approver. Every
row's recorded value is compared with what the rules decide for that row:

* outputs of a priority (P) table are *minimums*: their allowed values are
  ranked, first = highest, and the rules ask for at least that rank. A recorded
  value ranked at or above it is compliant (a more senior approver may sign);
  below it is a violation, severity **error** (an under-authorised contract);
* a recorded column whose glossary ``compare`` says *at most* (the SLA level
  sold) may be at or below the decided rank; above it is a violation, severity
  **warning** (an SLA sold above what the rules allow);
* every other output must be recorded as decided: any other value is a
  violation, severity **warning** (a request designed by another unit, a client
  listed in another tier). ``compare`` can also say *at least* or *equal*
  explicitly;
* an empty recorded cell is a finding of its own, ``missing``; a value that is
  not one of the output's allowed values is ``unrecognised``. Both are
  **warning** for a minimum (nobody can show the contract was authorised) and
  **info** otherwise;
* a row whose decision is in error (an unreadable cell, an unknown client) was
  not checked: it is an *error*, never a finding.

Everything runs on whole columns. Every decision is evaluated, as ``kade
evaluate`` does, but without reasons; reasons are written only for the rows with
a finding or an error: those rows (and the client rows they link to) are
evaluated a second time with reasons, which keeps a million-row check small.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import ERROR, INFO, SEVERITIES, WARNING, RuleStructureError
from engine.evaluation.bind import EntityRows, bind, coerce, variable_column
from engine.evaluation.columns import Column, is_none, to_python
from engine.evaluation.decisions import Evaluation, evaluate
from engine.evaluation.trace import KEEP, NONE
from engine.io.registers import Sheet, read_workbook
from engine.model import RuleSet, Variable
from engine.model.graph import ancestors
from engine.text import format_values

AT_LEAST, AT_MOST, EQUAL = "at least", "at most", "equal"
VIOLATION, MISSING, UNRECOGNISED = "violation", "missing", "unrecognised"
KINDS = (VIOLATION, MISSING, UNRECOGNISED)

FINDING_COLUMNS = [
    "severity",
    "kind",
    "decision",
    "sheet",
    "key",
    "row",
    "column",
    "recorded",
    "required",
    "finding",
    "rule",
    "reason",
]
ERROR_COLUMNS = ["decision", "sheet", "key", "row", "column", "recorded", "error"]

_NULL, _UNKNOWN = -1, -2  # value codes of an empty cell and of a value outside the allowed values
_MATRIX_LIMIT = 40  # distinct values beyond which a column gets no recorded x decided table
_EXTRA_STEPS = 2  # progress calls after the decisions: compare, explain


@dataclass
class ColumnCheck:
    """One recorded column compared with the decision output it records."""

    variable: Variable
    decision: str  # the decision table that produces the output
    output: str
    entity: str | None
    mode: str  # AT_LEAST or EQUAL
    ranks: tuple = ()  # the output's allowed values, first = highest
    sheet: str | None = None
    column: str | None = None  # the header found in the sheet
    rows: int = 0
    compliant: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # finding kind -> rows
    errors: int = 0  # rows not checked: the decision is in error
    skipped: str | None = None  # not checked, and nothing wrong: the workbook has no such sheet
    problem: str | None = None  # not checked because something is wrong (a missing column...)
    matrix: pd.DataFrame | None = None  # recorded value (rows) x decided value (columns) -> rows

    @property
    def findings(self) -> int:
        return sum(self.counts.values())

    @property
    def label(self) -> str:
        """'合同!审批人级别' - where managers find the column."""
        return (
            f"{self.sheet}!{self.column}"
            if self.sheet and self.column
            else (self.variable.headers or (self.variable.name,))[0]
        )

    def to_dict(self) -> dict:
        return {
            "variable": self.variable.name,
            "sheet": self.sheet,
            "column": self.column,
            "decision": self.decision,
            "output": self.output,
            "compared": self.mode,
            "rows": self.rows,
            "compliant": self.compliant,
            **{kind: self.counts.get(kind, 0) for kind in KINDS},
            "errors": self.errors,
            "skipped": self.skipped,
            "problem": self.problem,
        }


@dataclass
class Compliance:
    """What ``check_rows`` found."""

    source: str
    checks: list[ColumnCheck]
    findings: pd.DataFrame  # FINDING_COLUMNS, most severe first
    errors: pd.DataFrame  # ERROR_COLUMNS: rows not checked
    evaluation: Evaluation  # every row, every decision: outputs, rule ids, errors (no reasons); what the audit keeps
    explained: Evaluation  # rows with a finding or an error, and the rows they link to, evaluated again with reasons

    @property
    def problems(self) -> list[str]:
        return [c.problem for c in self.checks if c.problem]

    @property
    def exit_code(self) -> int:
        """0 every recorded value follows the rules; 1 findings, or rows that could not
        be checked (bad cells: listed, as kade evaluate does); 2 a recorded column
        cannot be checked at all."""
        if self.problems:
            return 2
        return 1 if len(self.findings) or len(self.errors) else 0

    def by_severity(self) -> dict[str, int]:
        counts = self.findings["severity"].value_counts()
        return {s: int(counts.get(s, 0)) for s in SEVERITIES}

    def by_kind(self) -> dict[str, int]:
        counts = self.findings["kind"].value_counts()
        return {k: int(counts.get(k, 0)) for k in KINDS}

    def totals(self) -> dict:
        checked = [c for c in self.checks if not (c.skipped or c.problem)]
        return {
            "rows": sum(c.rows for c in checked),
            "compliant": sum(c.compliant for c in checked),
            "findings": len(self.findings),
            "by_severity": self.by_severity(),
            "by_kind": self.by_kind(),
            "errors": len(self.errors),
        }

    def to_dict(self) -> dict:
        """Everything, for --format json: every finding and every error."""
        return {
            "source": self.source,
            "exit_code": self.exit_code,
            "totals": self.totals(),
            "checks": [c.to_dict() for c in self.checks],
            "problems": self.problems,
            "findings": _records(self.findings),
            "errors": _records(self.errors),
        }

    def render_text(self, limit: int = 20) -> str:
        """The per-column counts, the most severe findings, the rows not checked, a total."""
        lines = []
        table = [
            [
                "recorded column",
                "compared with",
                "rows",
                "compliant",
                "violations",
                "missing",
                "unrecognised",
                "in error",
            ]
        ]
        for c in self.checks:
            if c.skipped or c.problem:
                continue
            table.append(
                [
                    c.label,
                    f"{c.output} ({c.mode})",
                    f"{c.rows:,}",
                    f"{c.compliant:,}",
                    *(f"{c.counts.get(k, 0):,}" for k in KINDS),
                    f"{c.errors:,}",
                ]
            )
        if len(table) > 1:
            lines += _aligned(table, right_from=2)
        for c in self.checks:
            if c.skipped:
                lines.append(f"{c.label}: not checked, {c.skipped}")
            if c.problem:
                lines.append(f"{c.label}: not checked: {c.problem}")
        if len(self.findings):
            shown = self.findings.head(limit)
            more = (
                f" ({limit} of {len(self.findings):,} shown; the report and --format json list all)"
                if len(self.findings) > limit
                else ""
            )
            lines += ["", f"findings, most severe first{more}:"]
            rows = [
                [s, f"{sheet} {_key_text(k, r)}", f, f"[{rule}]" if rule else ""]
                for s, sheet, k, r, f, rule in zip(
                    shown["severity"], shown["sheet"], shown["key"], shown["row"], shown["finding"], shown["rule"]
                )
            ]
            lines += ["  " + line for line in _aligned(rows)]
        if len(self.errors):
            shown = self.errors.head(limit)
            more = f" ({limit} of {len(self.errors):,} shown)" if len(self.errors) > limit else ""
            lines += ["", f"rows not checked, their decision is in error{more}:"]
            rows = [
                [f"{sheet} {_key_text(k, r)}", f"{d}: {e}"]
                for sheet, k, r, d, e in zip(
                    shown["sheet"], shown["key"], shown["row"], shown["decision"], shown["error"]
                )
            ]
            lines += ["  " + line for line in _aligned(rows)]
        totals = self.totals()
        severity = ", ".join(f"{n:,} {s}" for s, n in totals["by_severity"].items() if n)
        summary = f"{totals['findings']:,} finding{'s' if totals['findings'] != 1 else ''}" + (
            f" ({severity})" if severity else ""
        )
        summary += f" in {totals['rows']:,} rows"
        if totals["errors"]:
            summary += f"; {totals['errors']:,} not checked (decision in error)"
        if self.problems:
            summary += f"; {len(self.problems)} column{'s' if len(self.problems) != 1 else ''} not checked"
        lines += ["", summary]
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------- the check -------


def recorded_variables(rules: RuleSet) -> list[Variable]:
    """Glossary variables that record a decision output, in glossary order."""
    return [v for v in rules.variables.values() if v.records]


def progress_steps(rules: RuleSet) -> int:
    """How many times ``check_rows`` calls ``progress`` (for a progress bar's length)."""
    return len(rules.decisions) + _EXTRA_STEPS


def check_workbook(rules: RuleSet, path: str | Path, **options) -> Compliance:
    """Read a register and check every recorded column in it."""
    return check_sheets(rules, read_workbook(path), source=str(path), **options)


def check_sheets(rules: RuleSet, sheets: list[Sheet], *, source: str = "", **options) -> Compliance:
    """Check already-read sheets. Raises MissingColumnError when a column some
    decision needs is absent, as ``kade evaluate`` does (a missing *recorded*
    column is reported in the result instead: the other columns are still checked)."""
    return check_rows(rules, bind(rules, sheets, source), source=source, **options)


def check_rows(
    rules: RuleSet,
    rows: dict[str, EntityRows],
    *,
    source: str = "",
    progress: Callable[[str], None] | None = None,
    trace: bool = False,
) -> Compliance:
    """Compare every recorded column of ``rows`` with the decision it records.

    Every decision is evaluated, as ``kade evaluate`` does, so the evaluation
    can be audited like one. ``trace`` adds near misses (for the audit) to the
    rows with a finding or an error and the rows they link to, which are
    evaluated again with reasons.
    ``progress(step)`` is called after each decision and after each later step
    (``progress_steps`` says how often)."""
    recorded = recorded_variables(rules)
    if not recorded:
        raise RuleStructureError(
            "no glossary variable records a decision (the glossary's 'records' column is empty): nothing to check"
        )
    evaluation = evaluate(rules, rows, reasons=False, progress=progress)
    compared = [_compare(evaluation, variable) for variable in recorded]
    _step(progress, "compare")
    wanted: dict[str, list[np.ndarray]] = {}
    for check, found, failed in compared:
        if check.entity in evaluation.rows:
            wanted.setdefault(check.entity, []).extend([found["position"].to_numpy(), failed["position"].to_numpy()])
    explained, subset_position = _explain(evaluation, {e: np.concatenate(p) for e, p in wanted.items()}, source, trace)
    if trace:
        _copy_near_misses(explained, evaluation, subset_position)
    findings = _with_reasons([found for _, found, _ in compared], explained, subset_position)
    errors = pd.concat([failed for _, _, failed in compared], ignore_index=True)[ERROR_COLUMNS]
    _step(progress, "explain")
    return Compliance(source, [check for check, _, _ in compared], findings, errors, evaluation, explained)


def _step(progress, name: str):
    if progress is not None:
        progress(name)


def _compare(evaluation: Evaluation, variable: Variable) -> tuple[ColumnCheck, pd.DataFrame, pd.DataFrame]:
    """One recorded column against its decision: the check's counts, the finding
    rows (without the decision's reason yet) and the rows not checked."""
    rules = evaluation.rules
    assert variable.records is not None and variable.entity is not None  # recorded_variables() picks these
    table = rules.producer(variable.records)
    if table is None:  # one rule workbook loaded on its own: the decision is in another one
        check = ColumnCheck(variable, "", variable.records, variable.entity, EQUAL)
        check.skipped = f"no decision in these rules outputs {variable.records}"
        return check, _empty_findings(), _empty_errors()
    clause = next(c for c in table.outputs if c.name == variable.records)
    ranks = tuple(clause.allowed_values)
    mode = variable.compare or (AT_LEAST if table.hit_policy == "P" and ranks else EQUAL)
    if mode != EQUAL and not ranks:
        mode = EQUAL  # ranks come from the output's allowed values
    check = ColumnCheck(variable, table.name, clause.name, variable.entity, mode, ranks)
    if variable.entity != table.entity:
        check.problem = f"{variable.name} is a {variable.entity} column but {table.name} decides {table.entity} rows"
    elif table.name not in evaluation.results:
        check.skipped = evaluation.skipped.get(table.name, "the decision did not run")
    elif evaluation.results[table.name].outputs[clause.name].type == "list":
        check.problem = f"{clause.name} is a list (hit policy {table.hit_policy}); kade check compares single values"
    else:
        rows = evaluation.rows[variable.entity]
        check.sheet, check.column = rows.sheet, variable_column(variable, rows.frame.columns)
        if check.column is None:
            shown = " / ".join(variable.headers or (variable.name,))
            check.problem = f"sheet {rows.sheet!r} has no column {shown} (it records {variable.records})"
    if check.skipped or check.problem:
        return check, _empty_findings(), _empty_errors()
    return _judge(check, evaluation.rows[variable.entity], evaluation.results[table.name])


def _judge(check: ColumnCheck, rows: EntityRows, result) -> tuple[ColumnCheck, pd.DataFrame, pd.DataFrame]:
    """Every row of one recorded column at once: codes, then masks, then the
    finding and error rows."""
    raw = rows.frame[check.column].to_numpy(dtype=object)
    recorded, unreadable = coerce(raw, check.variable)
    required = result.outputs[check.output]
    recorded_code, required_code, vocabulary = _codes(_python(recorded), _python(required), check.ranks)
    decided = result.ok
    bad_cell = np.zeros(len(decided), bool) if unreadable is None else ~is_none(unreadable)
    missing = decided & (recorded_code == _NULL) & ~bad_cell
    unrecognised = decided & ((recorded_code == _UNKNOWN) | bad_cell)
    comparable = decided & (recorded_code >= 0)
    if check.mode == AT_LEAST:  # rank 0 is the highest: a larger code is a lower rank
        violation = comparable & (required_code >= 0) & (recorded_code > required_code)
    elif check.mode == AT_MOST:
        violation = comparable & (required_code >= 0) & (recorded_code < required_code)
    else:
        violation = comparable & (recorded_code != required_code)

    check.rows = len(decided)
    check.errors = int((~decided).sum())
    check.counts = {VIOLATION: int(violation.sum()), MISSING: int(missing.sum()), UNRECOGNISED: int(unrecognised.sum())}
    check.compliant = int(decided.sum()) - check.findings
    check.matrix = _matrix(recorded_code[decided], required_code[decided], vocabulary)

    keys = rows.keys if rows.keys is not None else np.full(len(decided), None, dtype=object)
    found = np.flatnonzero(violation | missing | unrecognised)
    kind = np.where(violation[found], VIOLATION, np.where(missing[found], MISSING, UNRECOGNISED)).astype(object)
    if check.mode == AT_LEAST:
        severity = np.where(kind == VIOLATION, ERROR, WARNING).astype(object)
    else:
        severity = np.where(kind == VIOLATION, WARNING, INFO).astype(object)
    recorded_text = _shown(check.variable.type, recorded.values[found], raw[found])
    required_text = format_values(required.type, required.values[found])
    assert check.column is not None  # _compare() judges only columns it found
    what = _finding_text(
        kind,
        check.mode,
        check.column,
        np.where(is_none(recorded_text), "", recorded_text),
        required_text,
        check.ranks,
        None if unreadable is None else unreadable[found],
    )
    findings = pd.DataFrame(
        {
            "severity": severity,
            "kind": kind,
            "decision": check.decision,
            "sheet": rows.sheet,
            "key": keys[found],
            "row": found + 2,
            "column": check.column,
            "recorded": recorded_text,
            "required": required_text,
            "finding": what,
            "rule": result.rules[found],
            "entity": check.entity,
            "position": found,
        }
    )
    failed = np.flatnonzero(~decided)
    errors = pd.DataFrame(
        {
            "decision": check.decision,
            "sheet": rows.sheet,
            "key": keys[failed],
            "row": failed + 2,
            "column": check.column,
            "recorded": _shown(check.variable.type, recorded.values[failed], raw[failed]),
            "error": result.errors[failed],
            "entity": check.entity,
            "position": failed,
        }
    )
    return check, findings, errors


def _python(column: Column) -> np.ndarray:
    return to_python(column.type, column.values) if column.is_float else column.values


def _fold(value):
    """Recorded text matches an allowed value whatever its case or width (Ｂ, b → B)."""
    return unicodedata.normalize("NFKC", value).strip().casefold() if isinstance(value, str) else value


def _codes(recorded: np.ndarray, required: np.ndarray, ranks: tuple) -> tuple[np.ndarray, np.ndarray, list]:
    """Both columns as integer codes over one vocabulary, _NULL for empty.
    With ranked allowed values the code is the rank (0 = highest) and a recorded
    value outside them is _UNKNOWN; otherwise codes number the distinct values.
    Only distinct values are looked at in Python, never rows."""
    if ranks:
        lookup = {_fold(v): i for i, v in enumerate(ranks)}
        return _lookup(recorded, lookup), _lookup(required, lookup), list(ranks)
    codes, uniques = pd.factorize(pd.Series(np.concatenate([recorded, required]), dtype=object), use_na_sentinel=True)
    return codes[: len(recorded)], codes[len(recorded) :], list(uniques)


def _lookup(values: np.ndarray, lookup: dict) -> np.ndarray:
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    per_unique = np.array([lookup.get(_fold(u), _UNKNOWN) for u in uniques] + [_NULL], dtype=np.int64)
    return per_unique[codes]  # code -1 (empty) picks the last entry


def _matrix(recorded: np.ndarray, required: np.ndarray, vocabulary: list) -> pd.DataFrame | None:
    """Rows per (recorded value, decided value) - one bincount, no row loop.
    Recorded rows add '(empty)' and '(other)' for values outside the vocabulary."""
    width = len(vocabulary)
    if width == 0 or width > _MATRIX_LIMIT:
        return None
    row = np.where(recorded >= 0, recorded, np.where(recorded == _NULL, width, width + 1))
    column = np.where(required >= 0, required, width)
    counts = np.bincount(row * (width + 1) + column, minlength=(width + 2) * (width + 1)).reshape(width + 2, width + 1)
    labels = [_label(v) for v in vocabulary]
    matrix = pd.DataFrame(counts, index=labels + ["(empty)", "(other)"], columns=labels + ["(empty)"])
    keep_rows = [i < width or counts[i].any() for i in range(width + 2)]
    keep_columns = [j < width or counts[:, j].any() for j in range(width + 1)]
    return matrix.loc[keep_rows, keep_columns]


def _label(value) -> str:
    return format_values(None, np.array([value], dtype=object))[0]


def _shown(type_: str | None, values: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Recorded values as text, None for an empty cell; a cell that could not be
    read shows what was typed."""
    shown = format_values(type_, values).astype(object)
    empty = pd.isna(pd.Series(values, dtype=object)).to_numpy()
    typed = empty & ~pd.isna(pd.Series(raw, dtype=object)).to_numpy()
    shown[empty] = None
    if typed.any():
        shown[typed] = pd.Series(raw[typed], dtype=object).map(str).to_numpy(dtype=object)
    return shown


def _finding_text(
    kind: np.ndarray,
    mode: str,
    header: str,
    recorded: np.ndarray,
    required: np.ndarray,
    ranks: tuple,
    unreadable: np.ndarray | None,
) -> np.ndarray:
    """What is wrong, in words: '审批人级别 bu_manager is below the required bg_gm'."""
    if len(kind) == 0:
        return np.empty(0, dtype=object)
    rules_say = {AT_LEAST: "; the rules require at least ", AT_MOST: "; the rules allow at most "}.get(
        mode, "; the rules decide "
    )
    if mode == AT_LEAST:
        wrong = f"{header} " + recorded + " is below the required " + required
    elif mode == AT_MOST:
        wrong = f"{header} " + recorded + " is above the allowed " + required
    else:
        wrong = f"{header} " + recorded + ", the rules decide " + required
    empty = f"{header} is empty" + rules_say + required
    allowed = ", ".join(_label(v) for v in ranks)
    unknown = f"{header} " + recorded + f" is not one of {allowed}"
    if unreadable is not None:  # a cell of the wrong type says so in coerce's words
        unknown = np.where(is_none(unreadable), unknown, unreadable)
    unknown = unknown + rules_say + required
    return np.where(kind == VIOLATION, wrong, np.where(kind == MISSING, empty, unknown)).astype(object)


def _empty_findings() -> pd.DataFrame:
    return pd.DataFrame(columns=[c for c in FINDING_COLUMNS if c != "reason"] + ["entity", "position"])


def _empty_errors() -> pd.DataFrame:
    return pd.DataFrame(columns=ERROR_COLUMNS + ["entity", "position"])


# ------------------------------------------------------------- reasons ---------


def _explain(evaluation: Evaluation, wanted: dict[str, np.ndarray], source: str, trace: bool):
    """Evaluate again, with reasons (and near misses if ``trace``), just the rows
    in ``wanted`` plus the rows they link to (a contract's client). Returns
    that evaluation and, per entity, each original row's position in it (-1
    when left out). Every sheet is kept, empty if no row of it is wanted, so
    the evaluation has the same shape as the full one."""
    rules, rows = evaluation.rules, evaluation.rows
    keep = {entity: np.zeros(len(r), bool) for entity, r in rows.items()}
    for entity, positions in wanted.items():
        keep[entity][positions.astype(np.int64)] = True
    deepest_first = sorted(rows, key=lambda e: len(ancestors(e, rules.entities)), reverse=True)
    for entity in deepest_first:
        _keep_first_of_each_key(rows[entity], keep[entity])
        parent = rules.entities[entity].parent if entity in rules.entities else None
        linked = rows[entity].parent_index
        if parent in keep and linked is not None:
            targets = linked[keep[entity]]
            keep[parent][targets[targets >= 0]] = True
    for entity in rows:  # a parent kept for its children may repeat a key too
        _keep_first_of_each_key(rows[entity], keep[entity])
    sheets = [Sheet(rows[e].sheet, rows[e].frame.iloc[np.flatnonzero(keep[e])]) for e in rows]
    explained = evaluate(rules, bind(rules, sheets, source), reasons=True, trace=trace)
    position = {e: np.where(keep[e], np.cumsum(keep[e]) - 1, -1) for e in rows}
    return explained, position


def _copy_near_misses(explained: Evaluation, evaluation: Evaluation, subset_position: dict[str, np.ndarray]):
    """Give the full evaluation the explained rows' near misses (None elsewhere),
    so its audit record keeps them where they matter."""
    for name, result in evaluation.results.items():
        assert result.decision.entity is not None  # only tables over an entity are evaluated
        position = subset_position[result.decision.entity]
        misses = np.full((KEEP, len(position)), NONE, dtype=np.int16)
        kept = position >= 0
        near = explained.results[name].near_misses if name in explained.results else None
        if near is not None:
            misses[:, kept] = near[:, position[kept]]
        result.near_misses = misses


def _keep_first_of_each_key(rows: EntityRows, keep: np.ndarray):
    """A repeated key is a row error on its later rows only while the first row
    is there too: keep it so the explained rows are judged as in the full run."""
    if rows.keys is None or not keep.any():
        return
    keys = pd.Series(rows.keys, dtype=object)
    first = np.flatnonzero((~keys.duplicated()).to_numpy())
    wanted = keys[keep & keys.notna().to_numpy()]
    at = pd.Index(keys.iloc[first]).get_indexer(wanted)
    keep[first[at[at >= 0]]] = True


def _with_reasons(
    parts: list[pd.DataFrame], explained: Evaluation, subset_position: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Join each finding with the reason its decision gave (from the explained
    rows) and order them: severity, then glossary order, then sheet row."""
    frames: list[pd.DataFrame] = []
    for part in parts:
        if not len(part):
            continue
        part = part.copy()
        entity, decision = part["entity"].iloc[0], part["decision"].iloc[0]
        at = subset_position[entity][part["position"].to_numpy(dtype=np.int64)]
        part["reason"] = explained.results[decision].reasons[at]
        part["order"] = len(frames)
        frames.append(part)
    if not frames:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    findings = pd.concat(frames, ignore_index=True)
    findings["rank"] = findings["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
    findings = findings.sort_values(["rank", "order", "row"], kind="stable")
    return findings[FINDING_COLUMNS].reset_index(drop=True)


# ------------------------------------------------------------- text ------------


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain JSON-able dicts (numpy integers become ints)."""
    out = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()} for row in out.to_dict("records")
    ]


def _key_text(key, row) -> str:
    return f"{key} (row {row})" if key is not None else f"row {row}"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _aligned(table: list[list[str]], right_from: int | None = None) -> list[str]:
    """Columns padded to their widest cell (CJK characters count double); the
    last column is never padded."""
    widths = [max(_width(str(row[c])) for row in table) for c in range(len(table[0]))]
    lines = []
    for row in table:
        cells = []
        for c, cell in enumerate(row):
            text = str(cell)
            pad = " " * (widths[c] - _width(text))
            if c == len(row) - 1 and (right_from is None or c < right_from):
                cells.append(text)
            else:
                cells.append(pad + text if right_from is not None and c >= right_from else text + pad)
        lines.append("  ".join(cells).rstrip())
    return lines
