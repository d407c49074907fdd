"""DMN 1.5 hit policies (8.2.11) through engine.evaluation.decisions.evaluate_table: exact
outputs and rule ids per row, the error cases, defaults, blocked rows, reasons,
and a property test against a pure-Python reference for FIRST tables."""

import numpy as np
import pytest
from helpers import column, env, run, table, values
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import feel
from engine.evaluation.decisions import _subset, evaluate_table
from engine.evaluation.vectorized import eval_expr

X = [1, 5, 12, 30]  # row 0: R3 | row 1: R2 | row 2: R1 and R2 | row 3: R1
SIZE_RULES = [
    ("R1", [">= 10"], ['"big"'], "ten or more"),
    ("R2", ["[5..20]"], ['"mid"']),
    ("R3", ["< 5"], ['"small"']),
]


def size_table(hit_policy, allowed=(), **kw):
    return table(
        "size", hit_policy=hit_policy, inputs=[("x", "number")], outputs=[("y", None, allowed)], rules=SIZE_RULES, **kw
    )


def ids(result):
    return list(result.rules)


def errors(result):
    return list(result.errors)


# ---------------------------------------------------------- single hit --------


def test_unique_with_multiple_outputs():
    t = table(
        "route",
        hit_policy="U",
        inputs=[("x", "number"), ("ind", "string")],
        outputs=[("team", None, ()), ("review", None, ()), ("score", None, ())],
        rules=[
            ("U1", ["< 10", '"金融"'], ['"finance"', "true", "1"]),
            ("U2", ["< 10", 'not("金融")'], ['"sales"', "false", "2"]),
            ("U3", [">= 10", "-"], ['"legal"', "true", "3"]),
        ],
    )
    r = run(t, x=[1, 1, 50, 9], ind=["金融", "IT", None, None])
    assert values(r, "team") == ["finance", "sales", "legal", "sales"]
    assert values(r, "review") == [True, False, True, False]
    assert values(r, "score") == [1, 2, 3, 2]
    assert ids(r) == ["U1", "U2", "U3", "U2"]
    assert errors(r) == [None] * 4


def test_unique_overlap_is_an_error_naming_both_rules_other_rows_evaluate():
    r = run(size_table("U"), x=X)
    assert errors(r)[2] == "hit policy U (unique) allows one matching rule, but rules R1, R2 all match"
    assert errors(r)[:2] + errors(r)[3:] == [None, None, None]
    assert values(r, "y") == ["small", "mid", None, "big"]
    assert ids(r) == ["R3", "R2", None, "R1"]
    assert list(r.ok) == [True, True, False, True]


def test_any_with_differing_outputs_is_an_error_naming_the_rules():
    r = run(size_table("A"), x=X)
    msg = errors(r)[2]
    assert msg is not None and "R1, R2" in msg and "different outputs" in msg
    assert values(r, "y") == ["small", "mid", None, "big"]
    assert ids(r) == ["R3", "R2", None, "R1"]


def test_any_with_equal_outputs_is_fine():
    t = table(
        "grade",
        hit_policy="A",
        inputs=[("x", "number")],
        outputs=[("g", None, ()), ("n", None, ())],
        rules=[
            ("A1", [">= 10"], ['"A"', "x * 2"]),
            ("A2", ["[5..20]"], ['"A"', "x + x"]),
            ("A3", ["< 5"], ['"B"', "x - x"]),
        ],
    )
    r = run(t, x=X)
    assert errors(r) == [None] * 4
    assert values(r, "g") == ["B", "A", "A", "A"]
    assert values(r, "n") == [0, 10, 24, 60]
    assert ids(r) == ["A3", "A2", "A1", "A1"]


def test_any_compares_every_output():
    t = table(
        "two",
        hit_policy="A",
        inputs=[("x", "number")],
        outputs=[("g", None, ()), ("n", None, ())],
        rules=[("A1", ["> 0"], ['"A"', "1"]), ("A2", ["> 5"], ['"A"', "2"])],
    )
    r = run(t, x=[1, 10])
    assert errors(r)[0] is None and values(r, "n")[0] == 1
    assert "A1, A2" in errors(r)[1]


