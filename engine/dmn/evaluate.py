"""Evaluate a loaded DMN model for one set of input values, the way the TCK and a
decision service call it: every decision, dependencies first, with DMN's
semantics - no matching rule gives null (``strict=False``), a hit-policy
violation gives null with an error, a value that does not conform to its
declared type is null.

The decision tables run through the same ``evaluate_table`` as the Excel path,
on one row; this module only binds the inputs and assembles each decision's
value (a value, a context of its output components, or a list)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.dmn.model import DmnDecision, DmnModel
from engine.dmn.types import column_of, conforming_column, conforms, kind_of, null_column, python_value
from engine.evaluation.decisions import DecisionResult, evaluate_table
from engine.evaluation.vectorized import eval_expr, test_mask
from engine.feel import feel_literal


@dataclass(frozen=True)
class DecisionOutcome:
    value: object  # float / str / bool / date / None, a list, or a dict of components
    error: str | None = None  # why the value is null, when it is null because of an error


@dataclass
class DmnEvaluation:
    decisions: dict[str, DecisionOutcome]
    input_problems: list[str] = field(default_factory=list)  # inputs that did not conform and were read as null


def evaluate_dmn(model: DmnModel, inputs: Mapping[str, object], *, matcher=None) -> DmnEvaluation:
    """Evaluate every decision of ``model`` for ``inputs`` (DMN input-data name ->
    Python value; a dict for a structured input; missing means null).
    ``matcher``: which evaluator matches the table rows (default vectorized)."""
    env: dict = {}
    problems: list[str] = []
    for name, dmn_input in model.inputs.items():
        value = inputs.get(name)
        for path, kade_name, type_ in dmn_input.paths:
            column, problem = conforming_column(_at(value, path), type_)
            env[kade_name] = column
            if problem:
                problems.append(f"input {'.'.join((name, *path))}: {problem}; read as null")
    env.update(model.functions)
    by_table = {d.table.name: d for d in model.decisions.values()}
    outcomes: dict[str, DecisionOutcome] = {}
    for table in model.rules.decisions:
        decision = by_table[table.name]
        error = decision.error or outside_input_values(decision, env)
        if error is not None:
            for out in table.outputs:
                env[out.name] = null_column(out.type)
            outcomes[decision.name] = DecisionOutcome(None, error)
            continue
        result = evaluate_table(
            table,
            env,
            1,
            strict=False,
            reasons=False,
            variables=model.rules.variables,
            **({"matcher": matcher} if matcher is not None else {}),
        )
        error = result.errors[0]
        value = None if error is not None else decision_value(decision, result)
        if error is None:
            error = nonconformance(decision, result, value)
            if error is not None:
                value = None
        for out in table.outputs:
            env[out.name] = result.outputs[out.name] if value is not None else null_column(out.type)
        outcomes[decision.name] = DecisionOutcome(value, error)
    return DmnEvaluation(outcomes, problems)


def decision_value(decision: DmnDecision, result: DecisionResult):
    """A decision's value from its table's outputs (row 0)."""
    if decision.output is not None:
        return python_value(result.outputs[decision.output])
    parts = {component: python_value(result.outputs[kade_name]) for component, kade_name in decision.components}
    if not decision.collects:
        return parts
    # a multi-hit table with several outputs: a list of contexts, one per matching rule
    lists = [parts[c] or [] for c, _ in decision.components]
    return [dict(zip((c for c, _ in decision.components), row)) for row in zip(*lists)]


def outside_input_values(decision: DmnDecision, env: dict) -> str | None:
    """A table input whose value is not among its inputValues makes the table's
    result null with an error (null itself is always allowed)."""
    for clause, allowed in zip(decision.table.inputs, decision.input_values):
        if allowed is None:
            continue
        column = eval_expr(clause.expr, env, 1)
        if not column.isnull()[0] and not test_mask(allowed, column, env)[0]:
            return f"input {clause.label} = {feel_literal(python_value(column))} is not among its input values"
    return None


def nonconformance(decision: DmnDecision, result: DecisionResult, value) -> str | None:
    """Why the decision's value does not conform to its declared types and
    output values (the decision's variable, each output clause), or None."""
    if not conforms(value, decision.type):
        return f"result {feel_literal(value)} does not conform to type {decision.type.name if decision.type else 'Any'}"
    checks = zip(
        decision.table.outputs,
        decision.output_types or [None] * len(decision.table.outputs),
        decision.output_values or [None] * len(decision.table.outputs),
    )
    for clause, type_, allowed in checks:
        if type_ is None and allowed is None:
            continue
        produced = python_value(result.outputs[clause.name])
        for item in (produced or []) if decision.collects else [produced]:
            if not conforms(item, type_):
                return f"output {clause.name} = {feel_literal(item)} does not conform to type {type_.name}"
            if (
                allowed is not None
                and item is not None
                and not test_mask(allowed, column_of(item, kind_of(item)), {})[0]
            ):
                return f"output {clause.name} = {feel_literal(item)} is not among its output values"
    return None


def _at(value, path: tuple):
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return value
