"""What would change a decision: for each row, the rules that did not fire and
would give a different outcome, closest first - fewest failed conditions, then
the smallest relative distance to the failing thresholds ('client score 462,
needs ≥ 500': 7.6 %). Conditions a row cannot meet by degree (another industry,
a boolean, an empty cell) rank after every condition it can.

Two halves, so a whole sheet stays cheap (the audit keeps this for every row):

- ``near_misses`` ranks, vectorized per rule and condition, and returns per row
  only rule indexes: a (KEEP, n) int16 array - no text.
- ``changes`` words one row's ranked rules when someone asks (``kade explain``):
  'would be platinum if client score were ≥ 500 (it is 462)'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import feel
from engine.evaluation.columns import Column
from engine.evaluation.hitpolicy import priority_ranks
from engine.evaluation.reasons import computed_names, label_of
from engine.evaluation.vectorized import eval_expr, test_mask
from engine.model import SINGLE_HIT, DecisionTable
from engine.text import format_value

KEEP = 3  # rules kept per row for the audit trail
_ROW_BLOCK = 1 << 15  # rows ranked at a time (near_misses)
NONE = -1  # no rule in that slot
CATEGORY = np.float32(1e6)  # ranks a rule with a condition no change of degree meets after every other
_DEGREE_CAP = np.float32(999)  # a relative distance counts at most this much (per rule)
_YEAR = 365.0  # dates: distance in years


# ------------------------------------------------------------------ ranking ----


def near_misses(
    table: DecisionTable,
    inputs: list[Column],
    env: dict[str, Column],
    matrix: np.ndarray,
    rows: np.ndarray,
    winner: np.ndarray | None,
    keep: int = KEEP,
) -> np.ndarray:
    """(keep, n) int16: per row, the indexes of the rules closest to giving
    another outcome, closest first; NONE in unused slots and outside ``rows``.

    ``matrix``: the (R, n) rules that matched; ``winner``: the deciding rule of a
    single-hit table (-1: the default), None for multi-hit tables (where any rule
    that did not fire would add to the result).

    Ranked a block of rows at a time: every step is row by row, and on a block
    the (rules, rows) ranks and the temporaries stay in the caches and reuse
    their memory - on whole million-row columns they cost twice the time."""
    n = matrix.shape[1]
    count = len(table.rules)
    out = np.full((keep, n), NONE, dtype=np.int16)
    if not count or not rows.any():
        return out
    if n > _ROW_BLOCK:
        for lo in range(0, n, _ROW_BLOCK):
            hi = min(n, lo + _ROW_BLOCK)
            out[:, lo:hi] = near_misses(
                table,
                [column.between(lo, hi) for column in inputs],
                {name: v.between(lo, hi) if isinstance(v, Column) else v for name, v in env.items()},
                matrix[:, lo:hi],
                rows[lo:hi],
                None if winner is None else winner[lo:hi],
                keep,
            )
        return out
    key = np.full((count, n), np.inf, dtype=np.float32)
    conditions = _Conditions(inputs, env)
    reach = _Reach(table, winner) if winner is not None else None
    for r, rule in enumerate(table.rules):
        candidate = rows & ~matrix[r]
        if reach is not None:
            candidate &= reach.differs(r)
        if not candidate.any():
            continue
        failed = np.zeros(n, dtype=np.float32)
        distance = np.zeros(n, dtype=np.float32)
        for j, test in enumerate(rule.inputs):
            if isinstance(test, feel.AnyTest):
                continue
            passes, far = conditions.get(j, test)
            failed += ~passes
            distance += np.where(passes, np.float32(0), far)
            if reach is not None:
                reach.note_failure(j, ~passes)
        if reach is not None:
            candidate &= reach.can_win(r)
        by_degree = np.isfinite(distance)
        rank = np.where(
            by_degree, failed * 1000 + np.minimum(distance, _DEGREE_CAP), CATEGORY + failed
        )  # fewest failures first, then nearest; categories last
        key[r] = np.where(candidate, rank, np.inf)
    columns = np.arange(n)
    for slot in range(min(keep, count)):
        best = np.argmin(key, axis=0)
        found = np.isfinite(key[best, columns])
        out[slot] = np.where(found, best, NONE)
        key[best, columns] = np.inf
    return out


class _Conditions:
    """Each distinct (input column, test): where it passes and, where it fails,
    how far the row is from passing (inf: not a matter of degree). Computed once
    per table, shared by the rules that repeat a test."""

    def __init__(self, inputs: list[Column], env: dict[str, Column]):
        self.inputs, self.env = inputs, env
        self.cache: dict = {}

    def get(self, j: int, test) -> tuple[np.ndarray, np.ndarray]:
        key = (j, test)
        if key not in self.cache:
            column = self.inputs[j]
            passes = test_mask(test, column, self.env)
            far = _distance(test, column, self.env) if column.type in ("number", "date") and column.is_float else None
            if far is None:
                far = np.full(len(column), np.inf, dtype=np.float32)
            self.cache[key] = (passes, far.astype(np.float32, copy=False))
        return self.cache[key]


def _distance(test, column: Column, env: dict[str, Column]) -> np.ndarray | None:
    """Relative distance of each value to meeting ``test`` (0 where it does),
    or None when the test is not met by degree (≠, not(...), empty)."""
    values = column.values
    n = len(values)
    if isinstance(test, feel.Compare) and test.op != "!=":
        bound = _endpoint(test.endpoint, env, n)
        if bound is None:
            return None
        below = {"<": True, "<=": True, ">": False, ">=": False}.get(test.op)
        if below is None:  # '=': any distance counts
            gap = np.abs(values - bound)
        elif below:
            gap = np.maximum(values - bound, 0)
        else:
            gap = np.maximum(bound - values, 0)
        return _relative(gap, bound, values, column.type)
    if isinstance(test, feel.Range):
        low, high = _endpoint(test.low, env, n), _endpoint(test.high, env, n)
        if low is None or high is None:
            return None
        under, over = np.maximum(low - values, 0), np.maximum(values - high, 0)
        return np.where(
            under > 0, _relative(under, low, values, column.type), _relative(over, high, values, column.type)
        )
    if isinstance(test, feel.AnyOf):
        parts = [_distance(t, column, env) for t in test.tests]
        if any(p is None for p in parts):
            return None
        return np.minimum.reduce(parts)  # type: ignore[arg-type]  # all arrays here
    return None


def _endpoint(node, env: dict[str, Column], n: int) -> np.ndarray | float | None:
    if isinstance(node, feel.Literal):
        return None if node.value is None or node.type not in ("number", "date") else _number(node)
    column = eval_expr(node, env, n)
    return column.values if column.is_float and column.type in ("number", "date") else None


def _number(literal: feel.Literal) -> float:
    from engine.evaluation.columns import literal_value

    return float(literal_value(literal.type, literal.value))


def _relative(gap, bound, values, type_: str | None) -> np.ndarray:
    """The gap as a share of the threshold (dates: in years); a gap of 0 on a
    failed strict test ('> 20' at 20) still counts a little. Unknown: inf."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if type_ == "date":
            share = gap / _YEAR
        else:
            scale = np.maximum(np.abs(bound), np.abs(values))
            share = np.where(scale > 0, gap / np.where(scale > 0, scale, 1), gap)
        share = share + 1e-6
    return np.where(np.isnan(share), np.inf, share)


