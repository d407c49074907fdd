"""Hit policies (DMN 1.5, 8.2.11): from the (R, n) match matrix to the rule(s)
that decide each row, and the rows the policy makes an error. Shared by every
evaluator, so only matching differs between them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import feel
from engine.errors import RuleStructureError
from engine.model import AGGREGATING, HIT_POLICIES, SINGLE_HIT, DecisionTable


@dataclass
class Hits:
    """Which rules decide each row.

    single-hit policies: ``winner[row]`` is a rule index, or -1 (no match / error).
    multi-hit policies: ``chosen`` is the (R, n) matrix of rules that count, and
    ``order`` the rule order to list them in (rule order, or output priority)."""

    winner: np.ndarray | None
    chosen: np.ndarray | None
    order: np.ndarray
    errors: np.ndarray  # object: message or None
    unmatched: np.ndarray  # bool: no rule matched (default output, or an error in strict mode)


def validate(table: DecisionTable):
    """Refuse tables whose hit policy cannot be applied to them."""
    if table.hit_policy not in HIT_POLICIES:
        raise RuleStructureError(f"unknown hit policy {table.hit_policy}", table.position)
    if table.hit_policy in AGGREGATING and len(table.outputs) != 1:
        raise RuleStructureError(
            f"hit policy {table.hit_policy} aggregates a single output; this table has {len(table.outputs)}",
            table.position,
        )
    if table.hit_policy in ("C+", "C<", "C>") and table.outputs[0].type not in (None, "number"):
        raise RuleStructureError(
            f"hit policy {table.hit_policy} adds or compares numbers; output {table.outputs[0].name} is {table.outputs[0].type}",
            table.position,
        )
    if table.hit_policy in ("P", "O"):
        ranked = [k for k, o in enumerate(table.outputs) if o.allowed_values]
        if not ranked:
            raise RuleStructureError(
                f"hit policy {table.hit_policy} orders results by the output's allowed values: give {table.outputs[0].name} allowed values in the glossary (highest priority first)",
                table.position,
            )
        for rule in table.rules:
            for k in ranked:
                if not isinstance(rule.outputs[k], feel.Literal):
                    raise RuleStructureError(
                        f"rule {rule.id}: with hit policy {table.hit_policy} the output {table.outputs[k].name} must be a plain value",
                        rule.position,
                    )


def priority_ranks(table: DecisionTable) -> np.ndarray:
    """Per rule, its output priority (0 = highest) from the allowed values order;
    compound outputs compare output by output."""
    ranks = np.zeros(len(table.rules), dtype=np.int64)
    for k, clause in enumerate(table.outputs):
        if not clause.allowed_values:
            continue
        base = len(clause.allowed_values) + 1
        values = [r.outputs[k].value for r in table.rules]
        rank = [clause.allowed_values.index(v) if v in clause.allowed_values else base - 1 for v in values]
        ranks = ranks * base + np.asarray(rank, dtype=np.int64)
    return ranks


def rule_lists(matrix: np.ndarray, rows: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """For the given rows, group identical match patterns: returns (pattern id per
    row, rule indexes per pattern in `order`). Work is per distinct pattern."""
    if len(order) <= 64:
        # each pattern one integer, the first rule listed its highest bit (patterns sort as the
        # bit rows read), built a rule at a time: gathering the (rows, rules) matrix instead
        # strides across all of it, which at a million rows no cache holds
        keys = np.zeros(len(rows), dtype=np.uint64)
        for place, r in enumerate(order):
            keys |= matrix[r, rows].astype(np.uint64) << np.uint64(63 - place)
        uniques, inverse = np.unique(keys, return_inverse=True)
        shifts = np.arange(63, 63 - len(order), -1, dtype=np.uint64)
        unpacked = ((uniques[:, None] >> shifts) & np.uint64(1)).astype(bool)
    else:
        packed = np.packbits(matrix[order][:, rows].T, axis=1)  # (m, bytes) in listing order
        patterns, inverse = np.unique(packed, axis=0, return_inverse=True)
        unpacked = np.unpackbits(patterns, axis=1, count=matrix.shape[0]).astype(bool)
    return inverse.ravel(), [order[np.flatnonzero(p)] for p in unpacked]


def ids_text(
    table: DecisionTable,
    matrix: np.ndarray,
    rows: np.ndarray,
    order: np.ndarray | None = None,
    grouped: tuple[np.ndarray, list[np.ndarray]] | None = None,
) -> np.ndarray:
    """'CT-03, CT-04' for each of the rows (``grouped``: their ``rule_lists``, if made)."""
    out = np.full(len(rows), None, dtype=object)
    if len(rows) == 0:
        return out
    order = np.arange(len(table.rules)) if order is None else order
    pattern, lists = grouped or rule_lists(matrix, rows, order)
    texts = np.array([", ".join(table.rules[i].id for i in idx) for idx in lists], dtype=object)
    return texts[pattern]


def decide(table: DecisionTable, matrix: np.ndarray, output_values) -> Hits:
    """Apply the table's hit policy. ``output_values(rule, rows)`` gives a rule's
    outputs on some rows (needed by ANY to compare them)."""
    policy = table.hit_policy
    n = matrix.shape[1]
    errors = np.full(n, None, dtype=object)
    counts = matrix.sum(axis=0)
    unmatched = counts == 0
    order = np.arange(len(table.rules))
    if policy in SINGLE_HIT:
        winner = np.where(unmatched, -1, np.argmax(matrix, axis=0))
        if policy == "U":
            clash = np.flatnonzero(counts > 1)
            if len(clash):
                errors[clash] = (
                    "hit policy U (unique) allows one matching rule, but rules "
                    + ids_text(table, matrix, clash)
                    + " all match"
                )
                winner[clash] = -1
        elif policy == "A":
            clash = _any_conflicts(table, matrix, winner, output_values)
            if len(clash):
                errors[clash] = (
                    "hit policy A (any) needs matching rules to agree, but rules "
                    + ids_text(table, matrix, clash)
                    + " match with different outputs"
                )
                winner[clash] = -1
        elif policy == "P":
            ranks = priority_ranks(table)
            key = ranks * len(table.rules) + order
            big = np.iinfo(np.int64).max
            best = np.where(matrix, key[:, None], big).min(axis=0)
            winner = np.where(unmatched, -1, best % len(table.rules))
        return Hits(winner, None, order, errors, unmatched)
    if policy == "O":
        order = np.lexsort((order, priority_ranks(table)))
    return Hits(None, matrix, order, errors, unmatched)


def _any_conflicts(table, matrix, winner, output_values) -> np.ndarray:
    has = winner >= 0
    conflict = np.zeros(matrix.shape[1], bool)
    for i in range(len(table.rules)):
        rows = np.flatnonzero(matrix[i] & has & (winner != i))
        if len(rows) == 0:
            continue
        mine = output_values(i, rows)
        for w in np.unique(winner[rows]):
            sel = winner[rows] == w
            theirs = output_values(int(w), rows[sel])
            for name in mine:
                a, b = mine[name].values[sel], theirs[name].values
                if a.dtype.kind == "f" and b.dtype.kind == "f":
                    differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
                else:
                    differ = np.array(a != b, dtype=bool)
                conflict[rows[sel][differ]] = True
    return np.flatnonzero(conflict)
