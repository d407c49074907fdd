"""Differential fuzzing of kade's evaluators.

A generator of random decision tables (every hit policy; numbers, text, dates and
booleans; every cell form: comparisons, ranges with every bracket kind, lists with
many alternatives, ``not(...)``, ``null``, ``= null``/``!= null``; null and boundary
values in the rows) and a small *reference evaluator* written here from the DMN 1.5
standard: FEEL's three-valued logic (10.3.2.5: ``null = x`` is false, ``null != x``
true, ``null < x`` null; ``not(null)`` is null) and the hit policies of 8.2.11, with
kade's documented choices where the standard leaves one open (docs/rule-tables.md:
the reported rule of A is the first matching rule, P ties go to the first rule, C
lists in rule order, C+/C# count every matching rule's output, the default row of
R/O/C gives a one-item list, no match without a default row is an error in strict
mode). The reference reads the generated tests themselves, never kade's parse of
the cells nor its matching code, so a disagreement points at one of the three.

``check(spec, durable)`` decides a table's rows with all three and returns the rows
where they differ; ``minimise`` shrinks a failing table to a few rules and one row,
and ``report`` prints it as a manager would type it into a rule sheet.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import random
from dataclasses import dataclass, replace

import numpy as np

from engine.evaluation.decisions import evaluate_table
from tests.helpers import env, table

POLICIES = ("U", "A", "P", "F", "R", "O", "C", "C+", "C<", "C>", "C#")
PRIORITY = ("hi", "mid", "lo")  # allowed values of P/O outputs, highest priority first
TEXTS = ("", "a", "a b", "a!", "ab", "b", "m", "Z", "é", "金融", "金融业", "x,y")  # prefixes, space, '!', non-ASCII
DAY0 = dt.date(2026, 1, 31)
_CMP = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq, "!=": operator.ne}

# A test is a tuple: ("any",) ("null",) ("cmp", op, value) ("range", lo, hi, low_bracket, high_bracket)
# ("list", items) ("not", items); value None in "cmp" is the literal null.


@dataclass(frozen=True)
class Spec:
    """A random table and its rows, as plain Python values (None = null)."""

    policy: str
    inputs: tuple  # (name, type)
    outputs: tuple  # (name, type, allowed values)
    rules: tuple  # (tests per input, output values)
    default: tuple | None  # output values of the default row, or None
    rows: tuple  # per row, a value per input


# ------------------------------------------------------------- the reference ----


def _and(a, b):
    return False if a is False or b is False else True if a is True and b is True else None


def _or(a, b):
    return True if a is True or b is True else False if a is False and b is False else None


def truth(test, value):
    """True, False or None (null): FEEL's value of the unary test for the input value."""
    kind = test[0]
    if kind == "any":
        return True
    if kind == "null":
        return value is None
    if kind == "cmp":
        op, literal = test[1], test[2]
        if literal is None or value is None:  # FEEL equality is defined with null; ordering is not
            if op in ("=", "!="):
                return (value is None and literal is None) == (op == "=")
            return None
        return _CMP[op](value, literal)
    if kind == "range":
        _, lo, hi, low_bracket, high_bracket = test
        low = truth(("cmp", ">=" if low_bracket == "[" else ">", lo), value)
        return _and(low, truth(("cmp", "<=" if high_bracket == "]" else "<", hi), value))
    disjunction = False
    for item in test[1]:
        disjunction = _or(disjunction, truth(item, value))
    if kind == "list":
        return disjunction
    return None if disjunction is None else not disjunction  # "not"


