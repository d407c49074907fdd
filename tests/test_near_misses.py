"""What would change a decision (engine.evaluation.trace): the ranking over a
whole sheet, the same ranking for one row, the sentences, and the shipped rules
after a threshold change (the 'CT-04 >= 500' story of issue 16)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from helpers import env, run, table

from engine import audit, pipeline
from engine.audit.explain import explain_row
from engine.evaluation import trace
from engine.evaluation.vectorized import eval_expr

ROOT = Path(__file__).resolve().parent.parent

TIER = table(
    "tier",
    hit_policy="F",
    inputs=[("channel", "boolean"), ("score", "number"), ("industry", "string")],
    outputs=[("tier", None, ())],
    rules=[
        ("T1", ["false", "-", "-"], ['"none"']),
        ("T2", ["-", ">= 500", "-"], ['"platinum"']),
        ("T3", ["-", "[300..500)", "-"], ['"gold"']),
        ("T4", ["-", "-", '"金融"'], ['"gold"']),
        ("T5", ["-", "[150..300)", "-"], ['"silver"']),
        ("T6", ["-", "< 150", "-"], ['"none"']),
    ],
)
ROWS = dict(
    channel=[True, True, True, False, True, True],
    score=[462.0, 310.0, 120.0, 600.0, None, 290.0],
    industry=["制造", "制造", "制造", "金融", "制造", "金融"],
)


def ranked(result) -> list[list[str]]:
    ids = [r.id for r in result.decision.rules]
    return [[ids[r] for r in column if r >= 0] for column in result.near_misses.T]


def test_closest_rule_with_another_outcome_comes_first():
    result = run(TIER, **ROWS, _trace=True)
    assert list(result.rules) == ["T3", "T3", "T6", "T1", None, "T4"]
    misses = ranked(result)
    # 462 is 7.6 % short of 500: T2 before the silver band 35 % away; T1 (a boolean) last
    assert misses[0] == ["T2", "T5", "T6"]
    # 310 is 3 % above 300: silver first; T4 gives gold too, so it is no near miss
    assert misses[1] == ["T5", "T2", "T6"]
    # the deciding rule T1 would still win over any later rule: only changing the channel helps,
    # and then the score decides (600: T2)
    assert misses[3] == []
    assert misses[4] == []  # an error row (no score and no default): nothing to rank
    # a row decided by T4 (金融): T5's band does not touch the industry, so T4 would still win;
    # T2 and T3 come before T4 (first hit) - T3 gives gold as well
    assert misses[5] == ["T2", "T1"]


def test_one_row_ranks_as_in_the_whole_sheet():
    whole = run(TIER, **ROWS, _trace=True)
    for i in range(len(ROWS["score"])):
        one = run(TIER, **{k: [v[i]] for k, v in ROWS.items()}, _trace=True)
        assert ranked(one) == [ranked(whole)[i]]


def test_conditions_met_by_degree_rank_before_categories():
    result = run(TIER, channel=[True], score=[10.0], industry=["制造"], _trace=True)
    # T4 (金融) needs another industry: after T5 (150 is far: 93 %) although it fails once too
    assert ranked(result) == [["T5", "T3", "T2"]]
    everything = trace.near_misses(
        TIER,
        [eval_expr(c.expr, env(channel=[True], score=[10.0], industry=["制造"]), 1) for c in TIER.inputs],
        env(channel=[True], score=[10.0], industry=["制造"]),
        result.matches,
        np.ones(1, bool),
        np.array([5]),
        keep=6,
    )
    assert [TIER.rules[r].id for r in everything[:, 0] if r >= 0] == ["T5", "T3", "T2", "T4"]


def test_collect_sum_ranks_rules_that_would_add():
    score = table(
        "score",
        hit_policy="C+",
        inputs=[("revenue", "number"), ("listed", "boolean")],
        outputs=[("points", "number", ())],
        rules=[
            ("S1", [">= 1000", "-"], ["80"]),
            ("S2", ["[200..1000)", "-"], ["48"]),
            ("S3", ["-", "true"], ["30"]),
        ],
    )
    result = run(score, revenue=[626.2, 2000.0], listed=[False, True], _trace=True)
    assert ranked(result) == [["S1", "S3"], ["S2"]]


def test_the_sentences_say_the_threshold_and_the_value():
    e = env(channel=[True], score=[462.0], industry=["制造"])
    inputs = [eval_expr(c.expr, e, 1) for c in TIER.inputs]
    changes = trace.changes(TIER, [1, 0, 3], inputs, e, {})
    assert changes[0].sentence() == "would be platinum if score were ≥ 500 (it is 462) — rule T2"
    assert changes[0].by_degree and not changes[1].by_degree
    assert trace.summary(changes[1:]) == [
        "with another channel (it is true): would be none (rule T1)",
        "with another industry (it is 制造): would be gold (rule T4)",
    ]


def test_records_keep_rule_ids_and_older_text_still_reads():
    row = {"key": "C3", "row": 4, "tier.tier": "silver", "tier.rule": "T2", "tier.error": None}
    new = explain_row("clients", {**row, "tier.near_misses": "T1, T4"})
    assert "near misses: T1, T4 (closest first)" in new
    old = explain_row("clients", {**row, "tier.near_misses": "T1 → gold not matched: revenue 50, needs ≥ 1,000"})
    assert "near misses:\n      - T1 → gold not matched: revenue 50, needs ≥ 1,000" in old


@pytest.fixture
def raised_threshold(tmp_path):
    """The shipped rules with CT-04 raised from >= 450 to >= 500 (and CT-05 up to 500)."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    book = openpyxl.load_workbook(rules / "client_tier.xlsx")
    for row in book["client_tier"].iter_rows():
        for cell in row:
            cell.value = {">= 450": ">= 500", "[300..450)": "[300..500)"}.get(cell.value, cell.value)
    book.save(rules / "client_tier.xlsx")
    return rules


