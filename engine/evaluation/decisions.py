"""Evaluate decisions: one table over typed columns, and the whole decision
graph over a workbook's entities. Pure: no I/O."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine import feel
from engine.errors import EvaluatorError
from engine.evaluation import ENGINES
from engine.evaluation.aggregates import with_constants
from engine.evaluation.bind import EntityRows
from engine.evaluation.columns import NULL, Column, is_none, literal_value, to_python
from engine.evaluation.hitpolicy import decide, ids_text, rule_lists, validate
from engine.evaluation.reasons import input_texts, joined, outputs_text, reason_templates, rule_reasons
from engine.evaluation.trace import near_misses
from engine.evaluation.vectorized import eval_expr, test_mask
from engine.model import AGGREGATING, SINGLE_HIT, DecisionTable, RuleSet
from engine.model.graph import referenced_names
from engine.text import value_text


@dataclass
class DecisionResult:
    """Per row: outputs, deciding rule id(s), reason, error (None when decided).

    Reasons are made when asked for: ``reason_blocks`` builds those of some rows (a
    writer takes them a block at a time, so a million rows' reasons are never held
    at once), ``reason_text`` is all of them as Arrow text (null = none) and
    ``reasons`` as Python strings, each built on first use."""

    decision: DecisionTable
    outputs: dict[str, Column]
    rules: np.ndarray
    reason_blocks: ReasonBlocks = field(repr=False)
    errors: np.ndarray
    matches: np.ndarray | None = field(repr=False, default=None)  # (R, n) rules that matched
    # (trace.KEEP, n) int16: per row the rules closest to another outcome (engine.evaluation.trace)
    near_misses: np.ndarray | None = field(repr=False, default=None)

    @functools.cached_property
    def ok(self) -> np.ndarray:
        """Rows that were decided (``errors`` is not changed after evaluation)."""
        return is_none(self.errors)

    @functools.cached_property
    def reason_text(self) -> pa.ChunkedArray:
        """Every row's reason as Arrow text, null where there is none."""
        return self.reason_blocks.all()

    @functools.cached_property
    def reasons(self) -> np.ndarray:
        """Per row: the reason as a Python string, or None."""
        return np.asarray(self.reason_text.to_numpy(zero_copy_only=False), dtype=object)


def _first_message(*messages) -> np.ndarray | None:
    """Row-wise first non-None message of several object arrays."""
    acc = None
    for m in messages:
        if m is None:
            continue
        acc = m.copy() if acc is None else np.where(is_none(acc), m, acc)
    return acc


def match_matrix(table: DecisionTable, inputs: list[Column], env: dict[str, Column], n: int) -> np.ndarray:
    """(R, n) booleans: rule r matches row i. Identical tests on a column are computed once."""
    matrix = np.ones((len(table.rules), n), dtype=bool)
    cache: dict = {}
    for r, rule in enumerate(table.rules):
        row = matrix[r]
        for j, test in enumerate(rule.inputs):
            if isinstance(test, feel.AnyTest):
                continue
            key = (j, test)
            mask = cache.get(key)
            if mask is None:
                mask = cache[key] = test_mask(test, inputs[j], env)
            np.logical_and(row, mask, out=row)
    return matrix


def _subset(env: dict[str, Column], names: set[str], rows: np.ndarray, n: int) -> dict[str, Column]:
    """The columns ``names`` on ``rows`` (ascending, distinct, of n rows). On every row
    they are the columns themselves, which expressions only read: a rule that decides
    every row of a million would otherwise copy each of its inputs' 8 MB."""
    if len(rows) == n:
        return {name: env[name] for name in names if name in env}
    return {name: env[name].take(rows) for name in names if name in env}


_durable_matcher = None


def matcher_for(engine: str):
    """The matching function of an evaluator; hit policies and reasons are shared."""
    global _durable_matcher
    if engine == "vectorized":
        return match_matrix
    if engine == "durable":
        if _durable_matcher is None:
            import atexit

            from engine.evaluation.durable import DurableMatcher

            _durable_matcher = DurableMatcher()
            atexit.register(_durable_matcher.close)  # stop its worker process with the interpreter
        return _durable_matcher
    raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