class _Reach:
    """Single-hit tables: a rule is a near miss only if its outcome differs from
    the row's, and - when the deciding rule would still win over it (first hit,
    priority) - only if meeting its conditions could stop the deciding rule
    matching (it fails on a column the deciding rule tests)."""

    def __init__(self, table: DecisionTable, winner: np.ndarray):
        count = len(table.rules)
        self.slot = np.where(winner < 0, count, winner)  # count: the default (or nothing) decided
        default = tuple(o.default for o in table.outputs)
        outcomes = [r.outputs for r in table.rules] + [default]
        self.same = np.array([[a == b for b in outcomes] for a in outcomes[:count]], dtype=bool)
        policy = table.hit_policy
        if policy == "F":
            order = np.arange(count)
        elif policy == "P":
            order = priority_ranks(table) * count + np.arange(count)
        else:
            order = None
        # beats[r, w]: rule r decides over rule w when both match (the default loses to all)
        beats = np.ones((count, count + 1), dtype=bool)
        if order is not None:
            beats[:, :count] = order[:, None] < order[None, :]
        self.beats = beats
        tests = np.array([[not isinstance(t, feel.AnyTest) for t in r.inputs] for r in table.rules], dtype=bool)
        self.tests = np.vstack([tests, np.zeros((1, tests.shape[1]), bool)])  # the default tests nothing
        self.broken: np.ndarray | None = None

    def differs(self, r: int) -> np.ndarray:
        self.broken = None
        return ~self.same[r][self.slot]

    def note_failure(self, j: int, failed: np.ndarray):
        """Rule r fails column j on these rows: would meeting it touch the winner?"""
        touched = failed & self.tests[self.slot, j]
        self.broken = touched if self.broken is None else self.broken | touched

    def can_win(self, r: int) -> np.ndarray:
        wins = self.beats[r][self.slot]
        return wins if self.broken is None else wins | self.broken


