"""Policy in practice: learn the decision table people actually follow from the
decisions a register records, as a rule table a manager can read and compare
with the written policy (`kade rules learn`).

The induction is scikit-learn's CART decision tree (``DecisionTreeClassifier``)
over the decision's glossary inputs, with limits on depth and leaf size. Each
leaf becomes one rule (hit policy UNIQUE: leaves never overlap). A split's
threshold is moved to the roundest number that splits the training rows the
same way - between the largest value on one side and the smallest on the other
- so a learned table reads ``[0..80]`` where the tree split at 80.15, and its
training accuracy is exactly the tree's. Fit is reported honestly: accuracy on
the training rows and cross-validated (hold-out) accuracy beside it; too few
rows for the number of inputs is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine import feel
from engine.errors import DataError, RuleError
from engine.evaluation.columns import Column, is_none, to_python
from engine.evaluation.decisions import Evaluation, table_environment
from engine.model import DecisionTable, RuleSet, Variable
from engine.text import format_value

MIN_ROWS = 30  # never learn from fewer rows than this
ROWS_PER_INPUT = 10  # ... nor from fewer than this many rows per input
DEFAULT_MAX_DEPTH = 6
DEFAULT_MIN_LEAF = 10
FOLDS = 5


@dataclass
class Condition:
    """What one learned rule requires of one input, before it is written as a cell."""

    name: str
    kind: str  # "number" | "date" (days since 1970-01-01) | "boolean" | "string"
    low: float | None = None
    low_closed: bool = True
    high: float | None = None
    high_closed: bool = False
    values: tuple | None = None  # allowed values (boolean, string); None: any
    universe: tuple | None = None  # every value the training rows hold (text inputs)
    nulls: bool = True  # whether an empty cell satisfies it

    def cell(self) -> str:
        """The condition as S-FEEL input-entry text."""
        if self.kind in ("number", "date"):
            low, high = self.low, self.high
            if low is None and high is None:
                return "-"  # no split on this input: any value
            if low is not None and high is not None:
                if low == high and self.low_closed and self.high_closed:
                    text = self._endpoint(low)
                else:
                    text = (
                        f"{'[' if self.low_closed else '('}{self._endpoint(low)}..{self._endpoint(high)}"
                        f"{']' if self.high_closed else ')'}"
                    )
            elif high is not None:
                text = f"{'<=' if self.high_closed else '<'} {self._endpoint(high)}"
            else:
                assert low is not None
                text = f"{'>=' if self.low_closed else '>'} {self._endpoint(low)}"
            return text + (", null" if self.nulls else "")
        if self.values is None:
            return "-"
        others = [v for v in (self.universe or ()) if v not in self.values]
        if not self.nulls and self.universe and 0 < len(others) < len(self.values):
            return "not(" + ", ".join(feel.feel_literal(v) for v in others) + ")"
        items = [feel.feel_literal(v) for v in self.values] + (["null"] if self.nulls else [])
        return ", ".join(items) if items else "null"

    def _endpoint(self, value: float) -> str:
        if self.kind == "date":
            return feel.feel_literal(to_python("date", np.array([value]))[0])
        return feel.feel_literal(float(value))


@dataclass
class LearnedRule:
    id: str
    conditions: list[Condition]
    output: object
    support: int  # training rows the rule covers
    correct: int  # of those, rows whose recorded value is the rule's output

    @property
    def accuracy(self) -> float:
        return self.correct / self.support if self.support else 0.0

    def annotation(self) -> str:
        return f"learned: {self.support:,} rows, {self.accuracy:.0%} of them recorded so ({self.correct:,})"


@dataclass
class LearnedTable:
    """A decision table induced from a register, with its fit."""

    decision: DecisionTable  # the policy's table
    output: str
    inputs: list[Variable]
    rules: list[LearnedRule]
    rows_used: int
    left_out: dict[str, int]  # why rows were not learned from -> count
    training_accuracy: float
    holdout_accuracy: float  # mean over FOLDS stratified folds
    holdout_spread: float  # standard deviation over the folds
    max_depth: int
    min_leaf: int
    recorded_column: str
    comparison: pd.DataFrame = field(repr=False)  # per training row: recorded, learned, policy, rule ids
    complete: set[str] = field(default_factory=set)  # inputs no training row left empty

    def confusion(self, against: str = "learned") -> pd.DataFrame:
        """Rows per recorded value (down) and learned or policy value (across)."""
        return pd.crosstab(self.comparison["recorded"], self.comparison[against]).astype(int)

    def lines(self) -> list[str]:
        """The fit, in words, for the terminal."""
        left = ", ".join(f"{n:,} {why}" for why, n in self.left_out.items() if n)
        policy = float((self.comparison["policy"] == self.comparison["recorded"]).mean())
        return [
            f"learned {self.decision.name} ({self.output}) from {self.rows_used:,} rows of column "
            f"{self.recorded_column!r}" + (f" (left out: {left})" if left else ""),
            f"inputs: {', '.join(v.name for v in self.inputs)}; max depth {self.max_depth}, "
            f"min {self.min_leaf} rows per rule",
            f"{len(self.rules)} rules; accuracy on these rows {self.training_accuracy:.1%}, "
            f"hold-out ({FOLDS}-fold cross-validated) {self.holdout_accuracy:.1%} ± {self.holdout_spread:.1%}",
            f"the written policy agrees with the recorded values on {policy:.1%} of these rows",
        ]

    def rule_lines(self) -> list[str]:
        """The learned rules: cells, output, support and accuracy."""
        lines = []
        for rule in self.rules:
            cells = ", ".join(f"{c.name} {c.cell()}" for c in rule.conditions if c.cell() != "-")
            lines.append(f"{rule.id}: {cells or 'any row'} -> {format_value(rule.output)}  ({rule.annotation()})")
        return lines


def learn(
    evaluation: Evaluation,
    decision: str,
    *,
    recorded_column: str | None = None,
    inputs: list[str] | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    min_leaf: int = DEFAULT_MIN_LEAF,
    seed: int = 0,
) -> LearnedTable:
    """Learn ``decision`` from the register ``evaluation`` was made on: the values
    its rows record (the glossary's ``records`` column for the decision's first
    output, or ``recorded_column``) against its inputs (the decision's glossary
    inputs read from the register, or ``inputs``)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    rules = evaluation.rules
    try:
        table = rules.decision(decision)
    except KeyError:
        raise DataError(
            f"no decision {decision!r} in the rules ({', '.join(t.name for t in rules.decisions)})"
        ) from None
    if table.name not in evaluation.results:
        why = evaluation.skipped.get(table.name, "it did not run")
        raise DataError(f"decision {table.name} was not decided on this register: {why}")
    output = table.outputs[0].name
    rows = evaluation.rows[table.entity]  # type: ignore[index]
    column = _recorded_column(rules, rows.frame, output, recorded_column)
    env = table_environment(evaluation, table)
    variables = _learned_inputs(rules, table, env, inputs)
    recorded = rows.frame[column].to_numpy(dtype=object)
    empty = pd.isna(recorded) | (pd.Series(recorded, dtype=object).astype(str).str.strip() == "").to_numpy()
    allowed = set(map(str, table.outputs[0].allowed_values))
    unknown = ~empty & ~pd.Series(recorded, dtype=object).astype(str).str.strip().isin(allowed).to_numpy()
    if not allowed:
        unknown[:] = False
    # a row the rules cannot decide (a bad cell, an unknown client) says nothing about practice
    in_error = ~is_none(evaluation.results[table.name].errors) & ~empty & ~unknown
    usable = ~empty & ~unknown & ~in_error
    left_out = {
        "recorded value empty": int(empty.sum()),
        "recorded value not an allowed value": int(unknown.sum()),
        "rows in error": int(in_error.sum()),
    }
    needed = max(MIN_ROWS, ROWS_PER_INPUT * len(variables))
    if int(usable.sum()) < needed:
        raise DataError(
            f"too few rows to learn {table.name} from: {int(usable.sum()):,} usable rows for {len(variables)} "
            f"inputs; kade needs at least {needed:,} ({ROWS_PER_INPUT} per input, {MIN_ROWS} at the least) - "
            "choose fewer inputs with --inputs, or a larger register"
        )
    features, names, kinds = _features(env, variables)
    x = features[usable]
    y = pd.Series(recorded[usable], dtype=object).astype(str).str.strip().to_numpy()
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_leaf, random_state=seed)
    tree.fit(x, y)
    folds = min(FOLDS, int(pd.Series(y).value_counts().min())) if len(set(y)) > 1 else 0
    if folds >= 2:
        scores = cross_val_score(
            DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_leaf, random_state=seed),
            x,
            y,
            cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
        )
        holdout, spread = float(scores.mean()), float(scores.std())
    else:  # one recorded value only: every split predicts it
        holdout, spread = 1.0, 0.0
    learned_rules, leaf_of = _rules_from_tree(tree, x, y, names, kinds, variables)
    learned = np.array([learned_rules[leaf_of[leaf]].output for leaf in tree.apply(x)], dtype=object)
    result = evaluation.results[table.name]
    policy = _python(result.outputs[output])[usable]
    comparison = pd.DataFrame(
        {
            "row": np.flatnonzero(usable) + 2,
            "recorded": y,
            "learned": learned,
            "learned_rule": [learned_rules[leaf_of[leaf]].id for leaf in tree.apply(x)],
            "policy": pd.Series(policy, dtype=object).map(lambda v: "" if v is None else str(v)).to_numpy(),
            "policy_rule": result.rules[usable],
        }
    )
    return LearnedTable(
        decision=table,
        output=output,
        inputs=variables,
        rules=learned_rules,
        rows_used=int(usable.sum()),
        left_out=left_out,
        training_accuracy=float((learned == y).mean()),
        holdout_accuracy=holdout,
        holdout_spread=spread,
        max_depth=max_depth,
        min_leaf=min_leaf,
        recorded_column=column,
        comparison=comparison,
        complete={v.name for v in variables if not env[v.name].isnull()[usable].any()},
    )


