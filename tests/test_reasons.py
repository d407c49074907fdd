"""The vectorized number formatter shows numbers exactly as feel.format_value does;
reasons built a block of rows at a time are the reasons built at once."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.text import format_numbers, format_value


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.one_of(
                st.just(float("nan")), st.floats(allow_nan=False, allow_infinity=False, min_value=-1e16, max_value=1e16)
            ),
            st.integers(-(10**12), 10**12).map(float),
            st.decimals(-(10**6), 10**6, places=3).map(float),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_same_text_as_format_value(values):
    got = format_numbers(np.array(values, dtype=float))
    for value, text in zip(values, got):
        if math.isnan(value):
            assert text == "empty"
        else:
            expected = format_value(value)
            # format_value keeps a sign on values that round to zero ('-0'); a reason shows '0'
            assert text == ("0" if expected == "-0" else expected), value


def test_examples():
    assert format_numbers(np.array([2560.0, 40.44, -1234.5, 1e-7, 3.00001, np.nan])).tolist() == [
        "2,560",
        "40.44",
        "-1,234.5",
        "0",
        "3.00001",
        "empty",
    ]


def test_reasons_built_in_blocks_are_the_same(monkeypatch):
    """Every decision of the shipped rules on the sample register (single-hit, C+, collect
    lists, defaults, row errors): blocks of 7 rows give the same reasons as one block."""
    from pathlib import Path

    import engine
    from engine.evaluation import decisions

    root = Path(__file__).resolve().parent.parent
    rules = engine.load_rules(root / "rules")
    workbook = root / "workbooks" / "key_accounts.xlsx"
    whole = engine.evaluate_workbook(rules, workbook)
    monkeypatch.setattr(decisions, "REASON_BLOCK", 7)
    blocks = engine.evaluate_workbook(rules, workbook)
    policies = set()
    for name, result in whole.results.items():
        in_blocks = blocks.results[name]
        assert in_blocks.reason_text.num_chunks > 1
        assert list(in_blocks.reasons) == list(result.reasons), name
        assert any(r is not None for r in result.reasons), name
        policies.add(result.decision.hit_policy)
    assert {"U", "F", "P", "C", "C+"} <= policies