def evaluate_table(
    table: DecisionTable,
    env: dict[str, Column],
    n: int,
    *,
    blocked: np.ndarray | None = None,
    strict: bool = True,
    reasons: bool = True,
    variables=None,
    matcher=match_matrix,
    trace: bool = False,
) -> DecisionResult:
    """Evaluate one decision table on n rows.

    ``env`` holds every column the table refers to. ``blocked`` (object array,
    message or None) marks rows whose inputs are unusable: they get that error.
    ``strict``: no match without a default output is an error (kade's rule);
    with ``strict=False`` it is null, as the DMN standard says. ``matcher``
    builds the match matrix (vectorized by default; see ``matcher_for``).
    ``trace`` adds the near misses of each decided row (for the audit trail)."""
    variables = variables or {}
    validate(table)
    inputs = [eval_expr(c.expr, env, n) for c in table.inputs]
    matrix = matcher(with_constants(table, variables), inputs, env, n)
    if blocked is not None:
        matrix[:, ~is_none(blocked)] = False

    def output_values(rule_index: int, rows: np.ndarray) -> dict[str, Column]:
        rule = table.rules[rule_index]
        out = {}
        for clause, expr in zip(table.outputs, rule.outputs):
            out[clause.name] = eval_expr(expr, _subset(env, feel.names_in(expr), rows, n), len(rows))
        return out

    hits = decide(table, matrix, output_values)
    errors = _first_message(blocked, hits.errors)
    if errors is None:
        errors = np.full(n, None, dtype=object)
    free = is_none(errors)
    no_match = hits.unmatched & free
    if table.hit_policy in SINGLE_HIT:
        result = _single(table, hits.winner, inputs, env, n, output_values, reasons, variables)
    else:
        result = _multi(table, hits, inputs, env, n, output_values, reasons, variables)
    outputs, rule_ids, reason_source = result
    default_reasons: tuple[np.ndarray, Callable[[np.ndarray], pa.Array]] | None = None
    if no_match.any():
        rows = np.flatnonzero(no_match)
        if table.has_default:
            defaults = {
                c.name: (
                    eval_expr(c.default, _subset(env, feel.names_in(c.default), rows, n), len(rows))
                    if c.default is not None
                    else Column(c.type or "number", np.full(len(rows), np.nan))
                )
                for c in table.outputs
            }
            if table.hit_policy in ("C", "R", "O"):
                defaults = {k: _listify(v) for k, v in defaults.items()}
            for name, col in defaults.items():
                _put(outputs, name, rows, col, n)
            rule_ids[rows] = "default"
            if reasons:
                default_reasons = (rows, functools.partial(_default_reasons, table, defaults))
        elif strict:
            errors[rows] = f"no rule of {table.name} matches this row and the table has no default output"
        elif table.hit_policy == "C#":
            _put(outputs, table.outputs[0].name, rows, Column("number", np.zeros(len(rows))), n)
        elif table.hit_policy in ("C", "R", "O"):
            for c in table.outputs:
                _put(
                    outputs,
                    c.name,
                    rows,
                    _listify(Column(c.type, np.full(len(rows), None, dtype=object)), empty=True),
                    n,
                )
    failed = ~is_none(errors)
    if failed.any():
        for col in outputs.values():
            col.values[failed] = np.nan if col.is_float else None
        rule_ids[failed] = None
    misses = near_misses(table, inputs, env, matrix, ~failed, hits.winner) if trace else None
    reason_blocks = ReasonBlocks(reason_source, default_reasons, n, failed)
    return DecisionResult(table, outputs, rule_ids, reason_blocks, errors, matrix, misses)


REASON_BLOCK = 1 << 17  # rows whose reasons are built at a time: bounds the text in flight


def _no_reasons(lo: int, hi: int) -> list[tuple[np.ndarray, pa.Array]]:
    return []


def _default_reasons(table: DecisionTable, defaults: dict[str, Column], at: np.ndarray) -> pa.Array:
    """The reasons of the rows no rule matched, at positions ``at`` of those rows."""
    return pc.binary_join_element_wise("no rule matched → default ", outputs_text(table, defaults, at), "")