def _python(column: Column) -> np.ndarray:
    return to_python(column.type, column.values) if column.is_float else column.values


def _recorded_column(rules: RuleSet, frame: pd.DataFrame, output: str, wanted: str | None) -> str:
    from engine.evaluation.bind import variable_column

    if wanted is not None:
        if wanted not in frame.columns:
            raise DataError(f"the register has no column {wanted!r} (columns: {', '.join(map(str, frame.columns))})")
        return wanted
    for variable in rules.variables.values():
        if variable.records == output:
            found = variable_column(variable, frame.columns)
            if found is not None:
                return found
    raise DataError(
        f"no column of the register records {output}: name it with --from-column, or give the glossary "
        f"variable of that column 'records: {output}'"
    )


def _learned_inputs(rules: RuleSet, table: DecisionTable, env: dict[str, Column], wanted: list[str] | None):
    """The glossary variables to learn from: the table's inputs that are read from
    the register (not other decisions' outputs), or the ones asked for."""
    if wanted:
        unknown = [w for w in wanted if w not in rules.variables]
        if unknown:
            raise DataError(f"not in the glossary: {', '.join(unknown)}")
        missing = [w for w in wanted if w not in env]
        if missing:
            raise DataError(
                f"{', '.join(missing)}: not an input of {table.name} (its inputs: {', '.join(sorted(env))})"
            )
        return [rules.variables[w] for w in wanted]
    names = [
        c.expr.name
        for c in table.inputs
        if isinstance(c.expr, feel.Name)
        and c.expr.name in rules.variables
        and rules.producer(c.expr.name) is None
        and c.expr.name in env
    ]
    if not names:
        raise RuleError(f"decision {table.name} reads no register column to learn from")
    return [rules.variables[n] for n in dict.fromkeys(names)]