def test_priority_follows_allowed_values_not_rule_order():
    r = run(size_table("P", allowed=("mid", "big", "small")), x=X)
    assert values(r, "y") == ["small", "mid", "mid", "big"]
    assert ids(r) == ["R3", "R2", "R2", "R1"]
    r = run(size_table("P", allowed=("big", "mid", "small")), x=X)
    assert values(r, "y") == ["small", "mid", "big", "big"]
    assert ids(r) == ["R3", "R2", "R1", "R1"]


def test_priority_from_a_rule_workbook_glossary(write_xlsx, tmp_path):
    write_xlsx(
        "rules/glossary.xlsx",
        {
            "Entities": [["entity", "sheet", "key"], ["clients", "clients", "client_id"]],
            "Glossary": [
                ["variable", "entity", "column header", "type", "allowed values"],
                ["client_id", "clients", "client_id", "string", None],
                ["revenue", "clients", "revenue", "number", None],
                ["tier", "clients", "tier", "string", '"platinum", "gold", "silver"'],
            ],
        },
    )
    write_xlsx(
        "rules/tier.xlsx",
        {
            "tier": [
                ["decision", "tier"],
                ["rows", "clients"],
                [],
                [None, "input", "output", "annotation"],
                ["P", "revenue", "tier", "why"],
                ["T1", ">= 0", '"silver"', "everyone"],
                ["T2", ">= 100", '"gold"', None],
                ["T3", ">= 1000", '"platinum"', None],
            ]
        },
    )
    t = engine.load_rules(tmp_path / "rules").decision("tier")
    assert t.hit_policy == "P" and t.outputs[0].allowed_values == ("platinum", "gold", "silver")
    r = engine.evaluate_table(t, {"revenue": column("number", [5, 150, 2000, None])}, 4, strict=False)
    assert values(r, "tier") == ["silver", "gold", "platinum", None]
    assert ids(r) == ["T1", "T2", "T3", None]


def test_first_takes_the_first_matching_rule_with_multiple_outputs():
    t = table(
        "f",
        hit_policy="F",
        inputs=[("x", "number")],
        outputs=[("y", None, ()), ("big", None, ())],
        rules=[
            ("F1", [">= 10"], ['"big"', "true"]),
            ("F2", ["[5..20]"], ['"mid"', "false"]),
            ("F3", ["-"], ['"any"', "false"]),
        ],
    )
    r = run(t, x=[1, 5, 12, None])
    assert values(r, "y") == ["any", "mid", "big", "any"]
    assert values(r, "big") == [False, False, True, False]
    assert ids(r) == ["F3", "F2", "F1", "F3"]


# ----------------------------------------------------------- multi hit --------


def test_rule_order_lists_in_rule_order_with_multiple_outputs():
    t = table(
        "r",
        hit_policy="R",
        inputs=[("x", "number")],
        outputs=[("y", None, ()), ("n", None, ())],
        rules=[
            ("R1", [">= 10"], ['"big"', "1"]),
            ("R2", ["[5..20]"], ['"mid"', "x"]),
            ("R3", ["< 5"], ['"small"', "3"]),
        ],
    )
    r = run(t, x=X)
    assert values(r, "y") == [["small"], ["mid"], ["big", "mid"], ["big"]]
    assert values(r, "n") == [[3], [5], [1, 12], [1]]
    assert ids(r) == ["R3", "R2", "R1, R2", "R1"]


def test_output_order_sorts_by_priority():
    r = run(size_table("O", allowed=("mid", "small", "big")), x=X)
    assert values(r, "y") == [["small"], ["mid"], ["mid", "big"], ["big"]]
    assert ids(r) == ["R3", "R2", "R2, R1", "R1"]


def test_collect_lists_every_match():
    r = run(size_table("C"), x=X)
    assert values(r, "y") == [["small"], ["mid"], ["big", "mid"], ["big"]]
    assert ids(r) == ["R3", "R2", "R1, R2", "R1"]


