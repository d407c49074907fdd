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
from engine.evaluation.columns import Column, to_python
from engine.evaluation.decisions import Evaluation, table_environment
from engine.model import DecisionTable, RuleSet, Variable
from engine.text import format_value

MIN_ROWS = 30  # never learn from fewer rows than this
ROWS_PER_INPUT = 10  # ... nor from fewer than this many rows per input
DEFAULT_MAX_DEPTH = 4
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
    usable = ~empty & ~unknown
    left_out = {"recorded value empty": int(empty.sum()), "recorded value not an allowed value": int(unknown.sum())}
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
    )


def _python(column: Column) -> np.ndarray:
    return to_python(column.type, column.values) if column.is_float else column.values


def _recorded_column(rules: RuleSet, frame: pd.DataFrame, output: str, wanted: str | None) -> str:
    from engine.analysis.compliance import find_column

    if wanted is not None:
        if wanted not in frame.columns:
            raise DataError(f"the register has no column {wanted!r} (columns: {', '.join(map(str, frame.columns))})")
        return wanted
    for variable in rules.variables.values():
        if variable.records == output:
            found = find_column(frame, variable)
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
            universe = [names[i][1] for i in features]
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


def describe(table: LearnedTable) -> list[str]:
    """The learned rules as lines: cells, output, support and accuracy."""
    lines = []
    for rule in table.rules:
        cells = ", ".join(f"{c.name} {c.cell()}" for c in rule.conditions if c.cell() != "-")
        lines.append(f"{rule.id}: {cells or 'any row'} -> {format_value(rule.output)}  ({rule.annotation()})")
    return lines


def write_rule_workbook(table: LearnedTable, rules: RuleSet, path: str | Path) -> Path:
    """The learned table in kade's rule-workbook layout (hit policy UNIQUE, one rule
    per leaf, annotated with support and accuracy), with the glossary and entities it
    needs, so it loads on its own and compares with the policy (`kade rules diff`)."""
    from openpyxl import Workbook

    from engine.io.writers import atomic_path
    from engine.model.rulebook import add_decision_sheet, add_glossary_sheets

    out = Path(path)
    used = {v.name for v in table.inputs} | {table.output}
    glossary = [_glossary_row(rules.variables[name]) for name in rules.variables if name in used]
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
    entities = [
        [e.name, " | ".join(e.sheets), e.key, e.parent or "", " | ".join(e.link or ())]
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


def _glossary_row(v: Variable) -> list:
    allowed = ", ".join(feel.feel_literal(a) for a in v.allowed_values) if v.allowed_values else ""
    return [v.name, v.entity or "", " | ".join(v.headers), v.type or "", allowed, v.label, v.description]


def _entity_chain(rules: RuleSet, entity: str, others: set) -> set[str]:
    """The entity and every ancestor up to the ones the inputs come from."""
    chain, current = set(), entity
    while current and current in rules.entities:
        chain.add(current)
        if not (others - chain):
            break
        current = rules.entities[current].parent or ""
    return chain