def _features(env: dict[str, Column], variables: list[Variable]):
    """The inputs as a float matrix for the tree: numbers and dates as they are
    (NaN for empty), booleans 0/1, strings one column per value seen (0/1)."""
    columns, names, kinds = [], [], []
    for var in variables:
        col = env[var.name]
        if col.type in ("number", "date", "boolean"):
            columns.append(col.values.astype(float))
            names.append((var.name, None))
            kinds.append(col.type)
        else:
            values = pd.Series(col.values, dtype=object)
            for value in sorted(values.dropna().astype(str).unique()):
                columns.append((values.astype(str) == value).to_numpy(dtype=float))
                names.append((var.name, value))
                kinds.append("string")
    return np.column_stack(columns), names, kinds


def _rules_from_tree(tree, x: np.ndarray, y: np.ndarray, names, kinds, variables):
    """One rule per leaf - a subtree whose leaves all give the same value is one
    rule - with the path's splits folded into one condition per input and
    thresholds rounded within the gap the training rows leave."""
    t = tree.tree_
    rules: list[LearnedRule] = []
    leaf_of: dict[int, int] = {}
    leaves = tree.apply(x)
    predicted = tree.classes_[np.argmax(t.value[:, 0, :], axis=1)]
    nullable = {
        v.name: bool(np.isnan(x[:, [i for i, (n, _) in enumerate(names) if n == v.name]]).any())
        or _has_empty_category(x, names, v.name)
        for v in variables
    }

    def leaves_under(node: int) -> list[int]:
        if t.children_left[node] == -1:
            return [node]
        return leaves_under(t.children_left[node]) + leaves_under(t.children_right[node])

    def walk(node: int, path: list[tuple[int, bool, float, bool, bool]]):
        under = leaves_under(node)
        if len({predicted[leaf] for leaf in under}) == 1:  # one value below: one rule
            rows = np.isin(leaves, under)
            value = predicted[under[0]]
            for leaf in under:
                leaf_of[leaf] = len(rules)
            rules.append(
                LearnedRule(
                    f"L{len(rules) + 1:02d}",
                    _conditions(path, names, kinds, variables, nullable),
                    value,
                    int(rows.sum()),
                    int((y[rows] == value).sum()),
                )
            )
            return
        f = int(t.feature[node])
        left_missing = bool(t.missing_go_to_left[node]) if hasattr(t, "missing_go_to_left") else True
        cut, at_most = _round_split(x[:, f], float(t.threshold[node]), kinds[f])
        walk(t.children_left[node], [*path, (f, True, cut, at_most, left_missing)])
        walk(t.children_right[node], [*path, (f, False, cut, at_most, not left_missing)])

    walk(0, [])
    return rules, leaf_of


