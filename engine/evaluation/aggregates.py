"""Glossary values computed from the rules themselves, once per rule set (the
glossary's ``computed`` column): an aggregate of a decision output over the
rules of a lookup table. The ★ cut-off is ``average of industry_total over
industry_attractiveness``: each rule of the industry table is read as one row
whose values are its input cells (the segment), the decisions between that
table and ``industry_total`` run on those rows, and the totals are averaged.
Editing a row of the table moves the value; the default row is not a row.

A computed value is then a constant: bound as a column of its entity's rows
(``engine.evaluation.bind``) and substituted into the tests the matchers see
(``with_constants``), so durable-rules, which cannot compare two columns,
evaluates them too."""

from __future__ import annotations

import dataclasses
from typing import NoReturn

import numpy as np

from engine import feel
from engine.errors import RuleError, RuleErrors, RuleStructureError
from engine.evaluation.columns import Column, literal_value
from engine.model import DecisionTable, RuleSet, Variable
from engine.model.graph import referenced_names


def compute_values(rules: RuleSet) -> dict[str, Variable]:
    """The glossary with every computed variable's ``value`` filled in - those the
    loaded decisions use, or whose table is loaded: one rule workbook loaded on its
    own reads its siblings' glossary, which may compute values over tables that are
    not loaded and that nothing loaded needs."""
    variables = dict(rules.variables)
    errors: list[RuleError] = []
    used = set().union(*(referenced_names(t) for t in rules.decisions)) if rules.decisions else set()
    loaded = {t.name for t in rules.decisions}
    for var in rules.variables.values():
        if var.computed is None or (var.name not in used and var.computed.over not in loaded):
            continue
        try:
            variables[var.name] = dataclasses.replace(var, value=_compute(var, rules))
        except RuleError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise RuleErrors(errors)
    return variables


def constant_column(variable: Variable, n: int) -> Column:
    """A computed value as a column of n equal values."""
    return Column(variable.type, np.full(n, literal_value(variable.type, variable.value), dtype=float))


def with_constants(table: DecisionTable, variables: dict[str, Variable]) -> DecisionTable:
    """The table with computed values written into its input tests as literals
    (what a matcher sees); the table itself keeps the names for reasons and exports."""
    constants = {
        name: var
        for name in _names_in_tests(table)
        if (var := variables.get(name)) is not None and var.computed is not None and var.value is not None
    }
    if not constants:
        return table

    def substitute(node):
        if isinstance(node, feel.Name) and node.name in constants:
            var = constants[node.name]
            return feel.Literal(var.value, var.type, feel.literal_text(feel.Literal(var.value, var.type)))
        if dataclasses.is_dataclass(node) and not isinstance(node, feel.Literal):
            return feel.map_children(node, substitute)
        return node

    rules = tuple(dataclasses.replace(r, inputs=tuple(substitute(t) for t in r.inputs)) for r in table.rules)
    return dataclasses.replace(table, rules=rules)


def _names_in_tests(table: DecisionTable) -> set[str]:
    return {name for rule in table.rules for test in rule.inputs for name in feel.names_in(test)}


# ----------------------------------------------------------------- computing ---


def _compute(var: Variable, rules: RuleSet) -> float:
    agg = var.computed
    assert agg is not None
    where = agg.position if agg.position.file else var.position

    def fail(message: str, position=None) -> NoReturn:
        raise RuleStructureError(f"computed value {var.name}: {message}", position or where)

    if var.type != "number":
        fail(f"an aggregate is a number; the glossary types {var.name} as {var.type}")
    try:
        over = rules.decision(agg.over)
    except KeyError:
        fail(f"no decision table is called {agg.over}")
    producer = rules.producer(agg.output)
    if producer is None:
        fail(f"no decision table produces {agg.output}")
    env = _rows_of(over, fail)
    n = len(over.rules)
    needed = _upstream(producer, rules)
    if over.name not in needed:
        fail(f"{agg.output} does not depend on {agg.over}")
    from engine.evaluation.decisions import evaluate_table

    for table in rules.decisions:
        if table.name not in needed or all(o in env for o in table.output_names):
            continue  # upstream of the lookup table: its outputs are the rows' values
        names = referenced_names(table)
        missing = sorted(name for name in names if name not in env)
        if missing:
            fail(f"{table.name} needs {', '.join(missing)}, which the rules of {agg.over} do not give")
        result = evaluate_table(table, {k: env[k] for k in names}, n, reasons=False, variables=rules.variables)
        for i, error in enumerate(result.errors):
            if error is not None:
                fail(f"for rule {over.rules[i].id} of {agg.over}, {table.name} fails: {error}", over.rules[i].position)
        env.update(result.outputs)
    column = env[agg.output]
    if agg.function == "count":
        return float(n)
    if column.type != "number" or not column.is_float:
        fail(f"{agg.output} is not a number")
    values = column.values
    if np.isnan(values).any():
        i = int(np.flatnonzero(np.isnan(values))[0])
        fail(f"{agg.output} is empty for rule {over.rules[i].id} of {agg.over}", over.rules[i].position)
    if agg.function == "average":
        return float(values.mean())
    if agg.function == "sum":
        return float(values.sum())
    return float(values.min() if agg.function == "min" else values.max())


def _rows_of(over: DecisionTable, fail) -> dict[str, Column]:
    """The lookup table's rules as rows: each input cell must be one value."""
    if not over.rules:
        fail(f"{over.name} has no rules")
    env: dict[str, Column] = {}
    for j, clause in enumerate(over.inputs):
        if not isinstance(clause.expr, feel.Name):
            fail(f"input {clause.label!r} of {over.name} is an expression, not a glossary name", clause.position)
        values = []
        for rule in over.rules:
            value = _single_value(rule.inputs[j])
            if value is _NOT_ONE:
                fail(
                    f"rule {rule.id} of {over.name} must give {clause.label} one value to be read as a row, "
                    f"got {feel.unary_tests_text(rule.inputs[j])}",
                    rule.cells[j] if j < len(rule.cells) else rule.position,
                )
            values.append(literal_value(clause.type, value))
        if clause.type in ("number", "boolean", "date"):
            column = Column(clause.type, np.array([np.nan if v is None else v for v in values], dtype=float))
        else:
            column = Column(clause.type, np.array(values, dtype=object))
        env[clause.expr.name] = column
    return env


_NOT_ONE = object()


def _single_value(test):
    if isinstance(test, feel.AnyOf) and len(test.tests) == 1:
        test = test.tests[0]
    if isinstance(test, feel.Compare) and test.op == "=" and isinstance(test.endpoint, feel.Literal):
        return test.endpoint.value
    return _NOT_ONE


def _upstream(table: DecisionTable, rules: RuleSet) -> set[str]:
    """The decision and every decision it (transitively) uses."""
    seen: set[str] = set()
    todo = [table]
    while todo:
        current = todo.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        for name in referenced_names(current):
            producer = rules.producer(name)
            if producer is not None:
                todo.append(producer)
    return seen