class ReasonBlocks:
    """A decision's reasons, made for a block of rows when asked: ``build(lo, hi)``
    gives (rows, texts) pairs for the rows of lo..hi that rules decided, ``default``
    the rows no rule matched (all of them) and the function giving the reasons of
    some of them (by position among them), ``failed`` the rows in error, which
    have none."""

    def __init__(
        self,
        build,
        default: tuple[np.ndarray, Callable[[np.ndarray], pa.Array]] | None,
        n: int,
        failed: np.ndarray,
    ):
        self._build, self._default, self.n, self._failed = build, default, n, failed

    def block(self, lo: int, hi: int) -> pa.Array:
        """The reasons of rows lo..hi; null where there is none and on failed rows."""
        parts = self._build(lo, hi)
        if self._default is not None:
            rows, texts = self._default
            start, stop = np.searchsorted(rows, [lo, hi])
            if stop > start:
                parts.append((rows[start:stop], texts(np.arange(start, stop))))
        return _scattered([(rows - lo, text) for rows, text in parts], hi - lo, self._failed[lo:hi])

    def all(self) -> pa.ChunkedArray:
        """Every row's reason, built REASON_BLOCK rows at a time (one chunk each)."""
        chunks = [self.block(lo, min(self.n, lo + REASON_BLOCK)) for lo in range(0, self.n, REASON_BLOCK)]
        return pa.chunked_array(chunks, pa.string())


def _scattered(parts: list[tuple[np.ndarray, pa.Array]], n: int, failed: np.ndarray) -> pa.Array:
    """Texts for some rows each ((rows, texts) pairs, a row in one pair at most) as
    one Arrow column over n rows; null for rows in none of them and failed rows."""
    if not parts:
        return pa.nulls(n, pa.string())
    at = np.full(n, -1, dtype=np.int64)
    at[np.concatenate([rows for rows, _ in parts])] = np.arange(sum(len(rows) for rows, _ in parts))
    at[failed] = -1
    texts = pa.concat_arrays([pc.cast(t, pa.string()) for _, t in parts])
    return texts.take(pa.array(at, mask=at < 0))


def _empty_output(clause, n: int) -> Column:
    if clause.type in ("number", "boolean", "date"):
        return Column(clause.type, np.full(n, np.nan))
    return Column(clause.type, np.full(n, None, dtype=object))


def _put(outputs: dict[str, Column], name: str, rows: np.ndarray, col: Column, n: int):
    """Write values for some rows; a float column becomes objects if the values are not floats."""
    target = outputs[name]
    if target.is_float and col.is_float:
        target.values[rows] = col.values
    else:
        if target.is_float:
            target.values = to_python(target.type, target.values)
        target.values[rows] = to_python(col.type, col.values) if col.is_float else col.values
    if target.type is None:
        target.type = col.type


def _listify(col: Column, empty: bool = False) -> Column:
    """One-element lists (the default of a collect table), or empty lists. Rows with
    the same value share one list object: results are read, never mutated."""
    vals = np.empty(len(col), dtype=object)
    if empty:
        vals.fill([])
        return Column("list", vals)
    py = to_python(col.type, col.values) if col.is_float else col.values
    codes, uniques = pd.factorize(py, use_na_sentinel=False)
    lists = np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):  # one list per distinct value, not per row
        lists[i] = [value]
    return Column("list", lists[codes])


