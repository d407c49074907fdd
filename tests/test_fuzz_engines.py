"""The differential fuzz (tests/fuzz_tables.py) as tests: random decision tables decided
by the vectorized engine, the durable-rules engine and a reference evaluator written
from the DMN standard must agree on every row. A quick seed-fixed run is part of the
normal suite; ``pytest -m slow`` runs 2,000 tables x 200 rows (results in docs/engines.md).
A disagreement fails with the minimised table and row."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from engine.evaluation.decisions import match_matrix
from engine.evaluation.durable import DurableMatcher
from tests.fuzz_tables import Spec, check, generate, minimise, reference, report, truth

QUICK = (300, 60)  # tables, rows: a few seconds
LONG = (int(os.environ.get("KADE_FUZZ_TABLES", 2000)), int(os.environ.get("KADE_FUZZ_ROWS", 200)))


@pytest.fixture(scope="module")
def durable():
    matcher = DurableMatcher()
    yield matcher
    matcher.close()


def fuzz(tables: int, rows: int, matcher, first_seed: int = 0) -> tuple[list[str], int]:
    """Minimised reports of the failing tables (at most 3), and the rows decided."""
    failures, decided = [], 0
    for seed in range(first_seed, first_seed + tables):
        spec, strict = generate(seed, rows), seed % 2 == 0
        decided += len(spec.rows)
        if check(spec, matcher, strict):
            small = minimise(spec, lambda s, strict=strict: bool(check(s, matcher, strict)))
            failures.append(f"seed {seed}:\n{report(small, check(small, matcher, strict), strict)}")
            if len(failures) == 3:
                break
    return failures, decided


def test_quick_fuzz_three_evaluators_agree(durable):
    failures, decided = fuzz(*QUICK, durable)
    assert not failures, "\n\n".join(failures)
    assert decided == QUICK[0] * QUICK[1]


@pytest.mark.slow
def test_long_fuzz_three_evaluators_agree(durable):
    start = time.perf_counter()
    failures, decided = fuzz(*LONG, durable, first_seed=100_000)
    print(
        f"\n{LONG[0]:,} tables x {LONG[1]} rows = {decided:,} rows: {len(failures)} failing tables, "
        f"{time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.2f}"
    )
    assert not failures, "\n\n".join(failures)


def test_a_wrong_engine_is_caught_and_minimised():
    """The fuzz can fail: an engine that forgets the last rule of every table is caught,
    and the report shows a small table and the one row."""

    def forgets_last_rule(table, inputs, env, n):
        matrix = match_matrix(table, inputs, env, n)
        matrix[-1] = False
        return matrix

    spec = next(s for s in map(generate, range(50)) if check(s, forgets_last_rule))
    small = minimise(spec, lambda s: bool(check(s, forgets_last_rule)))
    text = report(small, check(small, forgets_last_rule), True)
    assert len(small.rows) == 1 and len(small.rules) <= len(spec.rules) and check(small, forgets_last_rule)
    assert "row: " in text and "reference:" in text and "durable:" in text and f"hit policy {small.policy}" in text


def test_the_reference_is_the_standard():
    """FEEL's three-valued logic (DMN 1.5, 10.3.2.5) and kade's documented hit-policy choices."""
    assert truth(("cmp", "=", 5.0), None) is False  # null = 5 is false
    assert truth(("cmp", "!=", 5.0), None) is True
    assert truth(("cmp", "<", 5.0), None) is None  # null < 5 is null ...
    assert truth(("not", (("cmp", "<", 5.0),)), None) is None  # ... so not(< 5) does not match an empty cell
    assert truth(("not", (("cmp", "=", 5.0),)), None) is True
    assert truth(("not", (("null",), ("cmp", "=", 3.0))), 5.0) is True
    assert truth(("range", 1.0, 5.0, "]", "["), 1.0) is False and truth(("range", 1.0, 5.0, "[", "]"), 5.0) is True
    assert truth(("list", (("cmp", "<", "b"),)), "a b") is True and truth(("cmp", "<", "a b"), "a!") is False
    assert truth(("cmp", ">=", dt.date(2026, 1, 31)), dt.date(2026, 2, 1)) is True

    def spec(policy, outputs, default=None, allowed=()):
        rules = tuple(((("cmp", ">=", float(i)),), (v,)) for i, v in enumerate(outputs))
        return Spec(policy, (("x", "number"),), (("y", "number", allowed),), rules, default, ())

    assert reference(spec("C#", [1.0, 1.0, 2.0]), (5.0,), True) == ("R1, R2, R3", (3.0,), False)  # every output
    assert reference(spec("C+", [1.0, 1.0, 2.0]), (1.0,), True) == ("R1, R2", (2.0,), False)
    assert reference(spec("C", [1.0], default=(0.0,)), (-1.0,), True) == ("default", ([0.0],), False)
    assert reference(spec("C", [1.0]), (-1.0,), False) == (None, ([],), False)
    assert reference(spec("A", [1.0, 1.0]), (3.0,), True) == ("R1", (1.0,), False)  # A reports the first rule
    assert reference(spec("A", [1.0, 2.0]), (3.0,), True)[2] is True
    any_ = (("any",),)
    rules = ((any_, ("lo",)), (any_, ("hi",)), (any_, ("hi",)))
    ranked = Spec("P", (("x", "number"),), (("y", "string", ("hi", "lo")),), rules, None, ())
    assert reference(ranked, (1.0,), True) == ("R2", ("hi",), False)  # a P tie goes to the first rule