NUM_RULES = [("N1", [">= 10"], ["3"]), ("N2", ["[5..20]"], ["4"]), ("N3", ["-"], ["x / 10"])]


@pytest.mark.parametrize(
    "policy,expected",
    [
        ("C+", [0.1, 4.5, 8.2, 6]),
        ("C<", [0.1, 0.5, 1.2, 3]),
        ("C>", [0.1, 4, 4, 3]),
        ("C#", [1, 2, 3, 2]),
    ],
)
def test_collect_aggregations(policy, expected):
    t = table("agg", hit_policy=policy, inputs=[("x", "number")], outputs=[("y", None, ())], rules=NUM_RULES)
    r = run(t, x=X)
    assert values(r, "y") == pytest.approx(expected)
    assert ids(r) == ["N3", "N2, N3", "N1, N2, N3", "N1, N3"]
    assert errors(r) == [None] * 4


# -------------------------------------------------- no match and defaults ----

ALL_POLICIES = ["U", "A", "P", "F", "R", "O", "C", "C+", "C<", "C>", "C#"]


def policy_table(policy, **kw):
    return table(
        "t",
        hit_policy=policy,
        inputs=[("x", "number")],
        outputs=[("y", None, (1, 2))],
        rules=[("Q1", ["< 10"], ["1"]), ("Q2", ["< 5"], ["2"])],
        **kw,
    )


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_no_match_without_default_is_an_error_in_strict_mode(policy):
    r = run(policy_table(policy), x=[50, None, 7])
    assert errors(r)[:2] == ["no rule of t matches this row and the table has no default output"] * 2
    assert errors(r)[2] is None and ids(r)[:2] == [None, None]
    assert values(r, "y")[:2] == [None, None]


@pytest.mark.parametrize(
    "policy,empty",
    [
        ("U", None),
        ("A", None),
        ("P", None),
        ("F", None),
        ("R", []),
        ("O", []),
        ("C", []),
        ("C+", None),
        ("C<", None),
        ("C>", None),
        ("C#", 0),
    ],
)
def test_no_match_is_null_or_empty_when_not_strict(policy, empty):
    r = run(policy_table(policy), x=[50, None, 7], _strict=False)
    assert errors(r) == [None, None, None]
    assert values(r, "y")[:2] == [empty, empty]
    assert ids(r)[:2] == [None, None]
    assert values(r, "y")[2] in (1, [1])


@pytest.mark.parametrize("policy,default_value", [("U", "none"), ("F", "none"), ("C", ["none"])])
def test_default_output_used_when_no_rule_matches(policy, default_value):
    r = run(size_table(policy, default=['"none"']), x=[1, None, 30])
    assert values(r, "y")[1] == default_value
    assert ids(r) == ["R3", "default", "R1"]
    assert errors(r) == [None, None, None]
    assert "default none" in r.reasons[1]


def test_default_for_collect_count_and_computed_default():
    r = run(size_table("C#", default=["0"]), x=[1, None])
    assert values(r, "y") == [1, 0] and ids(r) == ["R3", "default"]
    t = table(
        "d",
        hit_policy="U",
        inputs=[("x", "number")],
        outputs=[("y", None, ())],
        rules=[("D1", ["> 100"], ["x"])],
        default=["z * 2"],
    )
    r = run(t, x=[500, 3], z=[1, 21])
    assert values(r, "y") == [500, 42] and ids(r) == ["D1", "default"]


# ------------------------------------------------------- blocked, computed ---


@pytest.mark.parametrize("policy", ["U", "F", "C", "C#"])
def test_blocked_rows_get_the_message_and_others_still_evaluate(policy):
    blocked = np.array([None, "bad value in x: 'abc'", None], dtype=object)
    r = run(size_table(policy), x=[1, 1, 30], _blocked=blocked)
    assert errors(r) == [None, "bad value in x: 'abc'", None]
    assert ids(r) == ["R3", None, "R1"]
    assert values(r, "y")[1] is None and r.reasons[1] is None
    assert values(r, "y")[0] in ("small", ["small"], 1)