def test_after_raising_ct04_c0029_is_told_about_ct04_and_500_first(raised_threshold):
    answer = pipeline.explain_row(
        ROOT / "workbooks" / "key_accounts.xlsx", "C0029", decision="client_tier", rules_path=raised_threshold
    )
    (text,) = answer.texts
    assert "client_tier: client_tier = gold" in text
    assert "reason:      client score 458 in [300..500) → gold" in text
    first = text.split("what would change it:\n")[1].splitlines()[0]
    assert first == "      - would be platinum if client score were ≥ 500 (it is 458) — rule CT-04"


def test_a_segment_mismatch_is_one_line_not_one_per_segment():
    answer = pipeline.explain_row(
        ROOT / "workbooks" / "key_accounts.xlsx", "C0023", decision="industry_segment", rules_path=ROOT / "rules"
    )
    (text,) = answer.texts
    changes = text.split("what would change it:\n")[1].split("\n\n")[0].splitlines()
    assert changes == [
        "      - with another industry (it is 金融): would be 政府, 电信业, 教育 or 未评估 "
        "(rules IS-01, IS-02, IS-03, IS-05)"
    ]


def test_audit_rows_of_a_whole_sheet_hold_the_ranking(tmp_path):
    rules = pipeline.load_rules(ROOT / "rules")
    evaluation = pipeline.evaluate(
        rules, pipeline.bind(rules, pipeline.read_register(ROOT / "workbooks" / "key_accounts.xlsx")), trace=True
    )
    rows = {row["key"]: row for row in audit.row_table(evaluation, "clients").to_pylist()}
    # platinum by CT-04 (542 >= 450): the gold band 17 % below, silver further, then the arrears cap
    assert rows["C0023"]["client_tier.near_misses"] == "CT-05, CT-06, CT-08"
    # the Arrow column is dictionary-encoded: one text per distinct ranking, not per row
    table = audit.row_table(evaluation, "clients")
    assert str(table.schema.field("client_tier.near_misses").type).startswith("dictionary")


@pytest.mark.parametrize("block", [1, 3, 64])
def test_ranking_a_block_of_rows_at_a_time_is_the_ranking_of_the_whole_sheet(monkeypatch, block):
    """Every decision of the shipped rules on the sample register, near misses ranked in
    blocks of a few rows (string columns with more distinct values than a block's rows
    factorised again, with fewer cut from the whole column's) against one block."""
    from engine import evaluate_workbook, load_rules

    rules = load_rules(ROOT / "rules")
    workbook = ROOT / "workbooks" / "key_accounts.xlsx"
    whole = evaluate_workbook(rules, workbook, trace=True)
    monkeypatch.setattr(trace, "_ROW_BLOCK", block)
    blocks = evaluate_workbook(rules, workbook, trace=True)
    ranked_rows = 0
    for name, result in whole.results.items():
        assert np.array_equal(blocks.results[name].near_misses, result.near_misses), name
        ranked_rows += int((result.near_misses[0] >= 0).sum())
    assert ranked_rows > 100


def test_a_column_cut_to_some_rows_keeps_its_factorisation_only_when_it_pays():
    from engine.evaluation.columns import Column

    column = Column("string", np.array(["a", "b", None, "a", "c", "b"], dtype=object))
    codes, uniques = column.factorized()
    few = column.between(1, 5)  # 4 rows, 3 distinct values: decided per value
    assert few.values.tolist() == ["b", None, "a", "c"] and np.shares_memory(few.values, column.values)
    assert few.factorized()[0].tolist() == codes[1:5].tolist() and few.factorized()[1] is uniques
    many = column.between(0, 2)  # 2 rows, 3 distinct values: factorised anew
    assert many.factorized()[1].tolist() == ["a", "b"]