def _single(table, winner, inputs, env, n, output_values, reasons, variables):
    outputs = {c.name: _empty_output(c, n) for c in table.outputs}
    decided = winner >= 0
    if not decided.any():
        return outputs, np.full(n, None, dtype=object), _no_reasons
    ids = np.array([r.id for r in table.rules] + [None], dtype=object)
    rule_ids = ids[winner]  # -1, no rule: the None at the end
    # plain values: one gather through a per-rule lookup table (computed entries are filled below)
    for k, clause in enumerate(table.outputs):
        entries = [r.outputs[k] for r in table.rules]
        literals = [e if isinstance(e, feel.Literal) else feel.Literal(None, None) for e in entries]
        col = outputs[clause.name]
        types = {e.type for e in literals} - {None}
        if col.type is None and len(types) == 1:
            col.type = types.pop()
        if col.type in ("number", "boolean", "date") and types <= {col.type}:
            lookup = np.array(
                [np.nan if e.value is None else literal_value(e.type, e.value) for e in literals] + [np.nan]
            )
        else:
            lookup = np.array([e.value for e in literals] + [None], dtype=object)
        col.values = lookup[winner]
    computed = any(not isinstance(e, feel.Literal) for r in table.rules for e in r.outputs)
    if not computed and not reasons:  # every value came from the lookup
        return outputs, rule_ids, _no_reasons
    # computed outputs and reasons: per rule, on the rows that rule decided
    order = np.argsort(
        winner.astype(np.int16) if len(table.rules) < 2**15 else winner, kind="stable"
    )  # int16: a radix sort
    bounds = np.searchsorted(winner[order], np.arange(-1, len(table.rules) + 1))
    rule_rows = {
        i: order[bounds[i + 1] : bounds[i + 2]] for i in range(len(table.rules)) if bounds[i + 2] > bounds[i + 1]
    }
    for i, rows in rule_rows.items():
        rule = table.rules[i]
        for k, clause in enumerate(table.outputs):
            expr = rule.outputs[k]
            if not isinstance(expr, feel.Literal):
                value = eval_expr(expr, _subset(env, feel.names_in(expr), rows, n), len(rows))
                _put(outputs, clause.name, rows, value, n)
    if not reasons:
        return outputs, rule_ids, _no_reasons
    templates = reason_templates(table, variables)
    shown = {name: Column(col.type, col.values.copy()) for name, col in outputs.items()}  # as decided, before defaults
    # literal outputs: each rule says one text, made once
    said = {i: outputs_text(table, shown, rows[:1])[0].as_py() for i, rows in rule_rows.items()} if not computed else {}
    cache: dict = {}

    def build(lo: int, hi: int) -> list[tuple[np.ndarray, pa.Array]]:
        block = _cut(rule_rows, lo, hi)
        texts = input_texts(table, inputs, block, lo, hi, cache)
        parts = []
        for i, rows in block.items():
            text = said[i] if i in said else outputs_text(table, shown, rows)
            parts.append((rows, rule_reasons(templates[i], texts, rows, text, lo)))
        return parts

    return outputs, rule_ids, build


def _cut(rule_rows: dict[int, np.ndarray], lo: int, hi: int) -> dict[int, np.ndarray]:
    """Each rule's rows (ascending) that fall in lo..hi; rules with none left out."""
    out = {}
    for i, rows in rule_rows.items():
        rows = rows[slice(*np.searchsorted(rows, [lo, hi]))]
        if len(rows):
            out[i] = rows
    return out


def _multi(table, hits, inputs, env, n, output_values, reasons, variables):
    """R, O, C and the C aggregations: every matching rule counts."""
    matrix, order = hits.chosen, hits.order
    policy = table.hit_policy
    rule_ids = np.full(n, None, dtype=object)
    matched_rows = np.flatnonzero(matrix.any(axis=0))
    clause = table.outputs[0]
    outputs = {c.name: _empty_output(c, n) for c in table.outputs}
    if len(matched_rows) == 0:
        return outputs, rule_ids, _no_reasons
    grouped = rule_lists(matrix, matched_rows, order)
    rule_ids[matched_rows] = ids_text(table, matrix, matched_rows, order, grouped)
    # per rule: its outputs on the rows it matched (constants are broadcast)
    per_rule = {}
    for i in range(len(table.rules)):
        rows = np.flatnonzero(matrix[i])
        if len(rows):
            per_rule[i] = (rows, output_values(i, rows))
    if policy in AGGREGATING:
        out = outputs[clause.name]
        if policy == "C#":
            out.values = np.where(matrix.any(axis=0), matrix.sum(axis=0).astype(float), np.nan)
            out.type = "number"
        else:
            out.values = _aggregate(policy, per_rule, clause.name, matrix)
            out.type = "number"
    else:
        pattern, lists = grouped
        by_pattern = np.argsort(pattern, kind="stable")
        bounds = np.searchsorted(pattern[by_pattern], np.arange(len(lists) + 1))
        for k, c in enumerate(table.outputs):
            stack = np.full((len(table.rules), n), None, dtype=object)
            for i, (rows, vals) in per_rule.items():
                col = vals[c.name]
                stack[i, rows] = to_python(col.type, col.values) if col.is_float else col.values
            # literal outputs: rows with the same matches have the same list, one object for all
            literal = all(isinstance(r.outputs[k], feel.Literal) for r in table.rules)
            values = np.empty(n, dtype=object)
            for p, idx in enumerate(lists):  # one step per distinct pattern of matches
                sel = matched_rows[by_pattern[bounds[p] : bounds[p + 1]]]
                if literal:
                    shared = np.empty(len(sel), dtype=object)
                    shared.fill(stack[idx, sel[0]].tolist())
                    values[sel] = shared
                else:
                    values[sel] = stack[idx][:, sel].T.tolist()
            outputs[c.name] = Column("list", values)
    if not reasons:
        return outputs, rule_ids, _no_reasons
    templates = reason_templates(table, variables)
    totals = outputs[clause.name].values.copy() if policy in AGGREGATING else None  # as decided, before defaults
    cache: dict = {}
    rule_rows = {i: rows for i, (rows, _vals) in per_rule.items()}

    def build(lo: int, hi: int) -> list[tuple[np.ndarray, pa.Array]]:
        block = _cut(rule_rows, lo, hi)
        texts = input_texts(table, inputs, block, lo, hi, cache)
        parts = []
        for i in order:  # listing order: a row's reasons are joined in it
            if i not in block:
                continue
            rows, vals = per_rule[i]
            cut = slice(*np.searchsorted(rows, [lo, hi]))
            said = outputs_text(table, vals, np.arange(cut.start, cut.stop))
            parts.append((rows[cut], rule_reasons(templates[i], texts, rows[cut], said, lo)))
        if not parts:
            return []
        rows, text = joined(parts)
        if totals is not None:
            name = {"C+": "sum", "C<": "minimum", "C>": "maximum", "C#": "count"}[policy]
            text = pc.binary_join_element_wise(f"{name} ", value_text("number", totals[rows]), " of: ", text, "")
        return [(rows, text)]

    return outputs, rule_ids, build