def test_computed_outputs_per_row():
    t = table(
        "c",
        hit_policy="F",
        inputs=[("x", "number")],
        outputs=[("y", "number", ())],
        rules=[("C1", [">= 10"], ["x * 2"]), ("C2", ["-"], ["x + price"])],
    )
    r = run(t, x=[1, 12, None, 3], price=[10, 99, 5, None])
    assert values(r, "y") == [11, 24, None, None]
    assert ids(r) == ["C2", "C1", "C2", "C2"]


def test_literal_and_computed_outputs_in_one_column():
    t = table(
        "m",
        hit_policy="F",
        inputs=[("x", "number")],
        outputs=[("y", None, ())],
        rules=[("M1", [">= 10"], ["x * 2"]), ("M2", ["-"], ["0"])],
    )
    r = run(t, x=[1, 12])
    assert ids(r) == ["M2", "M1"]
    assert values(r, "y") == [0, 24]
    assert r.reasons[0] == "any case → 0 (rule M2)"


def test_a_rule_that_decides_every_row_computes_from_its_inputs_and_leaves_them_as_they_were():
    """The rule's inputs are then used as they are, not copied, and literals are one
    value seen on every row: neither may be written to, and the results are the
    ones a copy gave."""
    t = table(
        "all",
        hit_policy="F",
        inputs=[("x", "number")],
        outputs=[("y", "number", ()), ("label", "string", ())],
        rules=[("A1", ["-"], ["x * 2 + 1", 'name + "!"'])],
        default=None,
    )
    inputs = env(x=[1, None, 3.5, -0.0], name=["甲", "乙", None, "丁"])
    before = {k: (c.values.copy(), c.values.flags.writeable) for k, c in inputs.items()}
    r = evaluate_table(t, inputs, 4)
    assert ids(r) == ["A1"] * 4
    assert values(r, "y") == [3, None, 8, 1]
    assert values(r, "label") == ["甲!", "乙!", None, "丁!"]
    for name, (values_before, writeable) in before.items():
        assert inputs[name].values.flags.writeable == writeable
        np.testing.assert_array_equal(inputs[name].values, values_before)
    r.outputs["y"].values[0] = 0.0  # the decision's own columns can still be written (defaults, failed rows)
    assert values(r, "y")[0] == 0


def test_a_rules_inputs_are_copied_only_for_some_of_the_rows():
    columns = env(x=[1.0, 2.0, 3.0], name=["a", "b", "c"])
    every = _subset(columns, {"x", "name", "absent"}, np.arange(3), 3)
    assert every.keys() == {"x", "name"} and all(every[k] is columns[k] for k in every)
    some = _subset(columns, {"x", "name"}, np.array([0, 2]), 3)
    assert some["x"].values.tolist() == [1.0, 3.0] and some["name"].values.tolist() == ["a", "c"]
    assert not np.shares_memory(some["x"].values, columns["x"].values)


def test_a_literal_is_one_value_on_every_row_without_an_array_per_row():
    constant = eval_expr(feel.Literal(0.25, "number"), {}, 1_048_575)
    assert len(constant) == 1_048_575 and constant.values.strides == (0,)
    assert constant.values[0] == constant.values[-1] == 0.25
    text = eval_expr(feel.Literal("金融", "string"), {}, 3)
    assert text.values.tolist() == ["金融"] * 3 and text.values.strides == (0,)


# ------------------------------------------------------------- reasons -------


def test_reasons_name_the_actual_value_and_rule():
    r = run(size_table("F"), x=X)
    assert r.reasons[0] == "x 1 < 5 → small (rule R3)"
    assert r.reasons[2] == "x 12 ≥ 10 → big (rule R1: ten or more)"
    r = run(size_table("C"), x=X)
    assert "x 12 ≥ 10" in r.reasons[2] and "x 12 in [5..20]" in r.reasons[2]
    assert "(rule R1: ten or more)" in r.reasons[2] and "(rule R2)" in r.reasons[2]