def _has_empty_category(x: np.ndarray, names, name: str) -> bool:
    """A text input's empty cells: rows with 0 in every one of its value columns."""
    columns = [i for i, (n, value) in enumerate(names) if n == name and value is not None]
    return bool(columns) and bool((x[:, columns].sum(axis=1) == 0).any())


def _round_split(values: np.ndarray, threshold: float, kind: str) -> tuple[float, bool]:
    """The roundest cut that splits the training values as ``x <= threshold`` does:
    (cut, True) means 'x <= cut' (a cut at the largest value on the left), (cut,
    False) means 'x < cut' (a cut above it, at most the smallest on the right)."""
    if kind == "boolean":
        return threshold, True
    finite = values[~np.isnan(values)]
    left = finite[finite <= threshold]
    right = finite[finite > threshold]
    if not len(left) or not len(right):
        return threshold, True
    lo, hi = float(left.max()), float(right.min())
    if kind == "date":  # days: the last day on the left, as a date
        return lo, True
    best: tuple[float, bool] = (lo, True)
    for step in _steps(hi - lo, max(abs(lo), abs(hi))):
        at_lo = math.isclose(lo / step, round(lo / step), abs_tol=1e-9)
        if at_lo:
            return lo, True
        above = math.ceil(lo / step) * step
        if above <= hi:
            return float(round(above, 10)), False
    return best


