"""Test sheets: example rows kept in a rule workbook beside its tables, with the
answers they must get. ``run_tests`` decides them with one or more evaluators,
compares, and says which rules no example reaches.

Layout (docs/publishing.md has the manager's version): a sheet named ``Tests``
(or ``测试``), the header in row 1, one case per row below it.

    case     | industry | annual_revenue | client_score | expected client_tier | expected rule | note
    银联      | 金融      | 2560           | 600          | platinum             | CT-03         | ...

- **Input columns** name a glossary variable (its name, label or register
  header such as ``年收入(百万元)``) or a decision output. Cells are read like
  register cells (``是``/``否``, ``1,200``, ``2026-01-31``); quotes around text
  are optional; an empty cell (or ``null``) is an empty value. A decision output
  given a value (``client_score`` above) is taken as given; left empty, kade
  computes it from the row's other values.
- ``expected <output>`` (``期望 <output>``): the value the case must get. Empty:
  not checked; ``null``: must be empty. For collect tables (C, R, O) a comma
  list (``group_ka_manager, technical_support_manager``).
- ``expected rule`` (``期望规则``): the rule id that must decide (``CT-03``,
  ``default``; for collect tables every id that must fire). When a sheet checks
  several decisions, ``expected <decision>.rule`` says which.
- optional ``decision`` (``决策``): the decision(s) a case checks; otherwise
  those whose expected cells the case fills. Optional ``case`` / ``row``
  (``用例``): the case's name in reports. ``note`` / ``说明`` columns are ignored.

Evaluators are pluggable: ``engines`` maps a name to a callable with the
signature of ``engine.evaluate_table`` (``(table, env, n, *, blocked,
variables) -> DecisionResult``); ``"vectorized"`` is built in and
``register_engine`` adds others.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from engine import feel
from engine.errors import Position
from engine.evaluation.aggregates import constant_column
from engine.evaluation.bind import coerce
from engine.evaluation.columns import NULL, Column, to_python
from engine.evaluation.decisions import DecisionResult, _first_message, evaluate_table
from engine.model import DecisionTable, RuleSet, Variable
from engine.model.graph import referenced_names
from engine.model.rulebook import _display_path, cell_text, load_rules, rule_files
from engine.text import format_value, json_value

TEST_SHEETS = {"tests", "测试"}
CASE_COLUMNS = {"case", "row", "用例", "案例"}
DECISION_COLUMNS = {"decision", "决策"}
NOTE_COLUMNS = {"note", "notes", "comment", "说明", "备注"}
EXPECTED_PREFIXES = ("expected ", "期望 ", "预期 ", "期望", "预期")
RULE_WORDS = {"rule", "规则"}
LIST_POLICIES = ("C", "R", "O")

TableEngine = Callable[..., DecisionResult]


def _durable(table, env, n, **options):
    """durable-rules matches the rows; everything else is shared (engine/durable.py)."""
    from engine.evaluation.decisions import matcher_for

    return evaluate_table(table, env, n, matcher=matcher_for("durable"), **options)


ENGINES: dict[str, TableEngine] = {"vectorized": evaluate_table, "durable": _durable}


def register_engine(name: str, evaluate: TableEngine):
    """Make another evaluator available to ``run_tests(engines=...)``. It is
    called like ``engine.evaluate_table(table, env, n, blocked=..., variables=...)``."""
    ENGINES[name] = evaluate


def resolve_engines(engines: Iterable[str] | Mapping[str, TableEngine] | str) -> dict[str, TableEngine]:
    """Names (``"all"`` = every registered engine) or a name -> callable mapping."""
    if isinstance(engines, Mapping):
        return dict(engines)
    names = [engines] if isinstance(engines, str) else list(engines)
    from engine.evaluation.durable import availability

    why = availability()
    if "all" in names:  # every engine that works here
        return {n: f for n, f in ENGINES.items() if n != "durable" or why is None}
    unknown = [n for n in names if n not in ENGINES]
    if unknown:
        raise ValueError(f"engine {', '.join(unknown)} is not available (available: {', '.join(ENGINES)})")
    if "durable" in names and why:
        raise ValueError(f"engine durable is not available: {why}")
    return {n: ENGINES[n] for n in names}


# ------------------------------------------------------------- results ---------


@dataclass(frozen=True)
class Check:
    """One expected cell compared with what the engine decided."""

    decision: str
    what: str  # an output name, or "rule"
    expected: object
    actual: object
    passed: bool
    reason: str | None = None  # the engine's reason for its answer
    error: str | None = None  # why the engine could not decide the row


@dataclass(frozen=True)
class SheetCaseResult:
    """One test row run by one engine."""

    file: str
    sheet: str
    row: int  # the Excel row number
    case: str
    engine: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def where(self) -> str:
        return f"{self.file}!{self.sheet}!A{self.row}"

    def to_dict(self) -> dict:
        return {
            "where": self.where,
            "case": self.case,
            "engine": self.engine,
            "passed": self.passed,
            "checks": [
                {
                    "decision": c.decision,
                    "what": c.what,
                    "expected": json_value(c.expected),
                    "actual": json_value(c.actual),
                    "passed": c.passed,
                    "reason": c.reason,
                    "error": c.error,
                }
                for c in self.checks
            ],
        }


@dataclass
class TestRun:
    results: list[SheetCaseResult]
    problems: list[str] = field(default_factory=list)  # cells of test sheets kade could not use
    uncovered: dict[str, list[str]] = field(default_factory=dict)  # decision -> rule ids (or "default") no case hits
    sheets: list[str] = field(default_factory=list)  # test sheets read (file!sheet)
    engines: list[str] = field(default_factory=list)

    __test__ = False  # not a pytest class

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def exit_code(self) -> int:
        """0 every case passed, 1 a case failed or a test sheet has problems."""
        return 1 if self.failed or self.problems else 0

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "engines": self.engines,
            "sheets": self.sheets,
            "problems": self.problems,
            "uncovered": self.uncovered,
            "results": [r.to_dict() for r in self.results],
        }

    def render_text(self, coverage: bool = False) -> str:
        return render_run(self, coverage)


# ------------------------------------------------------------- running ---------


def run_tests(
    source: str | Path | RuleSet, *, engines: Iterable[str] | Mapping[str, TableEngine] = ("vectorized",)
) -> TestRun:
    """Run the Tests sheets of a rules folder, one rule workbook, or the
    workbooks a loaded RuleSet came from. Raises RuleError if the rules do not load."""
    chosen = resolve_engines(engines)
    if isinstance(source, RuleSet):
        rules, files = source, [Path(s) for s in source.sources]
    else:
        rules, files = load_rules(source), rule_files(Path(source))
    run = TestRun([], engines=list(chosen))
    covered: dict[str, set[str]] = {}
    for file in files:
        sheet = _read_test_sheet(file, rules, run.problems)
        if sheet is None:
            continue
        run.sheets.append(f"{sheet.file}!{sheet.name}")
        for name, evaluate in chosen.items():
            results, hits = _run_sheet(sheet, rules, name, evaluate)
            run.results += results
            for decision, ids in hits.items():
                covered.setdefault(decision, set()).update(ids)
    tested_files = {str(f) for f in files} | {_display_path(f) for f in files}
    for table in rules.decisions:
        if table.position.file is not None and table.position.file not in tested_files:
            continue
        ids = [r.id for r in table.rules] + (["default"] if table.has_default else [])
        missing = [i for i in ids if i not in covered.get(table.name, set())]
        if missing:
            run.uncovered[table.name] = missing
    return run


@dataclass
class _TestSheet:
    """A Tests sheet read and resolved against the rules."""

    file: str
    name: str
    rows: list[int]  # Excel row number of each case
    names: list[str]  # case names
    inputs: dict[str, list]  # variable or output name -> raw cell per case
    expected: dict[str, dict[str, list]]  # decision -> (output name | "rule") -> raw cell per case
    decision_filter: list[set[str] | None]  # per case: decisions named in the `decision` column


def _read_test_sheet(file: Path, rules: RuleSet, problems: list[str]) -> _TestSheet | None:
    book = load_workbook(io.BytesIO(file.read_bytes()), read_only=True, data_only=True)
    try:
        ws = next((w for w in book.worksheets if w.title.strip().lower() in TEST_SHEETS), None)
        if ws is None:
            return None
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
        title = ws.title
    finally:
        book.close()
    if not grid:
        return None
    shown = _display_path(file)

    def where(row: int, col: int) -> str:
        return str(Position(shown, title, f"{get_column_letter(col + 1)}{row + 1}"))

    body = [(r, row) for r, row in enumerate(grid[1:], start=1) if any(cell_text(v) for v in row)]
    columns = _column_roles([cell_text(v) for v in grid[0]], rules, lambda c: where(0, c), problems)
    n = len(body)
    sheet = _TestSheet(shown, title, [r + 1 for r, _ in body], [], {}, {}, [])
    cells = lambda c: [row[c] if c < len(row) else None for _, row in body]
    for c, (role, detail) in enumerate(columns):
        if role == "expected" and detail[0] is not None:
            sheet.expected.setdefault(detail[0], {})[detail[1]] = cells(c)
    decisions = {t.name for t in rules.decisions}
    case_cols = [c for c, (role, _) in enumerate(columns) if role == "case"]
    decision_cols = [c for c, (role, _) in enumerate(columns) if role == "decision"]
    for r, row in body:
        names = [cell_text(row[c]) for c in case_cols if c < len(row) and cell_text(row[c])]
        sheet.names.append(names[0] if names else f"row {r + 1}")
        wanted = None
        for c in decision_cols:
            text = cell_text(row[c]) if c < len(row) else ""
            if text:
                wanted = {d.strip() for d in feel.normalize(text).split(",") if d.strip()}
                if wanted - decisions:
                    problems.append(f"{where(r, c)}: no decision called {', '.join(sorted(wanted - decisions))}")
        sheet.decision_filter.append(wanted)
    for c, (role, detail) in enumerate(columns):
        if role == "input":
            sheet.inputs[detail] = cells(c)
        elif role == "expected" and detail[0] is None:
            _place_plain_rule_column(sheet, cells(c), n, lambda i, c=c: where(body[i][0], c), problems)
    for i, (r, _) in enumerate(body):
        if not any(_filled(v[i]) for per in sheet.expected.values() for v in per.values()):
            problems.append(f"{where(r, 0)}: case {sheet.names[i]} checks nothing: fill an 'expected …' cell")
    return sheet


def _column_roles(header: list[str], rules: RuleSet, where, problems: list[str]) -> list[tuple[str, Any]]:
    """Per column: ('case' | 'decision' | 'ignore', None), ('expected', (decision, output or 'rule'))
    or ('input', variable name). Expected columns are read first: the decisions
    they check settle which variable a register header means."""
    outputs = {o.name: t for t in rules.decisions for o in t.outputs}
    names = _names_by_header(rules)
    roles: list = []
    for c, text in enumerate(header):
        key = text.strip().lower()
        expected = next((text.strip()[len(p) :].strip() for p in EXPECTED_PREFIXES if key.startswith(p.lower())), None)
        if not text or key in NOTE_COLUMNS:
            roles.append(("ignore", None))
        elif key in CASE_COLUMNS:
            roles.append(("case", None))
        elif key in DECISION_COLUMNS:
            roles.append(("decision", None))
        elif expected is not None:
            target = _expected_target(expected, names, outputs, rules)
            if isinstance(target, str):
                problems.append(f"{where(c)}: {target}")
            roles.append(("expected", target) if not isinstance(target, str) else ("ignore", None))
        else:
            roles.append(("input?", text))
    checked = {d[0] for role, d in roles if role == "expected" and d[0] is not None} or {
        t.name for t in rules.decisions
    }
    involved = _upstream(checked, rules)
    used = {name for t in rules.decisions if t.name in involved for name in referenced_names(t)}
    for c, (role, text) in enumerate(roles):
        if role != "input?":
            continue
        candidates = names.get(text) or names.get(text.strip().lower()) or []
        if len(candidates) > 1:  # the same register header in two entities: take the one the checked decisions use
            candidates = [n for n in candidates if n in used] or candidates
        if not candidates:
            problems.append(
                f"{where(c)}: column {text!r} is not a glossary variable, a decision output, "
                f"'expected <output>', 'expected rule', 'case', 'decision' or 'note'"
            )
            roles[c] = ("ignore", None)
        elif len(candidates) > 1:
            problems.append(
                f"{where(c)}: column {text!r} could be {' or '.join(candidates)}; write the variable name instead"
            )
            roles[c] = ("ignore", None)
        else:
            roles[c] = ("input", candidates[0])
    return roles


def _names_by_header(rules: RuleSet) -> dict[str, list[str]]:
    """Every way a column may name a variable (name, label, register headers, in
    any case) -> the variables it may mean; a variable's own name wins outright."""
    by_header: dict[str, list[str]] = {}
    for var in rules.variables.values():
        for alias in (var.label, *var.headers):
            for key in {alias, alias.lower()} if alias else ():
                if var.name not in by_header.setdefault(key, []):
                    by_header[key].append(var.name)
    exact = [v.name for v in rules.variables.values()] + [o.name for t in rules.decisions for o in t.outputs]
    for name in exact:
        by_header[name] = [name]
        by_header.setdefault(name.lower(), [name])
    return by_header


