"""Add (or replace) the "Tests" sheet of each shipped rule workbook in rules/.

    python tools/add_test_sheets.py            # rules/*.xlsx
    python tools/add_test_sheets.py -o other/  # another copy of the shipped rules

Every rule of every shipped table is hit by at least one case, with the answer
the policy gives (worked out by hand from the tables, not recorded from a run),
plus the boundaries a threshold change would move. Only the Tests sheet is
written: the decision sheets are kept as they are (openpyxl reads and saves the
workbook; `kade rules show --text` before and after shows the same tables).
Layout of a Tests sheet: docs/publishing.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

RULES = Path(__file__).resolve().parent.parent / "rules"
SHEET = "Tests"
YES, NO = "是", "否"

HEAD = PatternFill("solid", fgColor="DDEBF7")
EXPECTED = PatternFill("solid", fgColor="E2EFDA")

# Input columns use the register's headers, so rows can be pasted from a register;
# decision outputs given as inputs (client_score ...) use their names.
REL = ["长期合作潜力", "交易历史及口碑", "客户经理影响力", "内部协调能力", "高层重视程度"]
REL_US = [f"{i}(我方)" for i in REL]
REL_RIVAL = [f"{i}(对手)" for i in REL]
CLIENT_COLUMNS = [
    "case",
    "decision",
    "行业",
    "industry_segment",
    "industry_total",
    "销售渠道",
    "年收入(百万元)",
    "利润率(%)",
    "IT预算(万元)",
    "增长率(%)",
    "欠费率(%)",
    "回款周期(天)",
    "投诉次数",
    "高层关系",
    "市场领先",
    "上市公司",
    *REL_US,
    *REL_RIVAL,
    "our_relationship",
    "rival_relationship",
    "relationship_lead",
    "client_score",
    "expected industry_segment",
    "expected seg_growth",
    "expected industry_total",
    "expected industry_selected",
    "expected our_relationship",
    "expected rival_relationship",
    "expected relationship_lead",
    "expected client_score",
    "expected client_tier",
    "expected rule",
    "expected client_tier.rule",
    "note",
]

# a strong client (C0001 中国银联 in the sample register)
UNIONPAY = {
    "行业": "金融",
    "销售渠道": YES,
    "年收入(百万元)": 2560,
    "利润率(%)": 18,
    "IT预算(万元)": 11800,
    "增长率(%)": 12,
    "欠费率(%)": 0.5,
    "回款周期(天)": 30,
    "投诉次数": 2,
    "高层关系": YES,
    "市场领先": YES,
    "上市公司": NO,
    **dict(zip(REL_US, (90, 85, 80, 75, 90))),
    **dict(zip(REL_RIVAL, (70, 60, 65, 60, 70))),
}

# issue 15's first row: a big finance client with poor credit and profit
BIG_FINANCE = {
    "行业": "金融",
    "销售渠道": YES,
    "年收入(百万元)": 1500,
    "利润率(%)": 2,
    "IT预算(万元)": 0,
    "增长率(%)": 0,
    "欠费率(%)": 25,
    "回款周期(天)": 120,
    "投诉次数": 0,
    "高层关系": NO,
    "市场领先": NO,
    "上市公司": NO,
    "relationship_lead": 0,
}


def _noted(row: dict, note: str) -> dict:
    """A case with its note, if it has one."""
    if note:
        row["note"] = note
    return row


def _tier_case(case, score, expected, rule, note="", channel=YES, arrears=1, margin=10):
    """client_tier with the score given (and the tier's other inputs)."""
    row = {
        "case": case,
        "decision": "client_tier",
        "销售渠道": channel,
        "欠费率(%)": arrears,
        "利润率(%)": margin,
        "client_score": score,
        "expected client_tier": expected,
        "expected rule": rule,
    }
    return _noted(row, note)


CLIENT_CASES = [
    # industry_segment (U)
    {
        "case": "党政军 rated as 政府",
        "decision": "industry_segment",
        "行业": "党政军",
        "expected industry_segment": "政府",
        "expected rule": "IS-01",
    },
    {
        "case": "运营商 rated as 电信业",
        "decision": "industry_segment",
        "行业": "运营商",
        "expected industry_segment": "电信业",
        "expected rule": "IS-02",
    },
    {
        "case": "科教文卫 rated as 教育",
        "decision": "industry_segment",
        "行业": "科教文卫",
        "expected industry_segment": "教育",
        "expected rule": "IS-03",
    },
    {
        "case": "金融 rated as 金融",
        "decision": "industry_segment",
        "行业": "金融",
        "expected industry_segment": "金融",
        "expected rule": "IS-04",
    },
    {
        "case": "制造 not rated",
        "decision": "industry_segment",
        "行业": "制造",
        "expected industry_segment": "未评估",
        "expected rule": "IS-05",
    },
    # industry_attractiveness (U): the segment is given
    {
        "case": "政府 row",
        "decision": "industry_attractiveness",
        "industry_segment": "政府",
        "expected seg_growth": 7,
        "expected rule": "IA-01",
    },
    {
        "case": "电信业 row",
        "decision": "industry_attractiveness",
        "industry_segment": "电信业",
        "expected seg_growth": 7,
        "expected rule": "IA-02",
    },
    {
        "case": "教育 row",
        "decision": "industry_attractiveness",
        "industry_segment": "教育",
        "expected seg_growth": 5,
        "expected rule": "IA-03",
    },
    {
        "case": "金融 row",
        "decision": "industry_attractiveness",
        "industry_segment": "金融",
        "expected seg_growth": 3,
        "expected rule": "IA-04",
    },
    {
        "case": "not rated: no points",
        "decision": "industry_attractiveness",
        "industry_segment": "未评估",
        "expected seg_growth": 0,
        "expected rule": "default",
        "note": "the default row is not a row of the table: it does not count in the ★ cut-off",
    },
    # industry_total (U): computed from the industry through the two tables above
    {
        "case": "运营商 total",
        "decision": "industry_total",
        "行业": "运营商",
        "expected industry_total": 44,
        "expected rule": "IT-01",
        "note": "the source writes 46; its eight criteria sum to 44",
    },
    {
        "case": "金融 total",
        "decision": "industry_total",
        "行业": "金融",
        "expected industry_total": 28,
        "expected rule": "IT-01",
    },
    # industry_selected (U): against the cut-off computed from the industry table, (42 + 44 + 32 + 28) / 4 = 36.5
    {
        "case": "党政军 42 ≥ 36.5 ★",
        "decision": "industry_selected",
        "行业": "党政军",
        "expected industry_selected": True,
        "expected rule": "SEL-02",
    },
    {
        "case": "total exactly the cut-off 36.5",
        "decision": "industry_selected",
        "industry_total": 36.5,
        "expected industry_selected": True,
        "expected rule": "SEL-02",
        "note": "boundary: ≥ the average of the industry table",
    },
    {
        "case": "total 36.4",
        "decision": "industry_selected",
        "industry_total": 36.4,
        "expected industry_selected": False,
        "expected rule": "SEL-03",
    },
    {
        "case": "科教文卫 32 < 36.5",
        "decision": "industry_selected",
        "行业": "科教文卫",
        "expected industry_selected": False,
        "expected rule": "SEL-03",
        "note": "the source stars 教育 against its stated 29.1; the average of the table's rows is 36.5",
    },
    {
        "case": "金融 28 < 36.5 (issue 15)",
        "decision": "industry_selected",
        "行业": "金融",
        "expected industry_selected": False,
        "expected rule": "SEL-03",
        "note": "SEL-03's annotation says the source stars 金融 at 28",
    },
    {
        "case": "制造 not rated: total 0",
        "decision": "industry_selected",
        "行业": "制造",
        "expected industry_selected": False,
        "expected rule": "SEL-03",
    },
    # relationship capability: the source's weights ×3, ×4, ×5, ×4, ×3
    {
        "case": "中国银联 relationship capability",
        "decision": "relationship_capability",
        **{k: v for k, v in UNIONPAY.items() if k in REL_US + REL_RIVAL},
        "expected our_relationship": 1580,
        "expected rival_relationship": 1225,
        "expected rule": "RC-01",
        "note": "3×90+4×85+5×80+4×75+3×90; 3×70+4×60+5×65+4×60+3×70",
    },
    {
        "case": "lead over the competitor",
        "decision": "relationship_lead",
        "our_relationship": 1580,
        "rival_relationship": 1225,
        "expected relationship_lead": 355,
        "expected rule": "RL-01",
    },
    # client_score (C+): every contribution
    {
        "case": "strong client (中国银联)",
        "decision": "client_score",
        **UNIONPAY,
        "expected client_score": 594,
        "expected rule": "SC-01, SC-02, SC-05, SC-09, SC-12, SC-17, SC-18, SC-21",
        "note": "80+80+100+80+30+64+80+80; 金融 is not ★",
    },
    {
        "case": "mid client, target segment",
        "decision": "client_score",
        "行业": "党政军",
        "销售渠道": YES,
        "年收入(百万元)": 500,
        "利润率(%)": 8,
        "IT预算(万元)": 300,
        "增长率(%)": 25,
        "欠费率(%)": 5,
        "回款周期(天)": 120,
        "投诉次数": 6,
        "高层关系": NO,
        "市场领先": NO,
        "上市公司": YES,
        "relationship_lead": -50,
        "expected client_score": 300,
        "expected rule": "SC-01, SC-03, SC-06, SC-10, SC-11, SC-14, SC-15, SC-16, SC-19, SC-20, SC-22",
        "note": "80+48+60+40+60-20-40-18+100+30-40",
    },
    {
        "case": "small client in arrears",
        "decision": "client_score",
        "行业": "制造",
        "销售渠道": NO,
        "年收入(百万元)": 100,
        "利润率(%)": 3,
        "IT预算(万元)": 50,
        "增长率(%)": 2,
        "欠费率(%)": 15,
        "回款周期(天)": 60,
        "投诉次数": 0,
        "高层关系": NO,
        "市场领先": NO,
        "上市公司": NO,
        "relationship_lead": 0,
        "expected client_score": -16,
        "expected rule": "SC-04, SC-07, SC-13",
        "note": "24+20-60",
    },
    {
        "case": "loss-making client, growth not known",
        "decision": "client_score",
        "行业": "制造",
        "销售渠道": NO,
        "年收入(百万元)": 20,
        "利润率(%)": -5,
        "IT预算(万元)": 0,
        "欠费率(%)": 0,
        "回款周期(天)": 30,
        "投诉次数": 0,
        "高层关系": NO,
        "市场领先": NO,
        "上市公司": NO,
        "relationship_lead": 0,
        "expected client_score": -50,
        "expected rule": "SC-08",
        "note": "增长率 is optional: empty scores no growth points",
    },
    # client_tier (F): the score is given
    _tier_case("no sales channel", 600, "none", "CT-01", "first rule wins even with a high score", channel=NO),
    _tier_case("arrears above 20 % cap at silver", 400, "silver", "CT-02", arrears=25),
    _tier_case("arrears exactly 20 %: gold cap", 500, "gold", "CT-08", "boundary: > 20", arrears=20),
    _tier_case("arrears 15 % cap at gold", 500, "gold", "CT-08", arrears=15),
    _tier_case("arrears exactly 10 %: no cap", 500, "platinum", "CT-04", "boundary: (10..20]", arrears=10),
    _tier_case("arrears 15 %, score 250: no cap needed", 250, "silver", "CT-06", arrears=15),
    _tier_case("loss-making client capped at silver", 500, "silver", "CT-09", margin=-1),
    _tier_case("margin exactly 0: no cap", 500, "platinum", "CT-04", "boundary: < 0", margin=0),
    _tier_case("loss-making and arrears 15 %: the lower cap", 500, "silver", "CT-09", arrears=15, margin=-1),
    _tier_case("score exactly 450", 450, "platinum", "CT-04", "boundary: ≥ 450"),
    _tier_case("score exactly 300", 300, "gold", "CT-05", "boundary: [300..450)"),
    _tier_case("score exactly 150", 150, "silver", "CT-06", "boundary: [150..300)"),
    _tier_case("score 149", 149, "none", "CT-07"),
    {
        "case": "中国银联 from the register",
        "decision": "client_tier",
        **UNIONPAY,
        "expected client_tier": "platinum",
        "expected rule": "CT-04",
        "note": "score computed from the row",
    },
    {
        "case": "big finance client, arrears 25 %, margin 2 % (issue 15)",
        "decision": "client_score, client_tier",
        **BIG_FINANCE,
        "expected client_score": 80,
        "expected client_tier": "none",
        "expected client_tier.rule": "CT-07",
        "note": "size is one scorecard line (80+80+20-60-40): no tier for size alone",
    },
    {
        "case": "the same with an executive relationship and market leadership",
        "decision": "client_score, client_tier",
        **BIG_FINANCE,
        "高层关系": YES,
        "市场领先": YES,
        "expected client_score": 224,
        "expected client_tier": "silver",
        "expected client_tier.rule": "CT-02",
        "note": "a better profile never gets a lower tier; the arrears cap keeps it at silver",
    },
]

CONTRACT_COLUMNS = [
    "case",
    "标准合同",
    "标准方案",
    "合同金额(万元)",
    "折扣率(%)",
    "毛利率(%)",
    "方案变更",
    "client_tier",
    "expected required_approver",
    "expected required_approver.rule",
    "expected legal_review",
    "expected legal_review.rule",
    "expected finance_review",
    "expected finance_review.rule",
    "note",
]

LEGAL_NONE, FIN_NONE = (False, "LR-03"), (False, "FR-04")


def _contract(case, approver, rule, legal=LEGAL_NONE, finance=FIN_NONE, note="", **changes):
    """A standard, small, well-priced contract of a gold client, changed by ``changes``."""
    names = {
        "template": "标准合同",
        "solution": "标准方案",
        "amount": "合同金额(万元)",
        "discount": "折扣率(%)",
        "margin": "毛利率(%)",
        "changed": "方案变更",
        "tier": "client_tier",
    }
    row = {
        "case": case,
        "标准合同": YES,
        "标准方案": YES,
        "合同金额(万元)": 30,
        "折扣率(%)": 3,
        "毛利率(%)": 30,
        "方案变更": NO,
        "client_tier": "gold",
    }
    row.update({names[k]: v for k, v in changes.items()})
    row.update(
        {
            "expected required_approver": approver,
            "expected required_approver.rule": rule,
            "expected legal_review": legal[0],
            "expected legal_review.rule": legal[1],
            "expected finance_review": finance[0],
            "expected finance_review.rule": finance[1],
        }
    )
    return _noted(row, note)


LEGAL_TEMPLATE, LEGAL_MAJOR = (True, "LR-01"), (True, "LR-02")
FIN_MARGIN, FIN_DISCOUNT, FIN_AMOUNT = (True, "FR-01"), (True, "FR-02"), (True, "FR-03")
CONTRACT_CASES = [
    _contract(
        "standard, small, 3 % discount",
        "account_manager",
        "CA-01",
        note="authorized through the standard; no legal review on the approved template (kade's reading of 2.6.3)",
    ),
    _contract("standard, small, 8 % discount", "industry_manager", "CA-02", discount=8),
    _contract("standard, 80 万", "industry_manager", "CA-03", amount=80),
    _contract("non-standard template, 60 万", "bu_manager", "CA-04", LEGAL_TEMPLATE, template=NO, amount=60),
    _contract("non-standard solution, 60 万", "bu_manager", "CA-05", solution=NO, amount=60),
    _contract("200 万", "bu_manager", "CA-06", amount=200),
    _contract("800 万", "bg_gm", "CA-07", LEGAL_MAJOR, FIN_AMOUNT, amount=800),
    _contract("2,500 万", "group_ka_manager", "CA-08", LEGAL_MAJOR, FIN_AMOUNT, amount=2500),
    _contract("15 % discount", "bu_manager", "CA-09", finance=FIN_DISCOUNT, discount=15),
    _contract("25 % discount", "bg_gm", "CA-10", finance=FIN_DISCOUNT, discount=25),
    _contract("35 % discount", "group_ka_manager", "CA-11", finance=FIN_DISCOUNT, discount=35),
    _contract(
        "10 % margin",
        "bu_manager",
        "CA-12",
        finance=FIN_MARGIN,
        margin=10,
        note="CA-01 matches too; bu_manager has priority",
    ),
    _contract("3 % margin", "bg_gm", "CA-13", finance=FIN_MARGIN, margin=3),
    _contract("loss-making", "group_ka_manager", "CA-14", finance=FIN_MARGIN, margin=-2),
    _contract("solution changed after authorization", "bu_manager", "CA-15", changed=YES),
    _contract(
        "non-target client, 200 万",
        "bg_gm",
        "CA-16",
        tier="none",
        amount=200,
        note="CA-06 and CA-17 give bu_manager; bg_gm has priority",
    ),
    _contract(
        "non-target client, 30 万",
        "bu_manager",
        "CA-17",
        tier="none",
        note="CA-01 gives account_manager; say no: the BU manager decides",
    ),
    _contract(
        "both non-standard: same priority",
        "bu_manager",
        "CA-04",
        LEGAL_TEMPLATE,
        template=NO,
        solution=NO,
        amount=60,
        note="CA-04 and CA-05 tie; the first rule decides",
    ),
    _contract("exactly 50 万", "account_manager", "CA-01", amount=50, note="boundary: [0..50]"),
    _contract("exactly 100 万", "bu_manager", "CA-06", amount=100, note="boundary: (50..100) excludes 100"),
    _contract(
        "standard template, exactly 500 万",
        "bg_gm",
        "CA-07",
        LEGAL_MAJOR,
        FIN_AMOUNT,
        amount=500,
        note="boundary: legal review from 500 万",
    ),
    _contract(
        "non-standard template, 600 万",
        "bg_gm",
        "CA-07",
        LEGAL_TEMPLATE,
        FIN_AMOUNT,
        template=NO,
        amount=600,
        note="legal review: LR-01 comes first",
    ),
    _contract(
        "400 万, 15 % discount, 10 % margin",
        "bu_manager",
        "CA-06",
        finance=FIN_MARGIN,
        amount=400,
        discount=15,
        margin=10,
        note="finance review: FR-01 comes first; three bu_manager rules, the first decides",
    ),
]

ROUTING_COLUMNS = [
    "case",
    "decision",
    "违反组网原则",
    "方案争议",
    "新业务",
    "项目规模",
    "需要施工",
    "资源已确认",
    "成熟方案",
    "一站式服务",
    "重大项目",
    "业务类型",
    "带宽(Mbps)",
    "维护要求高于标准",
    "施工范围",
    "expected route",
    "expected escalation",
    "expected rule",
    "note",
]


def _route(case, route, rule, note="", **changes):
    """A routine, mature request with confirmed resources, changed by ``changes``."""
    names = {
        "violates": "违反组网原则",
        "disputed": "方案争议",
        "new": "新业务",
        "scale": "项目规模",
        "construction": "需要施工",
        "resources": "资源已确认",
        "mature": "成熟方案",
    }
    row = {
        "case": case,
        "decision": "solution_routing",
        "违反组网原则": NO,
        "方案争议": NO,
        "新业务": NO,
        "项目规模": "常规",
        "需要施工": NO,
        "资源已确认": YES,
        "成熟方案": YES,
        "expected route": route,
        "expected rule": rule,
    }
    row.update({names[k]: v for k, v in changes.items()})
    return _noted(row, note)


def _escalation(case, escalation, rules, note="", **changes):
    names = {
        "one_stop": "一站式服务",
        "major": "重大项目",
        "service": "业务类型",
        "bandwidth": "带宽(Mbps)",
        "maintenance": "维护要求高于标准",
        "construction": "需要施工",
        "side": "施工范围",
    }
    row = {
        "case": case,
        "decision": "routing_escalation",
        "一站式服务": NO,
        "重大项目": NO,
        "业务类型": "互联网专线",
        "带宽(Mbps)": 100,
        "维护要求高于标准": NO,
        "需要施工": NO,
        "expected escalation": escalation,
        "expected rule": rules,
    }
    row.update({names[k]: v for k, v in changes.items()})
    return _noted(row, note)


ROUTING_CASES = [
    _route("violates network principles", "chief_engineer", "SR-01", violates=YES),
    _route("disputed solution", "chief_engineer", "SR-02", disputed=YES),
    _route("new business", "chief_engineer", "SR-03", new=YES),
    _route("large project", "technical_office", "SR-04", scale="大型"),
    _route("comprehensive project", "technical_office", "SR-04", scale="综合"),
    _route("needs construction", "technical_office", "SR-05", construction=YES),
    _route("resources not confirmed", "support_dept", "SR-06", resources=NO),
    _route("routine and mature", "support_dept", "SR-07"),
    _route("routine, not mature", "technical_office", "SR-08", mature=NO),
    _route("violates and disputed", "chief_engineer", "SR-01", violates=YES, disputed=YES, note="first rule wins"),
    _escalation("one-stop, major project", "group_ka_manager", "SE-01", one_stop=YES, major=YES),
    _escalation("one-stop internet line", "group_ka_manager", "SE-02", one_stop=YES),
    _escalation(
        "one-stop circuit below 2 Mbit/s", "group_ka_manager", "SE-03", one_stop=YES, service="数字电路", bandwidth=1
    ),
    _escalation(
        "one-stop circuit, bandwidth not given (issue 15)",
        "group_ka_manager",
        "SE-03",
        one_stop=YES,
        service="数字电路",
        bandwidth=None,
        note="not shown to be 2M or more: reported, not skipped",
    ),
    _escalation(
        "one-stop circuit of 2 Mbit/s",
        "none",
        "default",
        one_stop=YES,
        service="数字电路",
        bandwidth=2,
        note="boundary: < 2; nothing to escalate",
    ),
    _escalation("above-standard maintenance", "technical_support_manager", "SE-04", maintenance=YES),
    _escalation(
        "user-side construction",
        "ka_dept_project_setup",
        "SE-05",
        construction=YES,
        side="用户端",
        note="the key-account department sets up user-side works",
    ),
    _escalation("network-side construction", "technical_office_project_setup", "SE-06", construction=YES, side="局端"),
    _escalation(
        "construction on both sides",
        "ka_dept_project_setup, technical_office_project_setup",
        "SE-05, SE-06",
        construction=YES,
        side="两端",
    ),
    _escalation(
        "construction, side not given",
        "technical_office_project_setup",
        "SE-06",
        construction=YES,
        note="not known to be user-side: the technical office (其他工程)",
    ),
    _escalation(
        "all of them (FA2026-0001)",
        "group_ka_manager, technical_support_manager, ka_dept_project_setup, technical_office_project_setup",
        "SE-01, SE-04, SE-05, SE-06",
        one_stop=YES,
        major=YES,
        service="数据端口",
        bandwidth=1000,
        maintenance=YES,
        construction=YES,
        side="两端",
    ),
]

SLA_COLUMNS = [
    "case",
    "decision",
    "申请等级",
    "备用电路",
    "客户已有A级数量",
    "client_tier",
    "电路类型",
    "sla_tier",
    "需接入层施工",
    "标准SLA价格(元/月)",
    "月收入(元)",
    "expected margin_at_a",
    "expected margin_at_b",
    "expected sla_tier",
    "expected availability",
    "expected sla_price",
    "expected committed_days",
    "expected front_end_margin",
    "expected rule",
    "note",
]


def _tier(case, level, expected, rule, note="", backup=YES, count=0, tier="gold", price=5000, revenue=20000):
    """sla_tier of an order with a backup circuit, under the cap, of a gold client, paying for A."""
    row = {
        "case": case,
        "decision": "sla_tier",
        "申请等级": level,
        "备用电路": backup,
        "客户已有A级数量": count,
        "client_tier": tier,
        "标准SLA价格(元/月)": price,
        "月收入(元)": revenue,
        "expected sla_tier": expected,
        "expected rule": rule,
    }
    return _noted(row, note)


def _days(level, access, days, rule, circuit="本地DDN"):
    return {
        "case": f"{circuit} {level}, {'with' if access == YES else 'without'} access-layer work",
        "decision": "delivery_days",
        "电路类型": circuit,
        "sla_tier": level,
        "需接入层施工": access,
        "expected committed_days": days,
        "expected rule": rule,
    }


SLA_CASES = [
    {
        "case": "margins at A and B",
        "decision": "margin_by_level",
        "标准SLA价格(元/月)": 6800,
        "月收入(元)": 10000,
        "expected margin_at_a": -3600,
        "expected margin_at_b": 1840,
        "expected rule": "LM-01",
        "note": "10,000 − 6,800 × 2; 10,000 − 6,800 × 1.2",
    },
    _tier("non-target client asks for A (issue 15)", "A", "C", "ST-08", "say no: no resources", tier="none"),
    _tier("A, B would be at a loss", "A", "C", "ST-10", price=5000, revenue=5500),
    _tier("B at a loss", "B", "C", "ST-10", price=5000, revenue=5500),
    _tier("B margin exactly 0", "B", "C", "ST-10", "boundary: ≤ 0", price=5000, revenue=6000),
    _tier("A without backup circuit", "A", "B", "ST-01", backup=NO),
    _tier("A over the cap", "A", "B", "ST-02", count=6),
    _tier("A with exactly 5 already", "A", "B", "ST-02", "boundary: cap 5", count=5),
    _tier(
        "A at a loss: 6,800 standard, 10,000 revenue (issue 15)",
        "A",
        "B",
        "ST-09",
        "margin at A −3,600, at B 1,840",
        price=6800,
        revenue=10000,
    ),
    _tier("A margin exactly 0", "A", "B", "ST-09", "boundary: ≤ 0", price=5000, revenue=10000),
    _tier("A paying for itself, 4 already", "A", "A", "ST-03", count=4, price=5000, revenue=10001),
    _tier("B as requested", "B", "B", "ST-04", backup=NO, revenue=8000),
    _tier("C as requested", "C", "C", "ST-05", backup=NO, tier="silver"),
    _tier("nothing requested, platinum client", None, "B", "ST-06", backup=NO, tier="platinum", revenue=8000),
    _tier("nothing requested", None, "C", "ST-07", backup=NO),
    _tier(
        "nothing requested, platinum, B at a loss",
        None,
        "C",
        "ST-07",
        backup=NO,
        tier="platinum",
        revenue=6000,
    ),
    {
        "case": "A terms",
        "decision": "sla_terms",
        "sla_tier": "A",
        "标准SLA价格(元/月)": 6800,
        "expected availability": 99.7,
        "expected sla_price": 13600,
        "expected rule": "SLA-A",
        "note": "price × 2",
    },
    {
        "case": "B terms",
        "decision": "sla_terms",
        "sla_tier": "B",
        "标准SLA价格(元/月)": 5200,
        "expected availability": 99.16,
        "expected sla_price": 6240,
        "expected rule": "SLA-B",
        "note": "price × 1.2",
    },
    {
        "case": "C terms",
        "decision": "sla_terms",
        "sla_tier": "C",
        "标准SLA价格(元/月)": 3000,
        "expected availability": 98.9,
        "expected sla_price": 3000,
        "expected rule": "SLA-C",
        "note": "price × 1",
    },
    _days("A", NO, 5, "DD-A1"),
    _days("A", YES, 20, "DD-A2"),
    _days("B", NO, 7, "DD-B1"),
    _days("B", YES, 30, "DD-B2"),
    _days("C", NO, 15, "DD-C1"),
    _days("C", YES, 40, "DD-C2"),
    {
        **_days("A", NO, "null", "DD-07", circuit="以太网专线"),
        "note": "issue 15: the source's days are for local DDN; no commitment is invented",
    },
    _days("B", YES, "null", "DD-07", circuit="数字电路"),
    {
        "case": "A margin",
        "decision": "front_end_margin",
        "sla_tier": "A",
        "标准SLA价格(元/月)": 6800,
        "月收入(元)": 16800,
        "expected front_end_margin": 3200,
        "expected rule": "FM-01",
        "note": "16,800 − 6,800 × 2",
    },
    {
        "case": "SLA2026-0001 from the register",
        "decision": "sla_tier, sla_terms, delivery_days, front_end_margin",
        "申请等级": "A",
        "备用电路": YES,
        "客户已有A级数量": 6,
        "client_tier": "platinum",
        "电路类型": "本地DDN",
        "需接入层施工": NO,
        "标准SLA价格(元/月)": 6800,
        "月收入(元)": 16800,
        "expected sla_tier": "B",
        "expected sla_price": 8160,
        "expected committed_days": 7,
        "expected front_end_margin": 8640,
        "note": "over the A cap → B; 6,800 × 1.2; 7 days",
    },
    {
        "case": "an A order at a loss, end to end (issue 15)",
        "decision": "sla_tier, sla_terms, delivery_days, front_end_margin",
        "申请等级": "A",
        "备用电路": YES,
        "客户已有A级数量": 0,
        "client_tier": "gold",
        "电路类型": "以太网专线",
        "需接入层施工": NO,
        "标准SLA价格(元/月)": 6800,
        "月收入(元)": 10000,
        "expected sla_tier": "B",
        "expected sla_price": 8160,
        "expected committed_days": "null",
        "expected front_end_margin": 1840,
        "note": "not A at −3,600; an Ethernet line gets no DDN days",
    },
]

TEST_SHEETS = {
    "client_tier.xlsx": (CLIENT_COLUMNS, CLIENT_CASES),
    "contract_authorization.xlsx": (CONTRACT_COLUMNS, CONTRACT_CASES),
    "solution_routing.xlsx": (ROUTING_COLUMNS, ROUTING_CASES),
    "sla_tier.xlsx": (SLA_COLUMNS, SLA_CASES),
}


def write_test_sheet(path: Path, columns: list[str], cases: list[dict]):
    """Replace the workbook's Tests sheet (last sheet); other sheets are left alone."""
    book = load_workbook(path)
    unknown = {k for case in cases for k in case} - set(columns)
    if unknown:
        raise ValueError(f"{path.name}: cases use columns not in the header: {sorted(unknown)}")
    if SHEET in book.sheetnames:
        del book[SHEET]
    sheet = book.create_sheet(SHEET)
    sheet.append(columns)
    for case in cases:
        sheet.append([case.get(c) for c in columns])
    for c, name in enumerate(columns, start=1):
        cell = sheet.cell(1, c)
        cell.font = Font(bold=True)
        cell.fill = EXPECTED if name.startswith("expected") else HEAD
        sheet.column_dimensions[get_column_letter(c)].width = 40 if name in ("case", "note") else 16
    sheet.freeze_panes = "C2"
    book.save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--rules", type=Path, default=RULES, help="folder with the shipped rule workbooks")
    args = parser.parse_args(argv)
    for file, (columns, cases) in TEST_SHEETS.items():
        write_test_sheet(args.rules / file, columns, cases)
        print(f"{args.rules / file}: {len(cases)} test cases")


if __name__ == "__main__":
    main()