def reference(spec: Spec, row, strict: bool):
    """(rule ids, output values, error?) of one row, from the DMN standard."""
    matched = [i for i, (tests, _) in enumerate(spec.rules) if all(truth(t, v) is True for t, v in zip(tests, row))]
    policy, names = spec.policy, [f"R{i + 1}" for i in range(len(spec.rules))]
    outs = [spec.rules[i][1] for i in matched]
    nothing, error = (None, (None,) * len(spec.outputs), False), (None, (None,) * len(spec.outputs), True)
    if not matched:
        if spec.default is not None:
            values = spec.default if policy not in ("R", "O", "C") else tuple([v] for v in spec.default)
            return "default", tuple(values), False
        if strict:
            return error
        if policy in ("R", "O", "C"):
            return None, ([],) * len(spec.outputs), False
        return (None, (0.0,), False) if policy == "C#" else nothing
    if (policy == "U" and len(matched) > 1) or (policy == "A" and len(set(outs)) > 1):
        return error
    if policy in ("U", "A", "F"):
        return names[matched[0]], tuple(outs[0]), False
    if policy in ("P", "O"):
        ranked = sorted(matched, key=lambda i: (PRIORITY.index(spec.rules[i][1][0]), i))  # stable: ties by rule order
        if policy == "P":
            return names[ranked[0]], tuple(spec.rules[ranked[0]][1]), False
        matched = ranked
        outs = [spec.rules[i][1] for i in matched]
    ids = ", ".join(names[i] for i in matched)
    if policy in ("R", "O", "C"):
        return ids, tuple([o[k] for o in outs] for k in range(len(spec.outputs))), False
    values = [o[0] for o in outs]
    if policy == "C#":
        return ids, (float(len(values)),), False
    if any(v is None for v in values):
        return ids, (None,), False
    return ids, ({"C+": sum, "C<": min, "C>": max}[policy](values),), False


# -------------------------------------------------------------- the engines ----


