"""Static check of rule tables: what a manager should know before publishing a
change, found without any data.

Per decision table, according to its hit policy:

- ``overlap`` (U): two rules match the same row.
- ``conflict`` (A): two rules match the same row with different results.
- ``gap``: rows no rule matches, in a table without a default row.
- ``never_fires`` (F, P): earlier / higher-priority rules decide every row the rule matches.
- ``redundant``: another rule with the same result matches every row the rule matches.
- ``never_matches``: no value the inputs can take satisfies the rule.
- ``outside_allowed``: a result outside the glossary's allowed values.

and for the rule set: ``missing_glossary`` (an input with no glossary entry),
``unused_glossary`` (an entry no rule uses). Load errors (``rule_error``) are
reported too. Every finding names its cells (file!sheet!cell) and, where a row
can show it, a witness: one example value per input.

How: each input column's possible values are cut into classes from the
endpoints and literals written in that column (numbers and dates: each endpoint,
the open stretches between them, empty; text: each literal, "any other text",
empty; booleans: true, false, empty), narrowed by the glossary's allowed values
(a value outside them is a row error, so gaps are looked for only inside this
domain; a required variable is never empty) and by what an upstream decision can
produce. A computed glossary value is checked as the number it is now. Every
cell is then exactly a set of classes and every rule a box in the product of
the columns. Pairwise questions (overlap, subsumption) are set operations on
the boxes, done as matrix products; coverage questions (gaps, rules hidden by
earlier ones) split the space column by column and keep only the rules still
alive in each part, so the work follows the table's structure, not the size of
the product.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine import feel
from engine.errors import ERROR, INFO, WARNING, RuleError, RuleErrors
from engine.evaluation.aggregates import with_constants
from engine.evaluation.columns import EPOCH, Column, literal_value
from engine.evaluation.hitpolicy import priority_ranks
from engine.evaluation.vectorized import eval_expr, test_mask
from engine.feel import feel_literal, feel_text
from engine.model import AGGREGATING, HIT_POLICIES, DecisionTable, RuleSet
from engine.model.graph import referenced_names
from engine.model.rulebook import load_rules
from engine.text import format_value, json_value

ANY = "(any)"  # witness value of a column no rule constrains: every value gives the same answer
GAP_SEARCH_LIMIT = 200  # gap regions collected per table before merging; more is noted
MAX_STEPS = 500_000  # search steps per table; a table that needs more is reported as not fully checked
LIST_POLICIES = ("C", "R", "O")


# ------------------------------------------------------------- findings --------


@dataclass(frozen=True)
class Finding:
    """One thing to look at, with where it is and an example row that shows it."""

    kind: str  # overlap | conflict | gap | never_fires | redundant | never_matches | outside_allowed | ...
    severity: str  # error | warning | info
    message: str
    file: str | None = None
    decision: str | None = None
    rules: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()  # file!sheet!cell
    witness: tuple[tuple[str, object], ...] = ()  # (input header, value): an example row

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "decision": self.decision,
            "rules": list(self.rules),
            "cells": list(self.cells),
            "witness": {name: json_value(value) for name, value in self.witness} if self.witness else None,
        }


@dataclass(frozen=True)
class TableChecked:
    decision: str
    file: str | None
    hit_policy: str
    rules: int


@dataclass
class CheckReport:
    findings: list[Finding]
    tables: list[TableChecked] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    unreadable: str | None = None  # the rules could not be read at all

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> int:
        """0 clean (notes only), 1 errors or warnings, 2 unreadable or not loadable
        (cells that stop the rules loading are listed as findings)."""
        if self.unreadable or any(f.kind == "rule_error" for f in self.findings):
            return 2
        return 1 if any(f.severity in (ERROR, WARNING) for f in self.findings) else 0

    def to_dict(self) -> dict:
        return {
            "unreadable": self.unreadable,
            "sources": self.sources,
            "tables": [t.__dict__ for t in self.tables],
            "counts": {s: self.count(s) for s in (ERROR, WARNING, INFO)},
            "findings": [f.to_dict() for f in self.findings],
        }

    def render_text(self, max_per_kind: int = 10) -> str:
        return render_report(self, max_per_kind)


def _shown(value) -> str:
    return ANY if value is ANY else format_value(value)


# ------------------------------------------------------------- entry points ----


def check_path(path: str | Path) -> CheckReport:
    """Check a rules folder or one rule workbook. Cells that do not load are
    reported as ``rule_error`` findings; a path that cannot be read sets
    ``unreadable``. Unused glossary entries are only looked for in a folder
    (a single workbook uses part of the glossary)."""
    path = Path(path)
    try:
        rules = load_rules(path)
    except RuleErrors as exc:
        return CheckReport([_load_finding(e) for e in exc.errors], sources=[str(path)])
    except RuleError as exc:
        if type(exc) is RuleError:  # file missing or not a workbook; subclasses are cell problems
            return CheckReport([], sources=[str(path)], unreadable=str(exc))
        return CheckReport([_load_finding(exc)], sources=[str(path)])
    return check_ruleset(rules, glossary=path.is_dir())


def check_ruleset(rules: RuleSet, *, glossary: bool = True, max_steps: int = MAX_STEPS) -> CheckReport:
    """Every table of a loaded rule set, plus the glossary checks."""
    findings: list[Finding] = []
    for table in rules.decisions:
        findings += check_table(table, rules, max_steps=max_steps)
    findings += _glossary_findings(rules, unused=glossary)
    tables = [TableChecked(t.name, t.position.file, t.hit_policy, len(t.rules)) for t in rules.decisions]
    return CheckReport(findings, tables, list(rules.sources))


def check_table(table: DecisionTable, rules: RuleSet | None = None, *, max_steps: int = MAX_STEPS) -> list[Finding]:
    """Findings for one decision table. ``rules`` supplies the glossary (allowed
    values) and the other decisions (what an upstream output can be)."""
    rules = rules or RuleSet({}, {}, [table])
    return _TableCheck(table, rules, max_steps).run()


def _load_finding(error: RuleError) -> Finding:
    return Finding(
        "rule_error",
        ERROR,
        error.message,
        error.position.file,
        cells=(str(error.position),) if error.position.cell else (),
    )


# ------------------------------------------------------------- value classes ---


@dataclass(frozen=True)
class _Class:
    kind: str  # point | between | other | null | any
    value: object  # representative, as the evaluator stores it (float for number/date/boolean)
    low: float | None = None  # between: the neighbouring endpoints (None = unbounded)
    high: float | None = None


class _Domain:
    """The values one input column can take, cut into classes on which every
    cell of the column is constant."""

    def __init__(self, label: str, type_: str | None, classes: list[_Class]):
        self.label, self.type, self.classes = label, type_, classes
        # example rows prefer a written endpoint, then a value between two endpoints,
        # then one beyond the last, then any other text, then empty
        self.preference = np.array(
            [
                {"point": 0, "between": 1, "other": 3, "any": 4, "null": 5}[c.kind]
                + (c.kind == "between" and (c.low is None or c.high is None))
                for c in classes
            ]
        )
        self._texts: dict[bytes, str] = {}  # the same class sets come back for many rule pairs
        if type_ in ("number", "date", "boolean"):
            self.column = Column(type_, np.array([c.value for c in classes], dtype=float))
        else:
            values = np.empty(len(classes), dtype=object)
            values[:] = [c.value for c in classes]
            self.column = Column(type_ or "string", values)

    def __len__(self) -> int:
        return len(self.classes)

    # a set of classes (bool mask) -> the S-FEEL cell that selects it
    def feel(self, mask: np.ndarray) -> str:
        key = mask.tobytes()
        if key not in self._texts:
            self._texts[key] = self._feel(mask)
        return self._texts[key]

    def _feel(self, mask: np.ndarray) -> str:
        if mask.all():
            return "-"
        chosen = [c for c, m in zip(self.classes, mask) if m]
        null = any(c.kind == "null" for c in chosen)
        values = [c for c in chosen if c.kind != "null"]
        if not values:
            return "null"
        if not null and len(values) == sum(c.kind != "null" for c in self.classes):
            return "not(null)"  # every value, only not empty
        if self.type in ("number", "date"):
            parts = self._ranges(mask)
        elif self.type == "boolean":
            parts = [feel_literal(c.value == 1.0) for c in values]
        else:
            literals = [c for c in self.classes if c.kind == "point"]
            excluded = [feel_literal(c.value) for c in literals if c not in values] + ([] if null else ["null"])
            listed = [feel_literal(c.value) for c in values if c.kind == "point"] + (["null"] if null else [])
            if any(c.kind == "other" for c in values) or len(excluded) < len(listed):
                return f"not({', '.join(excluded)})"  # not("a") also matches empty and any other text
            parts = [feel_literal(c.value) for c in values]
        return ", ".join(parts + (["null"] if null else []))

    def _ranges(self, mask: np.ndarray) -> list[str]:
        """Runs of neighbouring classes as comparisons and ranges."""
        items = [(c, m) for c, m in zip(self.classes, mask) if c.kind != "null"]
        runs, current = [], []
        for cls, m in items:
            if m:
                current.append(cls)
            elif current:
                runs.append(current)
                current = []
        if current:
            runs.append(current)
        parts = []
        for run in runs:
            first, last = run[0], run[-1]
            if first is last and first.kind == "point":
                parts.append(self._literal(first.value))
                continue
            low, low_closed = (first.value, True) if first.kind == "point" else (first.low, False)
            high, high_closed = (last.value, True) if last.kind == "point" else (last.high, False)
            if low is None and high is None:
                parts.append("not(null)")
            elif low is None:
                parts.append(f"{'<=' if high_closed else '<'} {self._literal(high)}")
            elif high is None:
                parts.append(f"{'>=' if low_closed else '>'} {self._literal(low)}")
            else:
                parts.append(
                    f"{'[' if low_closed else '('}{self._literal(low)}..{self._literal(high)}{']' if high_closed else ')'}"
                )
        return parts

    def _literal(self, stored) -> str:
        return feel_literal(self._python(stored))

    def _python(self, stored):
        if stored is None or (isinstance(stored, float) and math.isnan(stored)):
            return None
        if self.type == "date":
            return EPOCH + dt.timedelta(days=int(stored))
        if self.type == "boolean":
            return stored == 1.0
        return stored

    def pick(self, mask: np.ndarray) -> int:
        """The class an example row takes from a set (the most preferred, then the first)."""
        return int(np.argmin(np.where(mask, self.preference, 99)))

    def example(self, mask: np.ndarray):
        cls = self.classes[self.pick(mask)]
        return ANY if cls.kind == "any" else self._python(cls.value)


def _between(low: float | None, high: float | None, whole: bool) -> float | None:
    """A readable value strictly between two endpoints (None = unbounded);
    ``whole``: only whole numbers exist (dates as days). None if there is none."""
    if low is None:
        return 0.0 if high is None else float(math.ceil(high) - 1)
    if high is None:
        return float(math.floor(low) + 1)
    first, last = math.floor(low) + 1, math.ceil(high) - 1  # whole numbers strictly inside
    if first <= last:
        return float(min(max(round((low + high) / 2), first), last))
    if whole:
        return None
    middle = (low + high) / 2
    for digits in range(1, 12):
        if low < round(middle, digits) < high:
            return round(middle, digits)
    return middle


def _output_space(name: str, rules: RuleSet, seen: frozenset = frozenset()):
    """What a decision output can be: (known values or None, may be empty, is a list).
    A value from the register (not a decision output) may always be empty."""
    table = rules.producer(name)
    if table is None or name in seen:
        variable = rules.variables.get(name)  # a required register value is never empty: empty is a row error
        return None, not (variable is not None and (variable.required or variable.computed is not None)), False
    if table.hit_policy in LIST_POLICIES:
        return None, False, True
    if table.hit_policy in AGGREGATING:
        return None, False, False  # a number; no match without a default is a row error, not empty
    k = table.output_names.index(name)
    entries = [r.outputs[k] for r in table.rules]
    nullable = False
    if table.has_default:
        if table.outputs[k].default is None:
            nullable = True  # the default row leaves this output empty
        else:
            entries.append(table.outputs[k].default)
    known = all(isinstance(e, feel.Literal) for e in entries)
    values = [
        v for v in table.outputs[k].allowed_values if any(isinstance(e, feel.Literal) and e.value == v for e in entries)
    ]
    for entry in entries:
        if isinstance(entry, feel.Literal):
            if entry.value is None:
                nullable = True
            elif entry.value not in values:
                values.append(entry.value)
        elif _may_be_null(entry, rules, seen | {name}):
            nullable = True
    return (tuple(values) if known else None), nullable, False


def _may_be_null(node, rules: RuleSet, seen: frozenset) -> bool:
    if isinstance(node, feel.Literal):
        return node.value is None
    if isinstance(node, feel.Name):
        return _output_space(node.name, rules, seen)[1]
    if isinstance(node, feel.Unary):
        return _may_be_null(node.operand, rules, seen)
    if isinstance(node, feel.Binary) and node.op in ("+", "-", "*"):
        return _may_be_null(node.left, rules, seen) or _may_be_null(node.right, rules, seen)
    return True  # division (by zero), powers, comparisons: may be null


def _opaque_reason(test, type_: str | None, is_list: bool) -> str | None:
    """Why a cell cannot be reduced to classes of its own column, or None."""
    if isinstance(test, feel.AnyTest):
        return None
    names = feel.names_in(test)
    if names:
        return f"compares with {', '.join(sorted(names))}"
    if is_list:
        return "tests a list of results"
    if type_ is None:
        return "mixes value types"
    if type_ == "string" and _orders(test):
        return "compares text by order"
    return None


def _orders(test) -> bool:
    if isinstance(test, feel.Compare):
        return test.op not in ("=", "!=")
    if isinstance(test, feel.Range):
        return True
    if isinstance(test, (feel.AnyOf, feel.Not)):
        return any(_orders(t) for t in (test.tests.tests if isinstance(test, feel.Not) else test.tests))
    return False


def _column_type(clause, tests) -> str | None:
    if clause.type:
        return clause.type
    types = {lit.type for t in tests for lit in feel.literals_in(t) if lit.type}
    return types.pop() if len(types) == 1 else None


def _domain(table: DecisionTable, j: int, rules: RuleSet) -> tuple[_Domain, dict[int, str]]:
    """The classes of input column j, and the rules whose cell there is opaque."""
    clause = table.inputs[j]
    name = clause.expr.name if isinstance(clause.expr, feel.Name) else None
    variable = rules.variables.get(name) if name else None
    if name:
        values, nullable, is_list = _output_space(name, rules)
    else:
        values, nullable, is_list = None, True, False
    tests = [r.inputs[j] for r in table.rules]
    type_ = _column_type(clause, tests)
    opaque = {r: why for r, t in enumerate(tests) if (why := _opaque_reason(t, type_, is_list))}
    used = [t for r, t in enumerate(tests) if r not in opaque and not isinstance(t, feel.AnyTest)]
    if not used:  # no rule constrains this column: one class stands for every value
        return _Domain(clause.label, type_ or "string", [_Class("any", None)]), opaque
    literals = [
        lit
        for t in used + ([variable.allowed] if variable and variable.allowed is not None else [])
        for lit in feel.literals_in(t)
        if lit.type == type_
    ]
    if type_ in ("number", "date"):
        if values is not None:
            classes = [_Class("point", p) for p in sorted({literal_value(type_, v) for v in values})]
        else:
            points = sorted({literal_value(type_, lit.value) for lit in literals})
            classes, bounds = [], [None, *points, None]
            for i in range(len(points) + 1):
                rep = _between(bounds[i], bounds[i + 1], whole=type_ == "date")
                if rep is not None:
                    classes.append(_Class("between", rep, bounds[i], bounds[i + 1]))
                if i < len(points):
                    classes.append(_Class("point", points[i]))
    elif type_ == "boolean":
        truth = values if values is not None else (True, False)
        classes = [_Class("point", 1.0 if v else 0.0) for v in (True, False) if v in truth]
    else:
        closed = values is not None or bool(variable and variable.type == "string" and variable.allowed_values)
        words = (
            list(values)
            if values is not None
            else list(variable.allowed_values)
            if closed and variable is not None
            else list(dict.fromkeys(lit.value for lit in literals))
        )
        classes = [_Class("point", w) for w in words]
        if not closed:
            other = "other"
            while other in words:
                other += "?"
            classes.append(_Class("other", other))
    if nullable:
        classes.append(_Class("null", math.nan if type_ in ("number", "date", "boolean") else None))
    domain = _Domain(clause.label, type_, classes)
    if variable is not None and variable.allowed is not None and values is None:
        # register values outside the allowed values are row errors: they never reach a table
        allowed = test_mask(variable.allowed, domain.column, {})
        keep = [c for c, ok in zip(classes, allowed) if ok or c.kind == "null"]
        if keep and len(keep) < len(classes):
            domain = _Domain(clause.label, type_, keep)
    return domain, opaque


# ------------------------------------------------------------- one table -------


class _TooBig(Exception):
    pass


class _TableCheck:
    """The analysis of one table: its columns' classes, every rule as a box
    (one bool row over all columns' classes), and the searches over them."""

    def __init__(self, table: DecisionTable, rules: RuleSet, max_steps: int):
        table = with_constants(table, rules.variables)  # a computed value is checked as the number it is now
        self.table, self.rules, self.max_steps = table, rules, max_steps
        self.file = table.position.file
        self.domains: list[_Domain] = []
        self.opaque: dict[int, str] = {}  # rule index -> why it is left out
        blocks = []
        for j in range(len(table.inputs)):
            domain, opaque = _domain(table, j, rules)
            self.domains.append(domain)
            for r, why in opaque.items():
                self.opaque.setdefault(r, f"{table.inputs[j].label} {why}")
            blocks.append(self._column_masks(j, domain, opaque))
        sizes = [len(d) for d in self.domains]
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int) if sizes else np.zeros(0, int)
        self.ends = self.starts + np.array(sizes, dtype=int)
        self.boxes = np.concatenate(blocks, axis=1) if blocks else np.ones((len(table.rules), 0), bool)
        self.full = np.ones(self.boxes.shape[1], bool)
        # a column where the rule allows no class
        self.empty = ~np.asarray(self._any_per_column(self.boxes).all(axis=1))
        self.live = np.array([r not in self.opaque and not self.empty[r] for r in range(len(table.rules))], dtype=bool)
        # split on the most constrained columns first: rules drop out soonest
        constrained = [sum(not isinstance(r.inputs[j], feel.AnyTest) for r in table.rules) for j in range(len(sizes))]
        self.order = sorted(range(len(sizes)), key=lambda j: -constrained[j])
        self._pairwise()
        self.steps = 0
        self._cells: dict = {}

    def _column_masks(self, j: int, domain: _Domain, opaque: dict[int, str]) -> np.ndarray:
        masks = np.ones((len(self.table.rules), len(domain)), bool)
        cache: dict = {}
        for r, rule in enumerate(self.table.rules):
            test = rule.inputs[j]
            if isinstance(test, feel.AnyTest) or r in opaque:
                continue
            if test not in cache:
                cache[test] = test_mask(test, domain.column, {})
            masks[r] = cache[test]
        return masks

    def _any_per_column(self, rows: np.ndarray) -> np.ndarray:
        """(n, columns): does each row hold any class of each column."""
        if rows.shape[1] == 0:
            return np.zeros((rows.shape[0], 0), bool)
        return np.logical_or.reduceat(rows, self.starts, axis=1)

    def seg(self, j: int) -> slice:
        return slice(self.starts[j], self.ends[j])

    # ---------------------------------------------------------------- driver
    def run(self) -> list[Finding]:
        table = self.table
        findings = self._outside_allowed()
        for r in np.flatnonzero(self.empty).tolist():
            if r not in self.opaque:
                findings.append(self._never_matches(r))
        if self.opaque:
            ids = ", ".join(table.rules[r].id for r in sorted(self.opaque))
            reasons = "; ".join(sorted(set(self.opaque.values())))
            which = f"rules {ids} are" if len(self.opaque) > 1 else f"rule {ids} is"
            findings.append(
                Finding(
                    "not_analysed",
                    INFO,
                    f"{which} left out of the overlap and coverage checks ({reasons}); "
                    f"gaps are not checked for this table",
                    self.file,
                    table.name,
                    tuple(table.rules[r].id for r in sorted(self.opaque)),
                    tuple(str(table.rules[r].position) for r in sorted(self.opaque)),
                )
            )
        try:
            policy = table.hit_policy
            if policy == "U":
                findings += self._overlaps()
            elif policy == "A":
                findings += self._conflicts() + self._redundant()
            elif policy in ("F", "P"):
                hidden = self._never_fires()
                findings += hidden + self._redundant(skip={f.rules[0] for f in hidden})
            else:
                findings += self._duplicates()
            if not table.has_default and not self.opaque:
                findings += self._gaps()
        except _TooBig:
            findings.append(
                Finding(
                    "not_analysed",
                    INFO,
                    f"the check stopped after {self.max_steps:,} steps: the table is too intricate to check "
                    f"completely; findings above are real, more may exist",
                    self.file,
                    table.name,
                    cells=(str(table.position),),
                )
            )
        return findings

    # ------------------------------------------------------------ pairwise
    def _pairwise(self):
        """overlap[i, j]: some row matches both; within[j, i]: every row j matches, i matches."""
        n = len(self.table.rules)
        self.overlap = np.ones((n, n), bool)
        self.within = np.ones((n, n), bool)
        for j in range(len(self.domains)):
            m = self.boxes[:, self.seg(j)].astype(np.float32)
            self.overlap &= (m @ m.T) > 0
            self.within &= (m @ (1.0 - m).T) == 0
        dead = ~self.live
        self.overlap[dead, :] = False
        self.overlap[:, dead] = False
        self.within[dead, :] = False
        self.within[:, dead] = False

    def _same_result(self, i: int, j: int) -> bool:
        return self.table.rules[i].outputs == self.table.rules[j].outputs

    def _overlaps(self) -> list[Finding]:
        out = []
        for i, j in zip(*np.nonzero(np.triu(self.overlap, 1))):
            box = self.boxes[i] & self.boxes[j]
            a, b = self.table.rules[i], self.table.rules[j]
            out.append(
                self._finding(
                    "overlap",
                    ERROR,
                    f"rules {a.id} and {b.id} both match rows with {self._describe(box)}; "
                    f"hit policy U allows only one matching rule",
                    (i, j),
                    box,
                )
            )
        return out

    def _conflicts(self) -> list[Finding]:
        out = []
        for i, j in zip(*np.nonzero(np.triu(self.overlap, 1))):
            if self._same_result(i, j):
                continue
            box = self.boxes[i] & self.boxes[j]
            a, b = self.table.rules[i], self.table.rules[j]
            out.append(
                self._finding(
                    "conflict",
                    ERROR,
                    f"rules {a.id} and {b.id} both match rows with {self._describe(box)} but give "
                    f"{self._results(a)} and {self._results(b)}; hit policy A needs matching rules to agree",
                    (i, j),
                    box,
                    outputs=True,
                )
            )
        return out

    def _redundant(self, skip=frozenset()) -> list[Finding]:
        """A rule another rule with the same result always backs up: deleting it changes no decision."""
        table, policy = self.table, self.table.hit_policy
        ranks = priority_ranks(table) if policy == "P" else None
        out = []
        for j in np.flatnonzero(self.live).tolist():
            if table.rules[j].id in skip:
                continue
            for i in np.flatnonzero(self.within[j]).tolist():
                if i == j or not self._same_result(i, j) or (self.within[i, j] and i > j):
                    continue  # of two identical rules, the later one is reported
                if policy == "F":
                    if i < j:
                        continue  # an earlier rule covering j makes it never fire (reported as such)
                    between = [k for k in range(j + 1, i) if self.overlap[j, k] or k in self.opaque]
                    if any(k in self.opaque or not self._same_result(j, k) for k in between):
                        continue  # without j, a rule in between would decide some of its rows differently
                if ranks is not None and any(
                    self.overlap[j, k] and ranks[k] == ranks[j] and not self._same_result(j, k)
                    for k in range(len(table.rules))
                    if k != j
                ):
                    continue
                a, b = table.rules[j], table.rules[i]
                out.append(
                    self._finding(
                        "redundant",
                        WARNING,
                        f"rule {a.id} is redundant: rule {b.id} matches every row {a.id} matches and gives "
                        f"the same result ({self._results(a)}); deleting {a.id} changes no decision",
                        (j, i),
                        self.boxes[j],
                    )
                )
                break
        return out

    def _duplicates(self) -> list[Finding]:
        """Multi-hit tables: a rule that always fires together with another with the same result."""
        table = self.table
        effect = {
            "C+": "it is added twice",
            "C#": "it is counted twice",
            "C<": "it changes nothing",
            "C>": "it changes nothing",
        }.get(table.hit_policy, "the result is listed twice")
        out = []
        for j in np.flatnonzero(self.live).tolist():
            for i in np.flatnonzero(self.within[j]).tolist():
                if i == j or not self._same_result(i, j) or (self.within[i, j] and i > j):
                    continue
                a, b = table.rules[j], table.rules[i]
                out.append(
                    self._finding(
                        "redundant",
                        WARNING,
                        f"rule {a.id} always fires together with rule {b.id} with the same result "
                        f"({self._results(a)}): {effect}",
                        (j, i),
                        self.boxes[j],
                    )
                )
                break
        return out

    # ------------------------------------------------------------ coverage
    def _never_fires(self) -> list[Finding]:
        """F: every row the rule matches is matched by an earlier rule; P: by a
        rule that wins over it (higher priority, or same priority and earlier)."""
        table = self.table
        n = len(table.rules)
        key = np.arange(n) if table.hit_policy == "F" else priority_ranks(table) * n + np.arange(n)
        out = []
        for j in np.flatnonzero(self.live).tolist():
            before = np.flatnonzero(self.live & self.overlap[j] & (key < key[j]))
            if len(before) == 0:
                continue
            single = [k for k in before if self.within[j, k]]
            if single:
                before = np.array(single[:1])
            elif self._uncovered(self.boxes[j], before, limit=1):
                continue
            point = self._point(self.boxes[j])
            deciding = next(k for k in sorted(before, key=lambda k: key[k]) if (self.boxes[k] | ~point).all())
            rule = table.rules[j]
            who = ", ".join(table.rules[k].id for k in before[:6]) + (", …" if len(before) > 6 else "")
            why = "earlier" if table.hit_policy == "F" else "higher-priority"
            hiders = f"{why} rule {who} matches" if len(before) == 1 else f"{why} rules ({who}) match"
            out.append(
                self._finding(
                    "never_fires",
                    WARNING,
                    f"rule {rule.id} never decides: {hiders} every row it matches; "
                    f"for the example row rule {table.rules[deciding].id} decides",
                    (j, *before),
                    point,
                )
            )
        return out

    def _gaps(self) -> list[Finding]:
        live = np.flatnonzero(self.live)
        regions = self._uncovered(self.full, live, limit=GAP_SEARCH_LIMIT)
        complete = len(regions) < GAP_SEARCH_LIMIT
        out = []
        for box in self._merge(regions):
            edges = self._edges(box)
            # the bounds to move first, then the other columns that narrow the gap
            rules_at = self.table.rules
            cells = tuple(
                text
                for j, rules in edges.items()
                for r in rules
                if (text := str(rules_at[r].cells[j] if rules_at[r].cells else rules_at[r].position))
            )
            cells += tuple(
                str(self.table.inputs[j].position)
                for j in range(len(self.domains))
                if not box[self.seg(j)].all() and str(self.table.inputs[j].position) and j not in edges
            )
            named = list(dict.fromkeys(r for rules in edges.values() for r in rules))
            meet = "".join(
                f"; the gap in {self.domains[j].label} lies between "
                + _and([f"{self.table.rules[r].id} ({feel_text(self.table.rules[r].inputs[j])})" for r in rules])
                for j, rules in edges.items()
            )
            out.append(
                Finding(
                    "gap",
                    WARNING,
                    f"no rule matches rows with {self._describe(box)}{meet}; the table has no default row, "
                    f"so such rows are errors",
                    self.file,
                    self.table.name,
                    tuple(self.table.rules[r].id for r in named),
                    cells,
                    self._witness(box),
                )
            )
        if not complete:
            out.append(
                Finding(
                    "gap",
                    INFO,
                    f"there may be more gaps: the search stopped after {GAP_SEARCH_LIMIT} regions",
                    self.file,
                    self.table.name,
                    cells=(str(self.table.position),),
                )
            )
        return out

    def _edges(self, box: np.ndarray) -> dict[int, list[int]]:
        """Per number or date column where the gap lies between two written
        bounds, the rules whose bounds those are (below it, then above it): the
        cells to change to close the gap."""
        out: dict[int, list[int]] = {}
        live = np.flatnonzero(self.live).tolist()
        for j, domain in enumerate(self.domains):
            mask = box[self.seg(j)]
            chosen = [c for c, m in zip(domain.classes, mask) if m and c.kind in ("point", "between")]
            if domain.type not in ("number", "date") or not chosen or mask.all():
                continue
            lows = [c.value if c.kind == "point" else c.low for c in chosen]
            highs = [c.value if c.kind == "point" else c.high for c in chosen]
            if None in lows or None in highs:
                continue  # open on one side: not between two rules
            sides = [
                [r for r in live if edge in self._bounds(r, j)]
                for edge in (min(lows), max(highs))  # type: ignore[type-var]
            ]
            if all(sides):
                out[j] = list(dict.fromkeys(sides[0] + sides[1]))
        return out

    def _bounds(self, r: int, j: int) -> set:
        """The values written in rule r's cell of column j, as the column stores them."""
        return {literal_value(lit.type, lit.value) for lit in feel.literals_in(self.table.rules[r].inputs[j])}

    def _uncovered(self, box: np.ndarray, candidates: np.ndarray, limit: int) -> list[np.ndarray]:
        """Parts of ``box`` no candidate rule covers (at most ``limit``). Splits
        one column at a time into groups of classes matched by the same alive
        rules; a part is done when no rule is alive (uncovered) or one alive
        rule holds on all of it (covered)."""
        found: list[np.ndarray] = []

        def visit(box: np.ndarray, cands: np.ndarray, depth: int):
            self.steps += 1
            if self.steps > self.max_steps:
                raise _TooBig
            if len(found) >= limit:
                return
            rows = self.boxes[cands]
            alive = self._any_per_column(rows & box).all(axis=1)
            cands, rows = cands[alive], rows[alive]
            if len(cands) == 0:
                found.append(box)
                return
            if (~(box & ~rows).any(axis=1)).any() or depth == len(self.order):
                return
            j = self.order[depth]
            seg = self.seg(j)
            classes = np.flatnonzero(box[seg])
            matches = rows[:, seg][:, classes]  # (alive rules, classes)
            signature = np.packbits(matches, axis=0).T
            _, first, group = np.unique(signature, axis=0, return_index=True, return_inverse=True)
            group = group.ravel()
            for g in np.argsort(first):  # in the column's value order
                sub = box.copy()
                sub[seg] = False
                sub[self.starts[j] + classes[group == g]] = True
                visit(sub, cands[matches[:, first[g]]], depth + 1)

        visit(box, np.asarray(candidates, dtype=int), 0)
        return found

    def _merge(self, boxes: list[np.ndarray]) -> list[np.ndarray]:
        """Join regions that differ in one column only (their union is one region)."""
        boxes = [b.copy() for b in boxes]
        changed = True
        while changed and len(boxes) > 1:
            changed = False
            for j in range(len(self.domains)):
                seg = self.seg(j)
                merged: dict[bytes, np.ndarray] = {}
                for b in boxes:
                    key = np.concatenate([b[: seg.start], b[seg.stop :]]).tobytes()
                    if key in merged:
                        merged[key][seg] |= b[seg]
                        changed = True
                    else:
                        merged[key] = b
                boxes = list(merged.values())
        return boxes

    # ------------------------------------------------------------ other checks
    def _never_matches(self, r: int) -> Finding:
        rule = self.table.rules[r]
        columns = self._any_per_column(self.boxes[r : r + 1])[0]
        j = int(np.flatnonzero(~columns)[0])
        clause = self.table.inputs[j]
        var = self.rules.variables.get(clause.expr.name) if isinstance(clause.expr, feel.Name) else None
        allowed = (
            f" among its allowed values ({feel_text(var.allowed)})"
            if var is not None and var.allowed is not None
            else ""
        )
        return Finding(
            "never_matches",
            WARNING,
            f"rule {rule.id} never matches: no value of {clause.label}{allowed} satisfies {feel_text(rule.inputs[j])}",
            self.file,
            self.table.name,
            (rule.id,),
            tuple(c for c in (str(rule.position), str(rule.cells[j]) if rule.cells else "") if c),
        )

    def _outside_allowed(self) -> list[Finding]:
        """Results that are plain values (or arithmetic on numbers) outside the
        output's allowed values in the glossary."""
        out = []
        for k, clause in enumerate(self.table.outputs):
            var = self.rules.variables.get(clause.name)
            if var is None or var.allowed is None:
                continue
            entries = [
                (r.id, r.outputs[k], r.cells[len(self.table.inputs) + k] if r.cells else r.position)
                for r in self.table.rules
            ]
            if clause.default is not None:
                entries.append(("default", clause.default, self.table.position))
            for rule_id, expr, cell in entries:
                if feel.names_in(expr):
                    continue  # depends on the row
                value = eval_expr(expr, {}, 1)
                if value.isnull()[0] or value.type != var.type or test_mask(var.allowed, value, {})[0]:
                    continue
                shown = feel_literal(value.python_values()[0])
                out.append(
                    Finding(
                        "outside_allowed",
                        ERROR,
                        f"{'the default' if rule_id == 'default' else 'rule ' + rule_id} gives {clause.name} {shown}, "
                        f"outside its allowed values ({feel_text(var.allowed)})",
                        self.file,
                        self.table.name,
                        (rule_id,) if rule_id != "default" else (),
                        (str(cell),),
                    )
                )
        return out

    # ------------------------------------------------------------ words
    def _describe(self, box: np.ndarray) -> str:
        parts = [
            f"{d.label}: {d.feel(box[self.seg(j)])}" for j, d in enumerate(self.domains) if not box[self.seg(j)].all()
        ]
        return "; ".join(parts) if parts else "any values"

    def _witness(self, box: np.ndarray) -> tuple:
        return tuple((d.label, d.example(box[self.seg(j)])) for j, d in enumerate(self.domains))

    def _point(self, box: np.ndarray) -> np.ndarray:
        """The box narrowed to the example value's class in every column."""
        point = np.zeros_like(box)
        for j, d in enumerate(self.domains):
            point[self.starts[j] + d.pick(box[self.seg(j)])] = True
        return point

    def _results(self, rule) -> str:
        return ", ".join(feel_text(e) for e in rule.outputs)

    def _rule_cells(self, r: int, outputs: bool) -> list[str]:
        """A rule's id cell and the cells that constrain it (and its result cells)."""
        key = (r, outputs)
        if key not in self._cells:
            rule = self.table.rules[r]
            cells = [rule.position] + [c for c, t in zip(rule.cells, rule.inputs) if not isinstance(t, feel.AnyTest)]
            if outputs:
                cells += list(rule.cells[len(rule.inputs) :])
            self._cells[key] = [text for text in map(str, cells) if text]
        return self._cells[key]

    def _finding(self, kind: str, severity: str, message: str, rule_indexes, box, outputs: bool = False) -> Finding:
        indexes = list(dict.fromkeys(int(r) for r in rule_indexes))
        cells = tuple(c for r in indexes for c in self._rule_cells(r, outputs))
        ids = tuple(self.table.rules[r].id for r in indexes)
        return Finding(kind, severity, message, self.file, self.table.name, ids, cells, self._witness(box))


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# ------------------------------------------------------------- glossary --------