def test_reasons_for_aggregation_and_strings():
    t = table(
        "s",
        hit_policy="C+",
        inputs=[("ind", "string")],
        outputs=[("y", None, ())],
        rules=[("S1", ['"金融", "政府"'], ["10"], "public or finance"), ("S2", ["-"], ["1"])],
    )
    r = run(t, ind=["金融", "IT"])
    assert values(r, "y") == [11, 1]
    assert r.reasons[0].startswith("sum 11 of: ind 金融 in 金融, 政府 → 10 (rule S1: public or finance); ")
    assert r.reasons[1] == "sum 1 of: any case → 1 (rule S2)"


# ------------------------------------------------- property: FIRST tables ----


def _num_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


numbers = st.integers(-20, 20).map(float) | st.integers(-40, 40).map(lambda i: i / 2)


@st.composite
def first_rule(draw):
    kind = draw(st.sampled_from(["range", "compare", "any", "not_range", "list"]))
    if kind == "any":
        return "-", ("any",)
    if kind == "compare":
        op, v = draw(st.sampled_from(["<", "<=", ">", ">=", "=", "!="])), draw(numbers)
        return f"{op} {_num_text(v)}", ("compare", op, v)
    if kind == "list":
        vs = draw(st.lists(numbers, min_size=1, max_size=3))
        return ", ".join(_num_text(v) for v in vs), ("list", vs)
    lo, hi = sorted([draw(numbers), draw(numbers)])
    lc, hc = draw(st.booleans()), draw(st.booleans())
    opener = "[" if lc else draw(st.sampled_from(["(", "]"]))
    closer = "]" if hc else draw(st.sampled_from([")", "["]))
    text = f"{opener}{_num_text(lo)}..{_num_text(hi)}{closer}"
    if kind == "not_range":
        return f"not({text})", ("not_range", lo, hi, lc, hc)
    return text, ("range", lo, hi, lc, hc)


def reference_match(spec, v):
    """FEEL semantics written out by hand: comparisons with null are unknown (no
    match), null equals only null, not(unknown) is unknown."""
    kind = spec[0]
    if kind == "any":
        return True
    if kind == "compare":
        _, op, b = spec
        if v is None:
            return op == "!="
        return {"<": v < b, "<=": v <= b, ">": v > b, ">=": v >= b, "=": v == b, "!=": v != b}[op]
    if kind == "list":
        return v is not None and v in spec[1]
    _, lo, hi, lc, hc = spec
    if v is None:
        return False
    inside = (lo < v or (lc and v == lo)) and (v < hi or (hc and v == hi))
    return inside if kind == "range" else not inside


def reference_first(specs, outputs, default, xs):
    out, rule_ids = [], []
    for v in xs:
        hit = next((i for i, spec in enumerate(specs) if reference_match(spec, v)), None)
        if hit is None:
            out.append(default)
            rule_ids.append("default" if default is not None else None)
        else:
            out.append(outputs[hit])
            rule_ids.append(f"R{hit + 1}")
    return out, rule_ids


@settings(max_examples=300, deadline=None)
@given(rules=st.lists(first_rule(), min_size=1, max_size=6), data=st.data(), has_default=st.booleans())
def test_first_matches_reference_evaluator(rules, data, has_default):
    specs = [spec for _, spec in rules]
    endpoints = [
        x for s in specs for part in s[1:] for x in (part if isinstance(part, list) else [part]) if isinstance(x, float)
    ]
    pool = st.sampled_from(endpoints) | numbers if endpoints else numbers
    xs = data.draw(st.lists(st.none() | pool, min_size=1, max_size=25))
    outputs = [100.0 + i for i in range(len(rules))]
    default = -1.0 if has_default else None
    t = table(
        "prop",
        hit_policy="F",
        inputs=[("x", "number")],
        outputs=[("y", "number", ())],
        rules=[(f"R{i + 1}", [text], [_num_text(outputs[i])]) for i, (text, _) in enumerate(rules)],
        default=["-1"] if has_default else None,
    )
    r = engine.evaluate_table(t, {"x": column("number", xs)}, len(xs), strict=False)
    expected_out, expected_ids = reference_first(specs, outputs, default, xs)
    assert values(r, "y") == expected_out
    assert ids(r) == expected_ids
    assert errors(r) == [None] * len(xs)


