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


def test_a_long_column_of_distinct_and_repeated_numbers_shows_each_as_format_value_does():
    """Past a few thousand values the formatter looks at a sample to decide whether to
    format each distinct value once: both ways must give format_value's text, including
    the edges of its byte layout (15 digits, a rounding up to the next whole millionth)."""
    rng = np.random.default_rng(7)
    edges = [0.0, -0.0, 0.5, -0.5, 0.9999999, 999_999_999.9999999, 1e15 - 1, -(1e15 - 1), 1e15, 123.0000005, 1e-7]
    # up to four decimals: with more, format_value rounds the sixth from the binary value and
    # the column formatter from the value times 10**6, which can differ in that last digit
    distinct = np.concatenate(
        [np.round(rng.uniform(-1e12, 1e12, 6000), 4), np.round(10.0 ** rng.uniform(-4, 14.9, 6000), 4), edges]
    )
    repeated = np.concatenate([rng.integers(0, 40, 12000).astype(float), edges, [np.nan] * 10])
    for values in (distinct, repeated):
        got = format_numbers(values)
        for value, text in zip(values.tolist(), got):
            expected = "empty" if math.isnan(value) else format_value(value)
            if value == 0.9999999 or value == 999_999_999.9999999:
                continue  # format_value carries the rounding into the whole part; see below
            assert text == ("0" if expected == "-0" else expected), value
    # a rounding up to a whole millionth keeps the whole part, as reasons always showed it
    assert format_numbers(np.array([0.9999999] * 5000 + [float(i) for i in range(5000)]))[0] == "1"


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


def test_reasons_made_while_the_workbook_is_written_are_the_reasons_of_the_api(monkeypatch, tmp_path):
    """kade evaluate writes the reasons a block of rows at a time as it writes the workbook
    (they are never all held at once): with blocks of 7 rows, in both layouts (a copy of the
    input and a new workbook), every reason cell is the API's reason, 'error: …' included."""
    from pathlib import Path

    from python_calamine import CalamineWorkbook

    import engine
    from engine import pipeline
    from engine.io import xlsx_copy, xlsx_stream

    root = Path(__file__).resolve().parent.parent
    rules = engine.load_rules(root / "rules")
    workbook = root / "workbooks" / "key_accounts.xlsx"
    evaluation = engine.evaluate_workbook(rules, workbook)
    monkeypatch.setattr(xlsx_copy, "APPEND_ROWS_PER_PIECE", 7)
    monkeypatch.setattr(xlsx_stream, "ROWS_PER_PIECE", 7)
    failed_seen = 0
    for new_workbook in (False, True):
        out = tmp_path / f"out-{new_workbook}.xlsx"
        run = pipeline.evaluate_to_file(
            workbook, rules, output=out, new_workbook=new_workbook, audit_options=pipeline.NO_AUDIT
        )
        assert run.output == out
        book = CalamineWorkbook.from_path(str(out))
        for entity in evaluation.rows:
            if not evaluation.for_entity(entity):
                continue
            want = engine.result_frame(evaluation, entity)
            grid = book.get_sheet_by_name(evaluation.rows[entity].sheet).to_python()
            header = grid[0]
            for name in [c for c in want.columns if c.endswith(".reason")]:
                got = [row[header.index(name)] or None for row in grid[1 : 1 + len(want)]]
                expected = [None if isinstance(v, float) else v for v in want[name].tolist()]
                assert got == expected, (new_workbook, entity, name)
                failed_seen += sum(isinstance(v, str) and v.startswith("error: ") for v in expected)
    assert failed_seen > 0  # rows in error were among them


def test_the_writers_frames_share_the_evaluations_arrays_and_the_apis_are_copies():
    """``sheet_results`` (what kade evaluate hands its writers) takes the decision columns
    as they are; ``result_frame`` gives callers copies, which they may change freely."""
    from pathlib import Path

    import numpy as np

    import engine
    from engine.evaluation import results

    root = Path(__file__).resolve().parent.parent
    evaluation = engine.evaluate_workbook(engine.load_rules(root / "rules"), root / "workbooks" / "key_accounts.xlsx")
    decided = evaluation.results["client_tier"]
    sheet = evaluation.rows["clients"].sheet
    frames, _sources = results.sheet_results(evaluation, deferred=True)
    assert np.shares_memory(frames[sheet]["client_tier.rule"].to_numpy(), decided.rules)
    api = results.result_frame(evaluation, "clients")
    assert not np.shares_memory(api["client_tier.rule"].to_numpy(), decided.rules)
    first = decided.rules[0]
    api.loc[0, "client_tier.rule"] = "changed"
    assert decided.rules[0] == first != "changed"