def _aggregate(policy: str, per_rule: dict, name: str, matrix: np.ndarray) -> np.ndarray:
    """C+, C< or C> of the matching rules' values (a value that is not a number
    counts as NaN), NaN where none matched. Rule by rule on the rows each matched,
    in table order - the order a sum down the (rules, rows) matrix takes - without
    that matrix: at a million rows it is a sixth of a GB per twenty rules."""
    # a sum starts at +0.0, as numpy's does: the rules that did not match add +0.0, which changes
    # nothing then (a partial sum is never -0.0)
    step, start = {"C+": (np.add, 0.0), "C<": (np.minimum, np.inf), "C>": (np.maximum, -np.inf)}[policy]
    acc = np.full(matrix.shape[1], start)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN; a sum past 1e308 is inf
        for rows, vals in per_rule.values():
            col = vals[name]
            acc[rows] = step(acc[rows], col.values if col.is_float else np.nan)
    return np.where(matrix.any(axis=0), acc, np.nan)


# ------------------------------------------------------------- the graph -------


@dataclass
class Evaluation:
    """Results of every decision over every entity present."""

    rules: RuleSet
    rows: dict[str, EntityRows]
    results: dict[str, DecisionResult]  # decision name -> result (over its entity's rows)
    skipped: dict[str, str]  # decision name -> why it did not run
    refused: list[str] = field(default_factory=list)  # skipped because the engine cannot evaluate them

    def for_entity(self, entity: str) -> list[DecisionResult]:
        return [r for r in self.results.values() if r.decision.entity == entity]


def evaluate(
    rules: RuleSet,
    rows: dict[str, EntityRows],
    *,
    strict: bool = True,
    reasons: bool = True,
    progress=None,
    engine: str = "vectorized",
    trace: bool = False,
    functions: dict | None = None,
) -> Evaluation:
    """Evaluate every decision whose entity has rows, dependencies first.
    ``progress(decision_name)`` is called after each decision (for a progress bar).
    ``engine``: "vectorized" (default) or "durable" (durable-rules matches rows); a table
    the engine cannot evaluate is skipped with the reason and listed in ``refused``.
    ``functions``: business knowledge models a DMN model's expressions call."""
    matcher = matcher_for(engine)
    results: dict[str, DecisionResult] = {}
    skipped: dict[str, str] = {}
    refused: list[str] = []
    for table in rules.decisions:
        if table.entity not in rows:
            sheets = " / ".join(rules.entities[table.entity].sheets) if table.entity in rules.entities else table.entity
            skipped[table.name] = f"the workbook has no sheet {sheets}"
            continue
        env, blocked = _environment(rules, rows, results, table, functions or {})
        if env is None:
            skipped[table.name] = blocked
            continue
        n = len(rows[table.entity])
        try:
            results[table.name] = evaluate_table(
                table,
                env,
                n,
                blocked=blocked,
                strict=strict,
                reasons=reasons,
                variables=rules.variables,
                matcher=matcher,
                trace=trace,
            )
        except EvaluatorError as exc:  # e.g. a table durable-rules cannot express: the other decisions still run
            skipped[table.name] = str(exc)
            refused.append(table.name)
            continue
        # Arrow's allocator keeps the pages the reasons' intermediates freed; hand them
        # back, or the numpy and Python objects that follow are placed beside them
        pa.default_memory_pool().release_unused()
        if progress is not None:
            progress(table.name)
    return Evaluation(rules, rows, results, skipped, refused)