def _glossary_findings(rules: RuleSet, unused: bool) -> list[Finding]:
    out = []
    for table in rules.decisions:
        for clause in table.inputs:
            if isinstance(clause.expr, feel.Name) and clause.expr.name not in rules.variables:
                out.append(
                    Finding(
                        "missing_glossary",
                        WARNING,
                        f"input {clause.label} of {table.name} has no glossary entry: give it a type and, "
                        f"if it has a fixed list, its allowed values, so kade can check its values",
                        table.position.file,
                        table.name,
                        cells=(str(clause.position),),
                    )
                )
    if unused:
        used = {name for t in rules.decisions for name in referenced_names(t) | set(t.output_names)}
        keys = {e.key for e in rules.entities.values()}
        for var in rules.variables.values():
            # a column that records a decision is used by kade check, not by a rule
            if var.name not in used and var.name not in keys and not var.records:
                out.append(
                    Finding(
                        "unused_glossary",
                        INFO,
                        f"glossary entry {var.name} is not used by any rule",
                        var.position.file,
                        cells=(str(var.position),),
                    )
                )
    return out


# ------------------------------------------------------------- text ------------

_KIND_WORDS = {
    "rule_error": "cannot load",
    "overlap": "overlap",
    "conflict": "conflict",
    "gap": "gap",
    "never_fires": "never fires",
    "redundant": "redundant",
    "never_matches": "never matches",
    "outside_allowed": "outside allowed values",
    "missing_glossary": "not in glossary",
    "unused_glossary": "unused",
    "not_analysed": "not checked",
}


