"""The shipped rule tables: the seed figures, and decisions of named sample rows."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rules():
    return engine.load_rules(ROOT / "rules")


@pytest.fixture(scope="module")
def evaluation(rules):
    return engine.evaluate_workbook(rules, ROOT / "workbooks" / "key_accounts.xlsx")


def literal_outputs(table, rule_id):
    rule = next(r for r in table.rules if r.id == rule_id)
    return {c.name: getattr(e, "value", None) for c, e in zip(table.outputs, rule.outputs)}


def test_sla_table_exactly_as_in_the_source(rules):
    terms = rules.decision("sla_terms")
    assert terms.hit_policy == "U"
    expected = {  # level: (days, days with access-layer work, availability %, interruption h/month, coefficient)
        "A": (5, 20, 99.7, 2, 2),
        "B": (7, 30, 99.16, 6, 1.2),
        "C": (15, 40, 98.9, 8, 1),
    }
    for level, figures in expected.items():
        got = literal_outputs(terms, f"SLA-{level}")
        assert (
            got["provisioning_days"],
            got["access_work_days"],
            got["availability"],
            got["interruption_hours"],
            got["price_coefficient"],
        ) == figures


def test_sla_price_is_standard_price_times_coefficient(evaluation):
    frame = engine.result_frame(evaluation, "sla_orders")
    coefficient = frame["sla_tier"].map({"A": 2, "B": 1.2, "C": 1})
    assert (frame["sla_price"] - frame["标准SLA价格(元/月)"].astype(float) * coefficient).abs().max() < 1e-6
    assert (frame["front_end_margin"] == frame["月收入(元)"].astype(float) - frame["sla_price"]).all()


def test_industry_totals_are_computed_not_copied(rules):
    frame = engine.evaluate_frame(
        rules,
        __import__("pandas").DataFrame(
            {
                "客户编号": ["G", "T", "E", "F"],
                "行业": ["党政军", "运营商", "科教文卫", "金融"],
                "年收入(百万元)": [1] * 4,
                "利润率(%)": [1] * 4,
                "IT预算(万元)": [1] * 4,
                "增长率(%)": [1] * 4,
                "欠费率(%)": [0] * 4,
                "回款周期(天)": [30] * 4,
                "投诉次数": [0] * 4,
                "高层关系": ["否"] * 4,
                "市场领先": ["否"] * 4,
                "上市公司": ["否"] * 4,
                "销售渠道": ["是"] * 4,
            }
        ),
        entity="clients",
    )
    # the source writes 46 for telecom; its criteria sum to 44
    assert frame["industry_total"].tolist() == [42, 44, 32, 28]
    # starred when total >= 29.1: finance (28) is not, although the source stars it
    assert frame["industry_selected"].tolist() == [True, True, True, False]


def test_every_shipped_annotation_cites_a_source_or_marks_a_default(rules):
    for table in rules.decisions:
        for rule in table.rules:
            assert rule.annotation, f"{table.name} {rule.id} has no annotation"


def test_named_clients(evaluation):
    clients = engine.result_frame(evaluation, "clients").set_index("客户编号")
    unionpay = clients.loc["C0001"]
    assert unionpay["客户名称"] == "中国银联"
    assert (unionpay["client_tier"], unionpay["client_tier.rule"]) == ("platinum", "CT-03")
    assert unionpay["client_tier.reason"].startswith("annual revenue 2,560 ≥ 1,000 and industry 金融")
    assert unionpay["client_tier.reason"].endswith("(rule CT-03: large finance clients; default - edit)")
    # the warning case: "big order = key account" is wrong; xyz makes losses and pays late
    xyz = clients.loc["C0007"]
    assert (xyz["client_tier"], xyz["client_tier.rule"]) == ("none", "CT-07")
    assert xyz["client_score"] < 150


def test_named_contracts(evaluation):
    contracts = engine.result_frame(evaluation, "contracts").set_index("合同编号")
    big = contracts.loc["HT2026-0008"]  # xyz: 1,500 万, 30 % discount, 2 % margin
    assert big["required_approver"] == "bg_gm"
    assert big["finance_review"] is True or big["finance_review"] == True  # noqa: E712
    assert contracts.loc["HT2026-0001", "required_approver"] == "bu_manager"
    assert contracts.loc["HT2026-0001", "required_approver.rule"] == "CA-06"
    assert contracts.loc["HT2026-0145", "kade.errors"] == "合同金额(万元): cannot read '1,2O0' as a number"
    assert contracts.loc["HT2026-0287", "kade.errors"] == "折扣率(%): cannot read 'N/A' as a number"
    assert contracts.loc["HT2026-0429", "kade.errors"] == "客户编号 C9999 not found in sheet 客户"
    assert contracts["kade.errors"].notna().sum() == 3


def test_named_sla_orders_and_requests(evaluation):
    orders = engine.result_frame(evaluation, "sla_orders").set_index("订单编号")
    assert (orders.loc["SLA2026-0002", "sla_tier"], orders.loc["SLA2026-0002", "sla_tier.rule"]) == (
        "B",
        "ST-01",
    )  # no backup
    assert (orders.loc["SLA2026-0001", "sla_tier"], orders.loc["SLA2026-0001", "sla_tier.rule"]) == (
        "B",
        "ST-02",
    )  # over the A cap
    requests = engine.result_frame(evaluation, "solution_requests").set_index("申请编号")
    assert requests.loc["FA2026-0003", "route"] == "chief_engineer"  # new business from customs
    assert requests.loc["FA2026-0001", "escalation"] == [
        "group_ka_manager",
        "technical_support_manager",
        "technical_office_project_setup",
    ]


def test_sample_is_large_enough(evaluation):
    sizes = {e: len(r) for e, r in evaluation.rows.items()}
    assert (
        sizes["clients"] >= 300
        and sizes["contracts"] > 0
        and sizes["solution_requests"] > 0
        and sizes["sla_orders"] > 0
    )