def _upstream(decisions: set[str], rules: RuleSet) -> set[str]:
    """The decisions whose outputs the given ones use, transitively."""
    found = set(decisions)
    for table in reversed(rules.decisions):  # dependencies come first in the list
        if table.name in found:
            producers = (rules.producer(x) for x in referenced_names(table))
            found |= {p.name for p in producers if p is not None}
    return found


def _place_plain_rule_column(sheet: _TestSheet, values: list, n: int, where, problems: list[str]):
    """'expected rule' belongs to the decision each case checks: the one named in
    its decision column, else the one whose expected cells it fills."""
    for i, value in enumerate(values):
        if not _filled(value):
            continue
        checks = sheet.decision_filter[i] or {
            d for d, per in sheet.expected.items() if any(_filled(v[i]) for w, v in per.items() if w != "rule")
        }
        if len(checks) != 1:
            problems.append(
                f"{where(i)}: case {sheet.names[i]} checks {len(checks)} decisions; "
                f"say whose rule in a 'decision' column or with 'expected <decision>.rule'"
            )
            continue
        decision = next(iter(checks))
        sheet.expected.setdefault(decision, {}).setdefault("rule", [None] * n)[i] = value


def _expected_target(text: str, names: dict[str, list[str]], outputs: dict[str, DecisionTable], rules: RuleSet):
    """'client_tier' -> (decision, output); 'rule' -> (None, 'rule'); 'client_tier.rule'
    -> (decision, 'rule'). A message (str) if it names nothing."""
    if text.lower() in RULE_WORDS:
        return None, "rule"
    for word in RULE_WORDS:
        if text.lower().endswith("." + word):
            decision = text[: -len(word) - 1]
            if decision in {t.name for t in rules.decisions}:
                return decision, "rule"
            return f"no decision called {decision}"
    for name in names.get(text) or names.get(text.lower()) or [text]:
        if name in outputs:
            return outputs[name].name, name
    return f"'expected {text}': {text} is not the output of any decision"