def _steps(gap: float, scale: float):
    """Round numbers from coarse to fine: 1, 2, 5 times powers of ten."""
    top = 10 ** math.ceil(math.log10(max(scale, 1e-9)))
    step = top
    while step >= max(gap / 1000, 1e-6):
        for factor in (1, 0.5, 0.2):
            yield step * factor
        step /= 10


def _conditions(path, names, kinds, variables, nullable: dict[str, bool]) -> list[Condition]:
    conditions = []
    for var in variables:
        features = [i for i, (name, _) in enumerate(names) if name == var.name]
        kind = kinds[features[0]]
        cond = Condition(var.name, kind, nulls=nullable[var.name])
        if kind == "string":
            seen = [names[i][1] for i in features]
            # values the glossary allows but no training row holds go where an empty cell goes: left
            universe = seen + [str(v) for v in var.allowed_values if str(v) not in seen]
            allowed = set(universe)
            constrained = False
            for f, left, _cut, _at_most, _nulls in path:
                if f not in features:
                    continue
                constrained = True
                value = names[f][1]
                allowed = allowed - {value} if left else allowed & {value}
                cond.nulls = cond.nulls and left  # an empty cell has 0 in every value column: it goes left
            cond.values = tuple(v for v in universe if v in allowed) if constrained else None
            cond.universe = tuple(universe)
        elif kind == "boolean":
            allowed_b = {False, True}
            constrained = False
            for f, left, _cut, _at_most, nulls in path:
                if f in features:
                    constrained = True
                    allowed_b &= {False} if left else {True}
                    cond.nulls = cond.nulls and nulls
            cond.values = tuple(v for v in (True, False) if v in allowed_b) if constrained else None
        else:
            for f, left, cut, at_most, nulls in path:
                if f not in features:
                    continue
                cond.nulls = cond.nulls and nulls
                if left:  # x <= cut (at_most) or x < cut
                    if cond.high is None or cut < cond.high or (cut == cond.high and not at_most):
                        cond.high, cond.high_closed = cut, at_most
                elif cond.low is None or cut > cond.low or (cut == cond.low and at_most):
                    cond.low, cond.low_closed = cut, not at_most
            if not any(f in features for f, *_ in path):
                cond.nulls = nullable[var.name]
        conditions.append(cond)
    return conditions


def write_rule_workbook(table: LearnedTable, rules: RuleSet, path: str | Path) -> Path:
    """The learned table in kade's rule-workbook layout (hit policy UNIQUE, one rule
    per leaf, annotated with support and accuracy), with the glossary and entities it
    needs, so it loads on its own and compares with the policy (`kade rules diff`)."""
    from openpyxl import Workbook

    from engine.io.writers import atomic_path
    from engine.model.rulebook import add_decision_sheet, add_glossary_sheets

    out = Path(path)
    used = {v.name for v in table.inputs} | {table.output}
    glossary = [
        _glossary_row(rules.variables[name], name in table.complete) for name in rules.variables if name in used
    ]
    if table.output not in rules.variables:
        clause = table.decision.outputs[0]
        glossary.append(
            [
                table.output,
                table.decision.entity,
                "",
                clause.type or "string",
                ", ".join(feel.feel_literal(v) for v in clause.allowed_values),
            ]
        )
    entity_names = _entity_chain(rules, table.decision.entity or "", {v.entity for v in table.inputs})
    entities = [  # a parent no input comes from is left out, and so is the link to it
        [
            e.name,
            " | ".join(e.sheets),
            e.key,
            *((e.parent, " | ".join(e.link or ())) if e.parent in entity_names else ("", "")),
        ]
        for name, e in rules.entities.items()
        if name in entity_names
    ]
    wb = Workbook()
    wb.remove(wb.active)
    add_glossary_sheets(wb, glossary, entities)
    columns = [("input", v.name) for v in table.inputs] + [("output", table.output)]
    cells = [
        [r.id, *(c.cell() for c in r.conditions), feel.feel_literal(r.output), r.annotation()] for r in table.rules
    ]
    title = (
        f"{table.decision.title or table.decision.name} - learned from {table.rows_used:,} rows "
        f"(hold-out accuracy {table.holdout_accuracy:.0%})"
    )
    add_decision_sheet(wb, table.decision.name, table.decision.entity or "", "U", columns, cells, title=title)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        wb.save(tmp)
    return out