def render_report(report: CheckReport, max_per_kind: int = 10) -> str:
    """The findings grouped by workbook and table, each with its example row and
    cells; at most ``max_per_kind`` of one kind per table (the JSON has all)."""
    if report.unreadable:
        return f"cannot check: {report.unreadable}\n"
    policies = {(t.file, t.decision): t for t in report.tables}
    groups: dict[tuple, list[Finding]] = {}
    for f in report.findings:
        groups.setdefault((f.file, f.decision), []).append(f)
    lines = []
    for (file, decision), findings in groups.items():
        head = " · ".join(p for p in (file, decision) if p) or "rules"
        table = policies.get((file, decision))
        if table:
            head += f"  (hit policy {table.hit_policy} {HIT_POLICIES[table.hit_policy].lower()}, {table.rules} rules)"
        lines.append(head)
        shown: dict[str, int] = {}
        for f in findings:
            shown[f.kind] = shown.get(f.kind, 0) + 1
            if shown[f.kind] > max_per_kind:
                continue
            lines.append(f"  {f.severity:<7}  {_KIND_WORDS.get(f.kind, f.kind)}: {f.message}")
            if f.witness:
                lines.append("           example: " + ", ".join(f"{name} {_shown(v)}" for name, v in f.witness))
            if f.cells:
                lines.append("           cells: " + ", ".join(c for c in f.cells if c))
        for kind, count in shown.items():
            if count > max_per_kind:
                lines.append(
                    f"  … and {count - max_per_kind} more {_KIND_WORDS.get(kind, kind)} findings here (--format json lists all)"
                )
        lines.append("")
    tables = f"{len(report.tables)} table{'s' if len(report.tables) != 1 else ''}"
    unloadable = sum(f.kind == "rule_error" for f in report.findings)
    if unloadable:
        lines.append(
            f"{unloadable} problem{'s' if unloadable != 1 else ''} stop{'s' if unloadable == 1 else ''} the rules from loading; "
            f"fix them and check again (nothing else was checked)"
        )
    elif not report.findings:
        lines.append(f"no problems found in {tables}")
    else:
        counts = [
            f"{report.count(s)} {word}{'s' if report.count(s) != 1 else ''}"
            for s, word in ((ERROR, "error"), (WARNING, "warning"), (INFO, "note"))
        ]
        lines.append(f"{', '.join(counts)} in {tables}")
    return "\n".join(lines) + "\n"