# ----------------------------------------- aggregations at scale, exactly ----


def _down_the_matrix(policy, matrix, stack):
    """C+, C<, C> as one reduction down the (rules, rows) matrix of the rules' values."""
    with np.errstate(invalid="ignore", over="ignore"):
        if policy == "C+":
            agg = np.where(matrix, stack, 0.0).sum(axis=0)
        elif policy == "C<":
            agg = np.where(matrix, stack, np.inf).min(axis=0)
        else:
            agg = np.where(matrix, stack, -np.inf).max(axis=0)
    return np.where(matrix.any(axis=0), agg, np.nan)


@pytest.mark.parametrize("policy", ["C+", "C<", "C>"])
def test_aggregating_rule_by_rule_gives_the_reduction_down_the_rule_matrix(policy):
    """The rules' values are combined on the rows each rule matched, without a (rules, rows)
    matrix; the result is bit for bit the reduction down that matrix: the same order of
    additions (0.1 + 0.2 + 0.3), the sign of a zero, NaN for a value that is not a number,
    infinities."""
    from engine.evaluation.columns import Column
    from engine.evaluation.decisions import _aggregate

    rng = np.random.default_rng(7)
    pool = np.array([-0.0, 0.0, 0.1, 0.2, 0.3, -1.0, 2.5, np.nan, np.inf, -np.inf, 1e308, -1e308, 1e-17])
    for _ in range(300):
        count, n = int(rng.integers(1, 30)), int(rng.integers(1, 200))
        matrix = rng.random((count, n)) < rng.random()
        per_rule, stack = {}, np.full((count, n), np.nan)
        for i in range(count):
            rows = np.flatnonzero(matrix[i])
            if not len(rows):
                continue
            if rng.random() < 0.1:  # a rule whose output is text
                per_rule[i] = (rows, {"y": Column("string", np.full(len(rows), "a", dtype=object))})
            else:
                per_rule[i] = (rows, {"y": Column("number", rng.choice(pool, len(rows)))})
                stack[i, rows] = per_rule[i][1]["y"].values
        expected, got = _down_the_matrix(policy, matrix, stack), _aggregate(policy, per_rule, "y", matrix)
        assert np.array_equal(np.isnan(expected), np.isnan(got))
        known = ~np.isnan(expected)
        assert expected[known].tobytes() == got[known].tobytes()  # values and signs of zeros


def test_collect_sum_adds_in_rule_order():
    t = table(
        "s",
        hit_policy="C+",
        inputs=[("x", "number")],
        outputs=[("y", None, ())],
        rules=[("A", ["-"], ["0.1"]), ("B", ["> 0"], ["0.2"]), ("C", ["-"], ["0.3"])],
    )
    assert values(run(t, x=[1, -1]), "y") == [(0.1 + 0.2) + 0.3, 0.1 + 0.3]  # 0.6000000000000001, 0.4


@pytest.mark.parametrize("count", [1, 9, 63, 64, 65, 70])
def test_match_patterns_are_grouped_and_ordered_as_their_bit_rows_sort(count):
    """rule_lists: one group per distinct pattern of matching rules, groups ordered as the
    patterns' rows of booleans sort in listing order, each with its rules in that order -
    the same below 64 rules (one integer per pattern) as above (packed bytes)."""
    from engine.evaluation.hitpolicy import rule_lists

    rng = np.random.default_rng(count)
    matrix = rng.random((count, 500)) < 0.3
    matrix[:, :50] = matrix[:, 50:100]  # repeated patterns
    rows = np.flatnonzero(matrix.any(axis=0))
    order = rng.permutation(count)
    pattern, lists = rule_lists(matrix, rows, order)
    bit_rows = [tuple(matrix[order, row]) for row in rows]
    distinct = sorted(set(bit_rows))
    assert pattern.tolist() == [distinct.index(b) for b in bit_rows]
    assert [idx.tolist() for idx in lists] == [[int(order[k]) for k, on in enumerate(b) if on] for b in distinct]