def _glossary_row(v: Variable, required: bool = False) -> list:
    """The variable's glossary row as the policy's glossary has it; ``required`` when
    no training row left it empty (the learned table has no rule for empty cells)."""
    allowed = feel.unary_tests_text(v.allowed) if v.allowed is not None else ""
    return [
        v.name,
        v.entity or "",
        " | ".join(v.headers),
        v.type or "",
        allowed,
        v.label,
        v.description,
        v.records or "",
        v.compare or "",
        "yes" if (v.required or required) else "",
    ]


def _entity_chain(rules: RuleSet, entity: str, others: set) -> set[str]:
    """The entity and every ancestor up to the ones the inputs come from."""
    chain, current = set(), entity
    while current and current in rules.entities:
        chain.add(current)
        if not (others - chain):
            break
        current = rules.entities[current].parent or ""
    return chain


# ------------------------------------------------------- practice vs policy ----


@dataclass
class Departure:
    """Where a learned rule departs from the written policy."""

    rule: str  # the learned rule
    output: object
    rows: int | None  # rows the learned rule decides differently from the policy (None: not counted)
    policy_rules: dict[str, int]  # policy rule -> how many of those rows it decides
    counterpart: str | None  # the policy rule with the same output it is compared with (None: only in practice)
    moved: list[tuple[str, str, str]]  # (input, the policy's cell, the practice's cell)

    def text(self) -> str:
        if self.rows is None:  # no register to count on
            return self._moves(f"{self.rule} → {format_value(self.output)}")
        where = ", ".join(f"{r} {n:,}" for r, n in sorted(self.policy_rules.items(), key=lambda kv: -kv[1]))
        return self._moves(
            f"{self.rule} → {format_value(self.output)}: {self.rows:,} {'row' if self.rows == 1 else 'rows'} the policy decides otherwise ({where})"
        )

    def _moves(self, head: str) -> str:
        if self.counterpart is None:
            return head + "; a rule that exists only in practice"
        moves = "; ".join(f"{name} {old} → {new}" for name, old, new in self.moved) or "the same conditions"
        return head + f"; against {self.counterpart}: {moves}"


def departures(policy: DecisionTable, learned: DecisionTable, comparison: pd.DataFrame | None) -> list[Departure]:
    """For each learned rule that decides rows otherwise than the policy: how many, by
    which policy rules, and how its conditions differ from the policy rule giving
    the same value (the thresholds that moved) - or that no policy rule gives it.
    ``comparison``: per row the learned and policy values and rule ids (None: no
    rows to count on - every learned rule is compared)."""
    out = []
    differs = None if comparison is None else comparison[comparison["learned"] != comparison["policy"]]
    for rule in learned.rules:
        mine = None if differs is None else differs[differs["learned_rule"] == rule.id]
        if mine is not None and not len(mine):
            continue
        value = rule.outputs[0].value if isinstance(rule.outputs[0], feel.Literal) else None
        counterpart = _counterpart(policy, learned, rule, value)
        moved = []
        if counterpart is not None:
            for k, clause in enumerate(learned.inputs):
                j = _input_index(policy, clause)
                old = feel.feel_text(counterpart.inputs[j]) if j is not None else "-"
                new = feel.feel_text(rule.inputs[k])
                if old != new:
                    moved.append((clause.label, old, new))
        out.append(
            Departure(
                rule.id,
                value,
                None if mine is None else len(mine),
                {} if mine is None else {str(r): int(n) for r, n in mine["policy_rule"].value_counts().items()},
                counterpart.id if counterpart is not None else None,
                moved,
            )
        )
    return sorted(out, key=lambda d: -(d.rows or 0))


