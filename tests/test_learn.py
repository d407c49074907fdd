"""kade rules learn: the table people actually follow, induced from a register's
recorded decisions - thresholds recovered within one rounding step, honest fit,
refusals, and a learned workbook that loads, checks and evaluates."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.analysis import learn
from engine.errors import DataError
from tests.workbook_factory import write_data, write_rules

GLOSSARY = [
    # variable, entity, header, type, allowed, label, description, records
    ("contract_id", "contracts", "合同编号", "string", "", "", "", ""),
    ("amount", "contracts", "合同金额(万元)", "number", "", "", "", ""),
    ("discount", "contracts", "折扣率(%)", "number", "", "", "", ""),
    ("standard", "contracts", "标准合同", "boolean", "", "", "", ""),
    ("segment", "contracts", "行业", "string", "", "", "", ""),
    (
        "approver",
        "contracts",
        "",
        "string",
        '"account_manager", "industry_manager", "bu_manager"',
        "",
        "",
        "",
    ),
    ("signed_by", "contracts", "审批人级别", "string", "", "", "", "approver"),
]
ENTITIES = [("contracts", "合同", "contract_id", "", "")]
POLICY = (
    "approval",
    "contracts",
    "F",
    [("input", "amount"), ("input", "discount"), ("input", "standard"), ("input", "segment"), ("output", "approver")],
    [
        ("P1", "<= 50", "<= 5", "-", "-", '"account_manager"', "policy: 50 万 and 5 %"),
        ("P2", "< 100", "-", "-", "-", '"industry_manager"', ""),
        ("P3", "-", "-", "-", "-", '"bu_manager"', ""),
    ],
)


def practice(amount: float, discount: float) -> str:
    """What people do: the account manager signs up to 80 万 and 8 % (the policy says 50 and 5)."""
    if amount <= 80 and discount < 8:
        return "account_manager"
    return "industry_manager" if amount < 100 else "bu_manager"


@pytest.fixture(scope="module")
def register(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learn")
    rules = write_rules(folder / "rules", GLOSSARY, ENTITIES, {"approval.xlsx": [POLICY]})
    rng = np.random.default_rng(7)
    rows = [["合同编号", "合同金额(万元)", "折扣率(%)", "标准合同", "行业", "审批人级别"]]
    for i in range(600):
        amount = float(rng.choice([rng.integers(5, 150), rng.integers(70, 90)]))  # many near the threshold
        discount = float(rng.integers(0, 15))
        recorded = practice(amount, discount)
        if i % 50 == 7:
            recorded = None  # left empty: not learned from
        shown_amount: float | str = "about 80" if i % 97 == 3 else amount  # a bad value: the row is in error
        rows.append([f"HT{i:04d}", shown_amount, discount, "是" if i % 3 else "否", ["金融", "政府"][i % 2], recorded])
    data = write_data(folder / "register.xlsx", {"合同": rows})
    loaded = engine.load_rules(rules)
    return loaded, engine.evaluate_workbook(loaded, data), folder


def test_the_practised_thresholds_are_recovered(register):
    _rules, evaluation, _ = register
    table = learn.learn(evaluation, "approval")
    assert table.recorded_column == "审批人级别" and table.left_out["recorded value empty"] == 12
    assert table.left_out["rows in error"] == 7 and table.rows_used == 600 - 12 - 7
    account = [r for r in table.rules if r.output == "account_manager"]
    assert len(account) == 1
    amount, discount = (next(c for c in account[0].conditions if c.name == n) for n in ("amount", "discount"))
    # within one rounding step of the practice (80 万 inclusive, below 8 %), not the policy's 50 / 5
    assert (amount.high, amount.high_closed) in ((80.0, True), (81.0, False))
    assert (discount.high, discount.high_closed) in ((8.0, False), (7.0, True))
    assert table.training_accuracy == 1.0 and table.holdout_accuracy > 0.95
    policy_agrees = float((table.comparison["policy"] == table.comparison["recorded"]).mean())
    assert policy_agrees < 0.9  # the register departs from the written policy


def test_fit_is_reported_and_inputs_not_split_on_read_as_any(register):
    _rules, evaluation, _ = register
    table = learn.learn(evaluation, "approval")
    lines = "\n".join(table.lines())
    assert "hold-out (5-fold cross-validated)" in lines and "left out: 12 recorded value empty" in lines
    for rule in table.rules:
        cells = {c.name: c.cell() for c in rule.conditions}
        assert cells["standard"] == "-" and cells["segment"] == "-"  # neither explains the practice
        assert rule.support > 0 and 0 < rule.accuracy <= 1
    assert sum(r.support for r in table.rules) == table.rows_used
    confusion = table.confusion("policy")
    assert confusion.loc["account_manager"].sum() == (table.comparison["recorded"] == "account_manager").sum()


def test_the_learned_workbook_loads_and_reproduces_the_recorded_column(register, tmp_path):
    rules, evaluation, folder = register
    table = learn.learn(evaluation, "approval")
    out = learn.write_rule_workbook(table, rules, tmp_path / "learned" / "approval.xlsx")
    learned = engine.load_rules(out)
    decision = learned.decision("approval")
    assert decision.hit_policy == "U" and len(decision.rules) == len(table.rules)
    assert all("learned:" in r.annotation for r in decision.rules)
    again = engine.evaluate_workbook(learned, folder / "register.xlsx")
    frame = engine.result_frame(again, "contracts")
    recorded = frame["审批人级别"]
    kept = recorded.notna() & frame["approver"].notna()  # rows in error decide nothing and were not learned from
    assert kept.sum() == table.rows_used
    assert (frame.loc[kept, "approver"] == recorded[kept]).mean() == pytest.approx(table.training_accuracy)
    from engine.analysis.rules_check import check_path

    report = check_path(out)
    # no overlaps (leaves never overlap), no gaps: inputs no training row left empty are required
    assert report.exit_code == 0, report.render_text()


def test_too_few_rows_and_unknown_names_are_refused(register):
    _rules, evaluation, _ = register
    with pytest.raises(DataError, match="no decision 'aproval'"):
        learn.learn(evaluation, "aproval")
    with pytest.raises(DataError, match="not in the glossary: turnover"):
        learn.learn(evaluation, "approval", inputs=["turnover"])
    with pytest.raises(DataError, match="no column 'signer'"):
        learn.learn(evaluation, "approval", recorded_column="signer")
    rows = evaluation.rows["contracts"]
    small = engine.evaluate(evaluation.rules, {"contracts": _first(rows, 35)})
    with pytest.raises(DataError, match="too few rows"):
        learn.learn(small, "approval")


def _first(rows, n):
    from dataclasses import replace

    return replace(
        rows,
        frame=rows.frame.iloc[:n],
        columns={k: type(c)(c.type, c.values[:n]) for k, c in rows.columns.items()},
        cell_errors={k: v[:n] for k, v in rows.cell_errors.items()},
        keys=None if rows.keys is None else rows.keys[:n],
    )


@pytest.mark.parametrize(
    "lo, hi, cut",
    [(79.5, 80.5, (80.0, False)), (80.0, 80.2, (80.0, True)), (493.0, 512.0, (500.0, False)), (0.3, 0.35, (0.3, True))],
)
def test_cuts_are_the_roundest_number_in_the_gap(lo, hi, cut):
    values = np.array([lo - 1, lo, hi, hi + 1])
    assert learn._round_split(values, (lo + hi) / 2, "number") == cut


# ---------------------------------------------------------- the shipped sample ----


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    from pathlib import Path

    from engine import pipeline

    root = Path(__file__).resolve().parent.parent
    out = tmp_path_factory.mktemp("sample-learn")
    rules = engine.load_rules(root / "rules")
    run = pipeline.learn_rules(
        root / "workbooks" / "key_accounts.xlsx",
        rules,
        "required_approver",
        output=out / "learned" / "approval.xlsx",
        report=out / "report.xlsx",
    )
    return run, root


def test_the_seeded_practice_is_named_with_its_rows(sample_run):
    """generate_sample.py seeds: the account manager signs standard contracts up to 80 万
    with a discount under 8 % (the policy, CA-01: 50 万 and 5 %)."""
    import sys

    sys.path.insert(0, str(sample_run[1] / "workbooks"))
    import generate_sample

    run, _root = sample_run
    top = run.departures[0]
    assert top.output == "account_manager" and top.counterpart == "CA-01" and top.rows >= 50
    moved = {name: (old, new) for name, old, new in top.moved}
    assert moved["amount"][0] == "[0..50]" and moved["discount"][0] == "[0..5]"
    rule = next(r for r in run.table.rules if r.id == top.rule)
    amount, discount = (next(c for c in rule.conditions if c.name == n) for n in ("amount", "discount"))
    # within one rounding step of the seeded 80 万 / 8 %
    assert abs(amount.high - generate_sample.PRACTICE_AMOUNT) <= 10 and amount.low is None
    assert abs(discount.high - generate_sample.PRACTICE_DISCOUNT) <= 1 and discount.low is None
    assert "CA-03" in top.policy_rules  # the policy gives most of those rows to the industry manager


def test_the_sample_learned_table_checks_clean_and_reproduces_its_accuracy(sample_run):
    from engine.analysis.rules_check import check_path

    run, root = sample_run
    assert check_path(run.output).exit_code == 0
    learned = engine.load_rules(run.output)
    again = engine.result_frame(
        engine.evaluate_workbook(learned, root / "workbooks" / "key_accounts.xlsx"), "contracts"
    )
    rows = run.table.comparison["row"].to_numpy() - 2
    decided = again["required_approver"].to_numpy()[rows]
    assert (decided == run.table.comparison["recorded"].to_numpy()).mean() == pytest.approx(run.table.training_accuracy)
    assert 0.5 < run.table.holdout_accuracy <= run.table.training_accuracy + 0.05


def test_the_report_holds_fit_departures_and_charts(sample_run):
    import zipfile

    import openpyxl

    run, _root = sample_run
    book = openpyxl.load_workbook(run.report)
    assert book.sheetnames == ["Summary", "Agreement", "Learned table", "Recorded x learned", "Recorded x policy"]
    summary = [c.value for c in book["Summary"]["A"] if c.value]
    assert any("hold-out" in str(v) for v in summary) and any("against CA-01" in str(v) for v in summary)
    with zipfile.ZipFile(run.report) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())


def test_rules_diff_reads_the_learned_table_as_practice_against_policy(sample_run):
    from click.testing import CliRunner

    from cli import main

    run, root = sample_run
    policy = root / "rules" / "contract_authorization.xlsx"
    counted = CliRunner().invoke(
        main,
        ["rules", "diff", str(policy), str(run.output), "--against", str(root / "workbooks" / "key_accounts.xlsx")],
    )
    assert counted.exit_code == 1, counted.output  # rows are decided otherwise
    top = run.departures[0]
    line = next(x for x in counted.output.splitlines() if x.strip().startswith(f"{top.rule} →"))
    assert f"{top.rows:,} rows the policy decides otherwise" in line and "amount [0..50] →" in line
    assert "rows of" in counted.output and "are decided the same" in counted.output
    moves_only = CliRunner().invoke(main, ["rules", "diff", str(policy), str(run.output)])
    assert (
        moves_only.exit_code == 0
        and "against CA-01" in moves_only.output
        and "rows the policy" not in moves_only.output
    )
