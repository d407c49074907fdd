"""Plain-language explanation of one audited row (the text `kade explain` prints):
per decision the outcome, the rule and its annotation, the reason with the row's
values, and what would change the decision - the closest rules that give another
outcome, as sentences.

The reason and the sentences are made here, when asked, from the row as the
audit trail keeps it (its inputs and decision values) and the rules that decided
it: the trail stores only which rules were closest, not their words."""

from __future__ import annotations

import numpy as np

from engine.evaluation import trace
from engine.evaluation.columns import Column, literal_value
from engine.evaluation.decisions import evaluate_table
from engine.evaluation.vectorized import eval_expr
from engine.model import SINGLE_HIT, DecisionTable, RuleSet
from engine.model.graph import referenced_names
from engine.text import format_value

_NOT_OUTPUTS = ("rule", "error", "near_misses", "reason", "annotation")
SHOWN_CHANGES = 3  # sentences per decision; rules that need another category are summarised after them


def decisions_of(row: dict) -> list[str]:
    """The decisions an audited row holds, in evaluation order."""
    return [field[: -len(".rule")] for field in row if field.endswith(".rule")]


def explain_row(
    entity: str,
    row: dict,
    annotations: dict | None = None,
    decision: str | None = None,
    rules: RuleSet | None = None,
    recorded: tuple[str, dict] | None = None,
) -> str:
    """``row``: one audited row (engine.audit.row_table); ``annotations``:
    decision -> rule id -> annotation, from the run header; ``rules``: the rules
    that decided the row, for the reason and what would change it (without them
    only the recorded near-miss rule ids are shown); ``recorded``: (run id, the
    same row in an earlier audited run) - its outcome is shown where it differs."""
    annotations = annotations or {}
    lines = [f"{entity} {row.get('key')} (sheet row {row.get('row')})"]
    names = [decision] if decision is not None else decisions_of(row)
    for name in names:
        lines.append("")
        lines.extend(_decision_lines(name, row, annotations.get(name, {}), rules, recorded))
    inputs = {k[3:]: v for k, v in row.items() if k.startswith("in.")}
    if inputs:
        lines.append("")
        lines.append("  inputs used: " + ", ".join(f"{k} = {format_value(v)}" for k, v in inputs.items()))
    return "\n".join(lines)


def _decision_lines(name: str, row: dict, notes: dict, rules: RuleSet | None, recorded) -> list[str]:
    lines = []
    outcome = _outcome(name, row)
    if row.get(f"{name}.error"):
        lines.append(f"  {name}: not decided — {row[f'{name}.error']}")
    else:
        lines.append(f"  {name}: {outcome}")
    if recorded is not None:
        run_id, before = recorded
        if f"{name}.rule" in before and (_outcome(name, before), before.get(f"{name}.rule")) != (
            outcome,
            row.get(f"{name}.rule"),
        ):
            was = f"not decided — {before[f'{name}.error']}" if before.get(f"{name}.error") else _outcome(name, before)
            lines.append(f"    audited:     {was} (rule {before.get(f'{name}.rule')}) in run {run_id}")
    if row.get(f"{name}.error"):
        return lines
    rule_ids = row.get(f"{name}.rule") or ""
    lines.append(f"    rule:        {rule_ids}")
    why = [notes.get(i) for i in rule_ids.split(", ")]
    if any(why):
        lines.append(f"    why:         {' / '.join(w for w in why if w)}")
    table = next((t for t in rules.decisions if t.name == name), None) if rules is not None else None
    derived = _derive(rules, table, row) if rules is not None and table is not None else None
    if derived is not None:
        reason, changes = derived
        if reason:
            lines.append(f"    reason:      {reason}")
        shown = [c for c in changes if c.by_degree][:SHOWN_CHANGES]
        others = trace.summary([c for c in changes if not c.by_degree])
        if shown or others:
            lines.append("    what would change it:")
            lines.extend(f"      - {c.sentence()}" for c in shown)
            lines.extend(f"      - {line}" for line in others)
    else:
        lines.extend(_recorded_near_misses(row.get(f"{name}.near_misses")))
    return lines


def _outcome(name: str, row: dict) -> str:
    outputs = {
        k.split(".", 1)[1]: v
        for k, v in row.items()
        if k.startswith(name + ".") and k.split(".", 1)[1] not in _NOT_OUTPUTS
    }
    return ", ".join(f"{k} = {format_value(v)}" for k, v in outputs.items())


def _recorded_near_misses(misses) -> list[str]:
    """Near misses as an audit record holds them when the rules are not at hand:
    rule ids, closest first (or, in runs before 0.x, one sentence each)."""
    if not misses:
        return []
    if "→" in misses:  # older runs kept each near miss as text
        return ["    near misses:", *(f"      - {m}" for m in misses.split(" | "))]
    return [f"    near misses: {misses} (closest first)"]


# ------------------------------------------------------- one row, again --------


def _derive(rules: RuleSet, table: DecisionTable, row: dict) -> tuple[str | None, list[trace.Change]] | None:
    """The reason and the ranked changes of one decision, re-derived from the
    row's recorded values; None when the row lacks a value the table needs or
    the values do not give the recorded outcome (then nothing is made up)."""
    env = _row_env(rules, table, row)
    if env is None:
        return None
    result = evaluate_table(table, env, 1, reasons=True, variables=rules.variables)
    if result.errors[0] is not None or result.rules[0] != row.get(f"{table.name}.rule"):
        return None
    inputs = [eval_expr(c.expr, env, 1) for c in table.inputs]
    winner = None
    if table.hit_policy in SINGLE_HIT:
        ids = [r.id for r in table.rules]
        winner = np.array([ids.index(result.rules[0]) if result.rules[0] in ids else -1])
    assert result.matches is not None  # evaluate_table always returns the match matrix
    ranked = trace.near_misses(table, inputs, env, result.matches, np.ones(1, bool), winner, keep=len(table.rules))
    order = [int(r) for r in ranked[:, 0] if r != trace.NONE]
    return result.reasons[0], trace.changes(table, order, inputs, env, rules.variables)


def _row_env(rules: RuleSet, table: DecisionTable, row: dict) -> dict[str, Column] | None:
    env = {}
    for name in referenced_names(table):
        producer = rules.producer(name)
        own = f"{producer.name}.{name}" if producer is not None else None
        field = own if own in row else f"in.{name}"
        if field not in row:
            return None
        if producer is not None:
            type_ = next(o.type for o in producer.outputs if o.name == name)
        else:
            type_ = rules.variables[name].type if name in rules.variables else None
        env[name] = _column(type_, row[field])
    return env


def _column(type_: str | None, value) -> Column:
    """One recorded value as a one-row column of its type."""
    if type_ is None:
        if isinstance(value, bool):
            type_ = "boolean"
        elif isinstance(value, (int, float)):
            type_ = "number"
        elif isinstance(value, list):
            type_ = "list"
    if type_ in ("number", "boolean", "date"):
        return Column(type_, np.array([np.nan if value is None else literal_value(type_, value)], dtype=float))
    values = np.empty(1, dtype=object)
    values[0] = value
    return Column(type_ or "string", values)