def _input_index(table: DecisionTable, clause) -> int | None:
    return next((j for j, c in enumerate(table.inputs) if c.expr == clause.expr), None)


def _counterpart(policy: DecisionTable, learned: DecisionTable, rule, value):
    """The policy rule giving the same value whose conditions are most like the rule's."""
    same = [r for r in policy.rules if isinstance(r.outputs[0], feel.Literal) and r.outputs[0].value == value]

    def alike(candidate) -> int:
        score = 0
        for k, clause in enumerate(learned.inputs):
            j = _input_index(policy, clause)
            constrained_here = not isinstance(rule.inputs[k], feel.AnyTest)
            constrained_there = j is not None and not isinstance(candidate.inputs[j], feel.AnyTest)
            score += constrained_here == constrained_there
        return score

    return max(same, key=alike) if same else None


# ------------------------------------------------------------------ report ----


def write_report(table: LearnedTable, learned: DecisionTable, found: list[Departure], target: str | Path) -> Path:
    """The learning report (.xlsx): the fit, the departures from the policy with their
    row counts, the learned table, and recorded × learned / recorded × policy tables
    with native charts of how often each agrees with what the register records."""
    import xlsxwriter

    from engine.io.writers import atomic_path

    target = Path(target)
    with atomic_path(target, ".xlsx") as tmp:
        book = xlsxwriter.Workbook(
            str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
        )
        bold = book.add_format({"bold": True})
        head = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
        wrap = book.add_format({"text_wrap": True, "valign": "top"})
        pct = book.add_format({"num_format": "0.0%"})
        summary = book.add_worksheet("Summary")
        summary.set_column(0, 0, 110)
        summary.write(0, 0, f"kade rules learn: {table.decision.name}", bold)
        row = 2
        for line in table.lines():
            summary.write(row, 0, line)
            row += 1
        row += 1
        summary.write(row, 0, "Where practice departs from the written policy", bold)
        row += 1
        for departure in found or []:
            summary.write(row, 0, departure.text(), wrap)
            row += 1
        if not found:
            summary.write(row, 0, "nowhere: the learned table decides every row as the policy does")
            row += 1
        row += 1
        values = sorted(
            set(table.comparison["recorded"]) | set(table.comparison["learned"]) | set(table.comparison["policy"])
        )
        agree = book.add_worksheet("Agreement")
        agree.write_row(0, 0, ["recorded value", "rows", "learned agrees", "policy agrees"], head)
        for i, value in enumerate(values, start=1):
            rows = table.comparison[table.comparison["recorded"] == value]
            agree.write(i, 0, value)
            agree.write(i, 1, len(rows))
            agree.write(i, 2, float((rows["learned"] == value).mean()) if len(rows) else 0.0, pct)
            agree.write(i, 3, float((rows["policy"] == value).mean()) if len(rows) else 0.0, pct)
        chart = book.add_chart({"type": "column"})
        for col, name, colour in ((2, "learned table", "#4472C4"), (3, "written policy", "#A5A5A5")):
            chart.add_series(
                {
                    "name": name,
                    "categories": ["Agreement", 1, 0, len(values), 0],
                    "values": ["Agreement", 1, col, len(values), col],
                    "fill": {"color": colour},
                }
            )
        chart.set_title({"name": "How often each agrees with the recorded value"})
        chart.set_y_axis({"num_format": "0%", "max": 1})
        summary.insert_chart(row, 0, chart, {"x_scale": 1.3, "y_scale": 1.1})
        sheet = book.add_worksheet("Learned table")
        headers = ["rule", *(v.name for v in table.inputs), table.output, "rows", "recorded so", "accuracy"]
        sheet.write_row(0, 0, headers, head)
        for i, rule in enumerate(table.rules, start=1):
            sheet.write_row(i, 0, [rule.id, *(c.cell() for c in rule.conditions), format_value(rule.output)])
            sheet.write(i, len(headers) - 3, rule.support)
            sheet.write(i, len(headers) - 2, rule.correct)
            sheet.write(i, len(headers) - 1, rule.accuracy, pct)
        sheet.set_column(0, len(headers), 16)
        for title, against in (("Recorded x learned", "learned"), ("Recorded x policy", "policy")):
            ws = book.add_worksheet(title)
            matrix = table.confusion(against)
            ws.write(0, 0, f"rows per recorded value (down) and {against} value (across)", bold)
            ws.write_row(1, 1, [str(c) for c in matrix.columns], head)
            for i, (label, counts) in enumerate(matrix.iterrows(), start=2):
                ws.write(i, 0, str(label), head)
                ws.write_row(i, 1, [int(n) for n in counts])
            ws.set_column(0, len(matrix.columns), 18)
        book.close()
    return target