def _text(value, type_=None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return f'date("{value.isoformat()}")'
    if isinstance(value, str):
        return f'"{value}"'
    return str(int(value)) if float(value).is_integer() else str(value)


def cell(test) -> str:
    """The rule-sheet cell text of a test."""
    kind = test[0]
    if kind == "any":
        return "-"
    if kind == "null":
        return "null"
    if kind == "cmp":
        return _text(test[2]) if test[1] == "=" and test[2] is not None else f"{test[1]} {_text(test[2])}"
    if kind == "range":
        _, lo, hi, low_bracket, high_bracket = test
        return f"{low_bracket}{_text(lo)}..{_text(hi)}{high_bracket}"
    items = ", ".join(cell(t) for t in test[1])
    return items if kind == "list" else f"not({items})"


def build(spec: Spec):
    """The DecisionTable the cells mean, through kade's own parser, and its env."""
    tbl = table(
        inputs=list(spec.inputs),
        outputs=[(name, type_, allowed) for name, type_, allowed in spec.outputs],
        rules=[
            (f"R{i + 1}", [cell(t) for t in tests], [_text(v) for v in values])
            for i, (tests, values) in enumerate(spec.rules)
        ],
        hit_policy=spec.policy,
        default=None if spec.default is None else [_text(v) for v in spec.default],
    )
    columns = env(**{name: (type_, [row[j] for row in spec.rows]) for j, (name, type_) in enumerate(spec.inputs)})
    return tbl, columns


def _plain(value):
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


def observed(result, spec: Spec, i: int):
    """(rule ids, output values, error?) of row i of a DecisionResult."""
    outputs = tuple(_plain(result.outputs[name].values[i]) for name, _, _ in spec.outputs)
    return result.rules[i], outputs, result.errors[i] is not None


@dataclass
class Disagreement:
    row: int
    want: tuple | None  # the reference's answer
    vectorized: tuple | str | None  # or the error the engine raised
    durable: tuple | str | None


def check(spec: Spec, durable, strict: bool = True) -> list[Disagreement]:
    """Rows where the vectorized engine, the durable-rules engine and the reference differ
    (or where the two engines' errors or reasons differ)."""
    tbl, columns = build(spec)
    n = len(spec.rows)
    try:
        a = evaluate_table(tbl, columns, n, strict=strict)
    except Exception as exc:  # the generated tables are all valid: any exception is a failure
        return [Disagreement(0, None, f"{type(exc).__name__}: {exc}", None)]
    try:
        b = evaluate_table(tbl, columns, n, strict=strict, matcher=durable)
    except Exception as exc:  # a refusal or a raw durable-rules error
        return [Disagreement(0, None, None, f"{type(exc).__name__}: {exc}")]
    found = []
    for i, row in enumerate(spec.rows):
        want, got_a, got_b = reference(spec, row, strict), observed(a, spec, i), observed(b, spec, i)
        if not (want == got_a == got_b and a.errors[i] == b.errors[i] and a.reasons[i] == b.reasons[i]):
            found.append(Disagreement(i, want, got_a, got_b))
    return found


# ---------------------------------------------------------------- generator ----


def _pool(rng: random.Random, type_: str) -> list:
    """The literal values of one input: rows take these (the boundaries) and values between."""
    if type_ == "number":
        return sorted(rng.sample(range(-20, 21), rng.randint(3, 12)) + [rng.choice((-2.5, 0.5, 3.5))])
    if type_ == "string":
        return sorted(rng.sample(TEXTS, rng.randint(3, len(TEXTS))))
    if type_ == "date":
        return sorted(DAY0 + dt.timedelta(days=d) for d in rng.sample(range(-40, 40), rng.randint(3, 8)))
    return [False, True]


def _ordered(type_: str) -> bool:
    return type_ != "boolean"


def _simple(rng: random.Random, type_: str, pool: list, ranges: bool = True):
    """One comparison, range or null test."""
    roll = rng.random()
    if roll < 0.08:
        return ("null",)
    if roll < 0.12:
        return ("cmp", rng.choice(("=", "!=")), None)
    if not _ordered(type_):
        return ("cmp", rng.choice(("=", "=", "!=")), rng.choice(pool))
    if ranges and roll < 0.45:
        lo, hi = sorted(rng.sample(pool, 2)) if len(pool) > 1 and rng.random() < 0.9 else (pool[0], pool[0])
        return ("range", lo, hi, rng.choice("[(]"), rng.choice("])["))
    return ("cmp", rng.choice(("=", "=", "<", "<=", ">", ">=", "!=")), rng.choice(pool))


def _items(rng: random.Random, type_: str, pool: list, many: bool) -> tuple:
    if many and _ordered(type_):  # many alternatives: durable-rules' expression and stack limits
        count = rng.choice((6, 9, 14, 15, 20, 30))
        if type_ == "number" and rng.random() < 0.5:  # many disjoint ranges, as in not(...) of bands
            starts = sorted(rng.sample(range(-60, 60, 3), min(count, 40)))
            return tuple(("range", s, s + rng.choice((1, 2)), rng.choice("[(]"), rng.choice("])[")) for s in starts)
        if type_ == "number":
            return tuple(("cmp", "=", v) for v in rng.sample(range(-40, 41), count))
        return tuple(_simple(rng, type_, pool) for _ in range(count))
    return tuple(_simple(rng, type_, pool) for _ in range(rng.randint(1, 4)))


def _test(rng: random.Random, type_: str, pool: list, many: bool):
    roll = rng.random()
    if roll < 0.3:
        return ("any",)
    if roll < 0.55:
        return _simple(rng, type_, pool)
    if roll < 0.8:
        return ("list", _items(rng, type_, pool, many))
    if roll < 0.85:
        return ("not", (("null",),))
    return ("not", _items(rng, type_, pool, many))


def _row_value(rng: random.Random, type_: str, pool: list, literals: list):
    roll = rng.random()
    if roll < 0.12:
        return None
    if type_ == "boolean":
        return rng.choice(pool)
    base = rng.choice(literals or pool) if roll < 0.75 else rng.choice(pool)  # boundaries first
    if type_ == "number":
        return float(base + rng.choice((0, 0, 0, -0.5, 0.5, -1, 1)))
    if type_ == "date":
        return base + dt.timedelta(days=rng.choice((0, 0, -1, 1)))
    return base


def _literals(test) -> list:
    if test[0] == "cmp" and test[2] is not None:
        return [test[2]]
    if test[0] == "range":
        return [test[1], test[2]]
    if test[0] in ("list", "not"):
        return [v for t in test[1] for v in _literals(t)]
    return []


def generate(seed: int, rows: int = 200) -> Spec:
    """A random table with ``rows`` rows; the same seed gives the same table."""
    rng = random.Random(seed)
    policy = rng.choice(POLICIES)
    types = [rng.choice(("number", "number", "string", "string", "date", "boolean")) for _ in range(rng.randint(1, 3))]
    inputs = tuple((name, t) for name, t in zip(("x", "金额", "s2"), types))
    pools = [_pool(rng, t) for t in types]
    many = rng.random() < 0.25
    if policy in ("P", "O"):
        outputs: tuple = (("y", "string", PRIORITY),)
    elif policy in ("C+", "C<", "C>"):
        outputs = (("y", "number", ()),)
    else:
        outputs = tuple(
            (f"y{k}", rng.choice(("number", "string")), ()) for k in range(1 if policy == "C#" else rng.randint(1, 2))
        )

    def value(type_: str, allowed: tuple):
        if allowed:
            return rng.choice(allowed)
        if rng.random() < 0.05:
            return None
        return float(rng.randint(0, 5)) if type_ == "number" else rng.choice(("gold", "silver", "金", "x y"))

    rules = tuple(
        (
            tuple(_test(rng, t, pool, many) for t, pool in zip(types, pools)),
            tuple(value(o[1], o[2]) for o in outputs),
        )
        for _ in range(rng.randint(1, 12 if not many else 5))
    )
    default = tuple(value(o[1], o[2]) for o in outputs) if rng.random() < 0.4 else None
    literals = [[v for tests, _ in rules for v in _literals(tests[j])] for j in range(len(types))]
    data = tuple(
        tuple(_row_value(rng, t, pool, lits) for t, pool, lits in zip(types, pools, literals)) for _ in range(rows)
    )
    return Spec(policy, inputs, outputs, rules, default, data)


# ----------------------------------------------------------------- minimiser ----


def _smaller(spec: Spec):
    """Candidate simplifications of a failing table, biggest first."""
    for i in range(len(spec.rules) if len(spec.rules) > 1 else 0):
        yield replace(spec, rules=spec.rules[:i] + spec.rules[i + 1 :])
    if spec.default is not None:
        yield replace(spec, default=None)
    for i, (tests, values) in enumerate(spec.rules):
        for j, test in enumerate(tests):
            options = [("any",)] if test[0] != "any" else []
            if test[0] in ("list", "not"):
                items = test[1]
                options += [(test[0], items[:k] + items[k + 1 :]) for k in range(len(items)) if len(items) > 1]
                options += [t for t in items if test[0] == "list"]
            for option in options:
                changed = tests[:j] + (option,) + tests[j + 1 :]
                yield replace(spec, rules=spec.rules[:i] + ((changed, values),) + spec.rules[i + 1 :])


def minimise(spec: Spec, fails, budget: int = 400) -> Spec:
    """A smaller table (and the one row) that still ``fails(spec)``: greedy, one change at a time."""
    if len(spec.rows) > 1:
        for row in spec.rows:
            candidate = replace(spec, rows=(row,))
            if fails(candidate):
                spec = candidate
                break
    progress = True
    while progress and budget > 0:
        progress = False
        for candidate in _smaller(spec):
            budget -= 1
            if fails(candidate):
                spec, progress = candidate, True
                break
            if budget <= 0:
                break
    return spec


def report(spec: Spec, found: list[Disagreement], strict: bool) -> str:
    """The table as rule-sheet cells, the row, and what each evaluator answered."""
    header = ["rule", *(f"{n} ({t})" for n, t in spec.inputs), *(n for n, _, _ in spec.outputs)]
    lines = [
        f"hit policy {spec.policy}, {'strict' if strict else 'DMN no-match'} semantics"
        + "".join(f"; {n} allowed {', '.join(a)}" for n, _, a in spec.outputs if a),
        " | ".join(header),
    ]
    for i, (tests, values) in enumerate(spec.rules):
        lines.append(" | ".join([f"R{i + 1}", *(cell(t) for t in tests), *(_text(v) for v in values)]))
    if spec.default is not None:
        lines.append(" | ".join(["default", *("" for _ in spec.inputs), *(_text(v) for v in spec.default)]))
    for d in found[:3]:
        row = spec.rows[d.row] if d.want is not None else None
        if row is not None:
            lines.append("row: " + ", ".join(f"{n} = {_text(v)}" for (n, _), v in zip(spec.inputs, row)))
        lines += [f"  reference:  {d.want}", f"  vectorized: {d.vectorized}", f"  durable:    {d.durable}"]
    return "\n".join(lines)