def table_environment(evaluation: Evaluation, table: DecisionTable) -> dict[str, Column]:
    """The columns ``table`` was evaluated on, aligned to its entity's rows (a
    contract's client values come from its client row, upstream decisions'
    outputs included): what a learner or an explanation of the table reads."""
    env, _blocked = _environment(evaluation.rules, evaluation.rows, evaluation.results, table, {})
    return env or {}


def _environment(
    rules: RuleSet,
    rows: dict[str, EntityRows],
    results: dict[str, DecisionResult],
    table: DecisionTable,
    functions: dict,
):
    """Columns the table refers to, aligned to its rows, and the per-row messages
    of unusable inputs (bad cells, failed upstream decisions, missing parent)."""
    entity = table.entity
    assert entity is not None  # evaluate() skips tables over no entity
    own = rows[entity]
    env: dict[str, Column] = {}
    messages = []
    for name in sorted(referenced_names(table)):
        if name in functions:  # a business knowledge model, called by name
            env[name] = functions[name]
            continue
        producer = rules.producer(name)
        owner = producer.entity if producer is not None else rules.variables[name].entity
        if producer is not None and producer.name not in results:
            return None, f"it needs {name} from decision {producer.name}, which did not run"
        if owner == entity or owner is None:
            col, msg = _own(name, producer, own, results)
        else:
            index = _ancestor_index(rules, rows, entity, owner)
            if index is None:
                return None, f"it needs {name} from {owner} rows, which are not in the workbook"
            parent_col, parent_msg = _own(name, producer, rows[owner], results)
            col = parent_col.take(index)
            msg = None if parent_msg is None else np.append(parent_msg, NULL)[index]
            missing = _missing_parent_messages(rules, rows, entity, owner)
            messages.append(missing)
        env[name] = col
        messages.append(msg)
    return env, _first_message(*messages)


def _own(name, producer, entity_rows: EntityRows, results):
    if producer is not None:
        res = results[producer.name]
        return res.outputs[name], None if res.ok.all() else res.errors
    return entity_rows.columns[name], entity_rows.cell_errors.get(name)


def _ancestor_index(rules, rows, entity: str, ancestor: str) -> np.ndarray | None:
    index = None
    current = entity
    while current != ancestor:
        rel = rows[current]
        parent = rules.entities[current].parent
        if rel.parent_index is None or parent not in rows:
            return None
        index = rel.parent_index if index is None else np.where(index >= 0, np.append(rel.parent_index, -1)[index], -1)
        current = parent
    return index


def _missing_parent_messages(rules, rows, entity: str, ancestor: str):
    msgs = None
    current = entity
    index = None
    while current != ancestor:
        rel = rows[current]
        if rel.parent_missing is not None:
            here = rel.parent_missing if index is None else np.append(rel.parent_missing, NULL)[index]
            msgs = _first_message(msgs, here)
        index = rel.parent_index if index is None else np.where(index >= 0, np.append(rel.parent_index, -1)[index], -1)
        current = rules.entities[current].parent
    return msgs


def input_values(evaluation: Evaluation, entity: str) -> dict[str, Column]:
    """The values the decisions over ``entity`` used that are not decided on its
    own rows, aligned to its rows: register values, and values from a parent row
    (a contract's client values and its client's tier come from its client row)."""
    rules, rows = evaluation.rules, evaluation.rows
    out: dict[str, Column] = {}
    for result in evaluation.for_entity(entity):
        for name in sorted(referenced_names(result.decision)):
            var, producer = rules.variables.get(name), rules.producer(name)
            owner = producer.entity if producer is not None else var.entity if var is not None else None
            if name in out or owner is None or (producer is not None and owner == entity):
                continue
            if producer is not None:
                column = (
                    evaluation.results[producer.name].outputs[name] if producer.name in evaluation.results else None
                )
            else:
                column = rows[owner].columns.get(name) if owner in rows else None
            if column is None:
                continue
            if owner == entity:
                out[name] = column
            else:
                index = _ancestor_index(rules, rows, entity, owner)
                if index is not None:
                    out[name] = column.take(index)
    return out