def is_learned(table: DecisionTable) -> bool:
    """A table `kade rules learn` wrote (its rules annotated 'learned: ...')."""
    return bool(table.rules) and all(r.annotation.startswith("learned:") for r in table.rules)


def practice_vs_policy(policy: RuleSet, practice: RuleSet, workbook: str | Path | None = None) -> tuple[list[str], int]:
    """`kade rules diff POLICY LEARNED [--against WORKBOOK]` when LEARNED is a learned
    table: per learned decision, where it departs from the policy - which thresholds
    moved, which rules exist only in practice - and, with a register, how many of
    its rows each departure covers.Returns the lines and how many rows
    are decided otherwise (0 without a register)."""
    from engine.evaluation.bind import bind
    from engine.evaluation.decisions import evaluate
    from engine.io.registers import read_workbook

    lines: list[str] = []
    changed = 0
    sheets = read_workbook(workbook) if workbook is not None else None
    for learned in (t for t in practice.decisions if is_learned(t)):
        try:
            written = policy.decision(learned.name)
        except KeyError:
            lines.append(f"{learned.name}: learned, but the policy has no such decision")
            continue
        lines.append(
            f"{learned.name}: the practice learned ({len(learned.rules)} rules, hit policy {learned.hit_policy}) "
            f"against the policy ({len(written.rules)} rules, hit policy {written.hit_policy})"
        )
        if sheets is not None:
            whole = _whole_policy(policy)  # the decisions the policy table needs (client_tier...) too
            comparison = _compared_rows(
                evaluate(whole, bind(whole, sheets, str(workbook)), reasons=False),
                evaluate(practice, bind(practice, sheets, str(workbook)), reasons=False),
                learned.name,
            )
            same = int((comparison["learned"] == comparison["policy"]).sum())
            changed += len(comparison) - same
            lines.append(f"  {same:,} of {len(comparison):,} rows of {workbook} are decided the same")
        else:
            comparison = None
        found = departures(written, learned, comparison)
        lines += [f"  {departure.text()}" for departure in found]
        if not found:
            lines.append("  no departure: the practice decides as the policy does")
    return lines, changed


def _whole_policy(policy: RuleSet) -> RuleSet:
    """A rule set loaded from one workbook (its siblings' glossary read with it) lacks
    the decisions of the other workbooks beside it: the whole folder has them."""
    from engine.model.rulebook import load_rules

    folders = {Path(f).parent for f in policy.sources}
    if len(policy.sources) == 1 and len(folders) == 1:
        return load_rules(folders.pop())
    return policy


def _compared_rows(before: Evaluation, after: Evaluation, decision: str) -> pd.DataFrame:
    """Rows both versions decide: policy and practice value and rule per row."""
    a, b = before.results[decision], after.results[decision]
    output = b.decision.outputs[0].name
    ok = is_none(a.errors) & is_none(b.errors)
    text = lambda column: pd.Series(_python(column), dtype=object).map(lambda v: "" if v is None else str(v))
    return pd.DataFrame(
        {
            "learned": text(b.outputs[output]).to_numpy()[ok],
            "policy": text(a.outputs[output]).to_numpy()[ok],
            "learned_rule": b.rules[ok],
            "policy_rule": a.rules[ok],
        }
    )