def _filled(value) -> bool:
    return cell_text(value) != ""


def _is_null_word(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == "null"


def _unquote(value):
    if isinstance(value, str):
        text = feel.normalize(value).strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            return text[1:-1]
        return text
    return value


def _variable(name: str, rules: RuleSet) -> Variable:
    """The glossary entry, or a stand-in typed like the decision output."""
    if name in rules.variables:
        return rules.variables[name]
    producer = rules.producer(name)
    clause = producer.outputs[producer.output_names.index(name)] if producer else None
    return Variable(name, None, (name,), (clause.type if clause else None) or "string")


def _typed(name: str, raw: list, rules: RuleSet) -> tuple[Column, np.ndarray | None]:
    values = np.empty(len(raw), dtype=object)
    values[:] = [None if _is_null_word(v) else _unquote(v) for v in raw]
    return coerce(values, _variable(name, rules))


def _run_sheet(sheet: _TestSheet, rules: RuleSet, engine_name: str, evaluate: TableEngine):
    """Every case of a sheet with one engine: results, and decision -> rule ids hit."""
    n = len(sheet.rows)
    checks_of: list[list[Check]] = [[] for _ in range(n)]
    hits: dict[str, set[str]] = {}
    results = _evaluate(sheet, rules, evaluate, set(sheet.expected)) if n else {}
    for decision, expected in sheet.expected.items():
        for i in range(n):
            wanted = sheet.decision_filter[i]
            if (wanted is not None and decision not in wanted) or not any(_filled(v[i]) for v in expected.values()):
                continue
            result = results[decision]
            if result.rules[i]:
                hits.setdefault(decision, set()).update(_ids(result.rules[i]))
            checks_of[i] += _case_checks(
                rules.decision(decision), {w: cells[i] for w, cells in expected.items()}, result, i
            )
    cases = [
        SheetCaseResult(sheet.file, sheet.name, sheet.rows[i], sheet.names[i], engine_name, tuple(checks_of[i]))
        for i in range(n)
        if checks_of[i]
    ]
    return cases, hits


def _case_checks(table: DecisionTable, expected: dict[str, object], result: DecisionResult, i: int) -> list[Check]:
    """The filled expected cells of one case (output name or "rule" -> cell) against row i."""
    rule_text, reason, error = result.rules[i], result.reasons[i], result.errors[i]
    checks = []
    for what, cell in expected.items():
        if not _filled(cell):
            continue
        if what == "rule":
            want, got = _ids(cell_text(cell)), _ids(rule_text) if rule_text else None
            checks.append(
                Check(
                    table.name,
                    "rule",
                    ", ".join(sorted(want)),
                    ", ".join(sorted(got)) if got else None,
                    got == want,
                    reason,
                    error,
                )
            )
            continue
        clause = table.outputs[table.output_names.index(what)]
        try:
            want = _expected(cell, clause.type, table.hit_policy, what)
        except ValueError as exc:
            checks.append(Check(table.name, what, cell_text(cell), None, False, None, str(exc)))
            continue
        column = result.outputs[what]
        got = to_python(column.type, column.values[i : i + 1])[0] if column.is_float else column.values[i]
        checks.append(
            Check(
                table.name,
                what,
                want,
                None if error else got,
                error is None and _same(want, got, table.hit_policy),
                reason,
                error,
            )
        )
    return checks


def _ids(text: str) -> frozenset[str]:
    return frozenset(p.strip() for p in feel.normalize(text).split(",") if p.strip())


def _evaluate(sheet: _TestSheet, rules: RuleSet, evaluate: TableEngine, checked: set[str]) -> dict[str, DecisionResult]:
    """The checked decisions and everything upstream of them, in graph order, on
    all cases at once. Decision outputs a case gives are used instead of the
    computed ones (for that case)."""
    n = len(sheet.rows)
    env: dict[str, Column] = {}
    messages: dict[str, np.ndarray | None] = {}
    given: dict[str, np.ndarray] = {}
    for name, raw in sheet.inputs.items():
        env[name], messages[name] = _typed(name, raw, rules)
        if rules.producer(name) is not None:
            given[name] = np.array([_filled(v) for v in raw], dtype=bool)
    needed = _upstream(checked, rules)
    results: dict[str, DecisionResult] = {}
    for table in rules.decisions:
        if table.name not in needed:
            continue
        names = referenced_names(table)
        for name in names:
            var = rules.variables.get(name)
            if name not in env and var is not None and var.computed is not None:  # computed from the rules
                env[name], messages[name] = constant_column(var, n), None
            elif name not in env:  # a value the sheet does not give: empty (an error if required)
                env[name], messages[name] = _typed(name, [None] * n, rules)
        blocked = _first_message(*(messages.get(name) for name in sorted(names)))
        result = evaluate(table, {k: env[k] for k in names}, n, blocked=blocked, variables=rules.variables)
        results[table.name] = result
        errors = None if all(e is None for e in result.errors) else result.errors
        for clause in table.outputs:
            computed = result.outputs[clause.name]
            if clause.name in given:
                mask = given[clause.name]
                env[clause.name] = _override(computed, env[clause.name], mask)
                # a given value replaces the decision's error too; a bad given cell is the row's error
                messages[clause.name] = _first_message(
                    np.where(mask, NULL, errors) if errors is not None else None, messages[clause.name]
                )
            else:
                env[clause.name], messages[clause.name] = computed, errors
    return results


def _override(computed: Column, given: Column, mask: np.ndarray) -> Column:
    """The computed column with the given values where ``mask`` is set."""
    if computed.is_float and given.is_float:
        return Column(computed.type, np.where(mask, given.values, computed.values))
    left = to_python(computed.type, computed.values) if computed.is_float else computed.values
    right = to_python(given.type, given.values) if given.is_float else given.values
    return Column(computed.type or given.type, np.where(mask, right, left).astype(object))


def _expected(raw, type_: str | None, policy: str, name: str):
    """An expected cell as a value of the output's type (a list for C, R, O)."""
    if _is_null_word(raw):
        return [] if policy in LIST_POLICIES else None
    if policy in LIST_POLICIES:
        items = [p for p in feel.normalize(cell_text(raw)).replace("、", ",").split(",") if p.strip()]
        return [_scalar(p, type_, name) for p in items]
    return _scalar(raw, type_, name)


def _scalar(raw, type_: str | None, name: str):
    if type_ is None:  # an output whose rules mix types: compare as written
        value = _unquote(raw)
        if isinstance(value, str):
            try:
                return float(value.replace(",", ""))
            except ValueError:
                return value
        return value
    variable = Variable(name, None, (name,), type_)
    column, bad = coerce(np.array([_unquote(raw)], dtype=object), variable)
    if bad is not None:
        raise ValueError(f"expected {name}: {bad[0].split(': ', 1)[1]}")
    return column.python_values()[0]


def _same(expected, actual, policy: str) -> bool:
    if policy in LIST_POLICIES:
        if not isinstance(actual, list) or len(actual) != len(expected):
            return False
        pairs = zip(sorted(expected, key=repr), sorted(actual, key=repr)) if policy == "C" else zip(expected, actual)
        return all(_same(e, a, "U") for e, a in pairs)
    if isinstance(expected, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(actual, dt.datetime):
        actual = actual.date()
    return expected == actual


# ------------------------------------------------------------- text ------------


def render_run(run: TestRun, coverage: bool = False) -> str:
    """Failures with expected vs actual, problems, coverage, then 'N passed, M failed'."""
    lines = []
    several = len(run.engines) > 1
    for problem in run.problems:
        lines.append(f"problem  {problem}")
    for result in run.results:
        if result.passed:
            continue
        engine = f" [{result.engine}]" if several else ""
        lines.append(f"FAIL  {result.where}  {result.case}{engine}")
        failing = [c for c in result.checks if not c.passed]
        for decision in dict.fromkeys(c.decision for c in failing):
            checks = [c for c in failing if c.decision == decision]
            for check in checks:
                what = f"{check.decision}.rule" if check.what == "rule" else check.what
                expected = check.expected if check.what == "rule" else format_value(check.expected)
                got = (
                    "an error"
                    if check.error
                    else (check.actual or "no rule")
                    if check.what == "rule"
                    else format_value(check.actual)
                )
                lines.append(f"      {what}: expected {expected}, got {got}")
            why = checks[0]
            if why.error or why.reason:
                lines.append(f"        {'error' if why.error else 'because'}: {why.error or why.reason}")
    if not run.sheets:
        lines.append("no Tests sheet found")
    if coverage:
        if run.uncovered:
            lines.append("rules no test case hits:")
            for decision, ids in run.uncovered.items():
                lines.append(f"  {decision}: {', '.join(ids)}")
        elif run.sheets:
            lines.append("every rule is hit by a test case")
    lines.append(run.summary())
    return "\n".join(lines) + "\n"