# ------------------------------------------------------------------- words -----


@dataclass(frozen=True)
class Change:
    """One rule that would change one row's decision, in words."""

    rule: str  # its id
    verb: str  # 'be', 'add', 'also give'
    outcome: str  # 'platinum', '80'
    conditions: tuple[str, ...]  # 'client score were ≥ 500 (it is 462)'
    needs_other: tuple[str, ...]  # conditions no change of degree meets: 'industry (it is 金融)'
    compound: bool = False  # the outcome is several outputs' values

    @property
    def by_degree(self) -> bool:
        return not self.needs_other

    def sentence(self) -> str:
        return f"would {self.verb} {self.outcome} if {' and '.join(self.conditions)} — rule {self.rule}".replace(
            "  ", " "
        )


def changes(
    table: DecisionTable, ranked: list[int], inputs: list[Column], env: dict[str, Column], variables
) -> list[Change]:
    """The ranked rules of one row (``inputs``/``env`` hold that row only), in words."""
    out = []
    conditions = _Conditions(inputs, env)
    verb = _VERBS.get(table.hit_policy, "be" if table.hit_policy in SINGLE_HIT else "also give")
    for r in ranked:
        rule = table.rules[r]
        said, other = [], []
        for j, test in enumerate(rule.inputs):
            if isinstance(test, feel.AnyTest):
                continue
            passes, far = conditions.get(j, test)
            if passes[0]:
                continue
            label = label_of(table.inputs[j], variables)
            value = format_value(inputs[j].python_values()[0])
            said.append(f"{label} were {_wanted(test, variables)} (it is {value})")
            if not np.isfinite(far[0]):
                other.append(f"{label} (it is {value})")
        outcome = "" if table.hit_policy == "C#" else _outcome(table, rule, env)
        out.append(Change(rule.id, verb, outcome, tuple(said), tuple(other), len(table.outputs) > 1))
    return out


_VERBS = {"C+": "add", "C#": "count one more", "C<": "also weigh", "C>": "also weigh"}


def _wanted(test, variables) -> str:
    text = feel.describe_test(test, computed_names(variables))
    return text[2:] if text.startswith("= ") else text


def _outcome(table: DecisionTable, rule, env: dict[str, Column]) -> str:
    values = []
    for clause, expr in zip(table.outputs, rule.outputs):
        shown = format_value(eval_expr(expr, env, 1).python_values()[0])
        values.append(shown if len(table.outputs) == 1 else f"{clause.name.replace('_', ' ')} {shown}")
    return ", ".join(values)


def summary(others: list[Change]) -> list[str]:
    """Rules that need another category, one line per set of such inputs:
    'with another industry (it is 金融): would be 政府, 电信业 or 教育 (rules IS-01,
    IS-02, IS-03)'; outcomes of several values each are left to the rule ids."""
    groups: dict[tuple[str, ...], list[Change]] = {}
    for change in others:
        groups.setdefault(change.needs_other, []).append(change)
    lines = []
    for labels, group in groups.items():
        outcomes = list(dict.fromkeys(c.outcome for c in group))
        said = ", ".join(outcomes[:-1]) + " or " + outcomes[-1] if len(outcomes) > 1 else outcomes[0]
        ids = ", ".join(c.rule for c in group)
        rules = f"rule{'s' if len(group) > 1 else ''} {ids}"
        if group[0].compound:  # several outputs each: too long to list
            lines.append(f"with another {' and '.join(labels)}: {rules} give other results")
        else:
            what = f"would {group[0].verb} {said}".rstrip()
            lines.append(f"with another {' and '.join(labels)}: {what} ({rules})")
    return lines
