"""Build the shipped rule workbooks in rules/ from the tables below.

Run once to create them: `python tools/build_rules.py`. From then on the .xlsx
files in rules/ are the source of truth that managers edit; running this again
overwrites their edits (it asks first unless --force).

Figures come from ../shared/domain.md (digest of the seed documents). Every
annotation quotes the source's words 「in these brackets」; where the sources give
no number, or kade reads or departs from them, the annotation says
"default - edit" or "kade's reading" and docs/policy-notes.md says why.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from engine.model.rulebook import add_decision_sheet, add_glossary_sheets

RULES = Path(__file__).resolve().parent.parent / "rules"
DEFAULT = "default - edit"

ENTITIES = [
    # entity, sheet(s), key, parent, link column(s)
    ("clients", "客户 | clients", "client_id", "", ""),
    ("contracts", "合同 | contracts", "contract_id", "clients", "客户编号 | client_id"),
    ("solution_requests", "方案申请 | solution_requests", "request_id", "clients", "客户编号 | client_id"),
    ("sla_orders", "SLA订单 | sla_orders", "order_id", "clients", "客户编号 | client_id"),
]


def var(
    name,
    entity,
    header,
    type_,
    allowed="",
    label="",
    description="",
    *,
    records="",
    compare="",
    required=False,
    computed="",
):
    """One glossary row: variable, entity, column header, type, allowed values (its
    domain), label, description, records, compare, required, computed."""
    return (
        name,
        entity,
        header,
        type_,
        allowed,
        label,
        description,
        records,
        compare,
        "yes" if required else "",
        computed,
    )


INDUSTRIES = "金融, 党政军, 科教文卫, 交通运输, 旅游娱乐, 运营商, IT, 制造, 公共服务, 贸易, 其他"
RELATIONSHIP = [
    # indicator, header stem, weight (客户关系能力比较分析, seed 004)
    ("potential", "长期合作潜力", 3),
    ("history", "交易历史及口碑", 4),
    ("influence", "客户经理影响力", 5),
    ("coordination", "内部协调能力", 4),
    ("attention", "高层重视程度", 3),
]
SIDES = {"us": "我方", "rival": "对手"}

GLOSSARY = [
    var("client_id", "clients", "客户编号", "string", "", "client id", "key of the client register"),
    var("client_name", "clients", "客户名称", "string", "", "client name", ""),
    var(
        "industry",
        "clients",
        "行业",
        "string",
        INDUSTRIES,
        "industry",
        "industries of the key-account division's revenue",
        required=True,
    ),
    var("region", "clients", "区域", "string", "", "region", ""),
    var(
        "annual_revenue", "clients", "年收入(百万元)", "number", ">= 0", "annual revenue", "million CNY", required=True
    ),
    var(
        "profit_margin",
        "clients",
        "利润率(%)",
        "number",
        "[-100..100]",
        "profit margin %",
        "profitability (盈利性): 「规模不总是和盈利性相关的」",
        required=True,
    ),
    var(
        "it_budget",
        "clients",
        "IT预算(万元)",
        "number",
        ">= 0",
        "IT budget",
        "IT budget / telecom spend, 10k CNY",
        required=True,
    ),
    var("employees", "clients", "员工人数", "number", ">= 0", "employees", ""),
    var(
        "growth_rate",
        "clients",
        "增长率(%)",
        "number",
        ">= -100",
        "growth %",
        "optional: an empty growth rate scores no growth points (no scorecard rule tests it)",
    ),
    var(
        "arrears_rate",
        "clients",
        "欠费率(%)",
        "number",
        "[0..100]",
        "arrears rate %",
        "credit and payment behaviour; required: an empty cell would hide a penalty",
        required=True,
    ),
    var("collection_days", "clients", "回款周期(天)", "number", ">= 0", "collection cycle (days)", "", required=True),
    var("complaints", "clients", "投诉次数", "number", ">= 0", "complaints", "relationship indicator", required=True),
    var("executive_relationship", "clients", "高层关系", "boolean", "", "executive relationship", "", required=True),
    var("market_leader", "clients", "市场领先", "boolean", "", "market leader", "market perception", required=True),
    var("listed", "clients", "上市公司", "boolean", "", "listed company", "", required=True),
    var(
        "sales_channel",
        "clients",
        "销售渠道",
        "boolean",
        "",
        "sales channel",
        "reachability (可达性): 「是否有可用的营销渠道到达该目标客户群?」",
        required=True,
    ),
    *[
        var(
            f"rel_{key}_{side}",
            "clients",
            f"{stem}({word})",
            "number",
            "[0..100]",
            f"{stem} ({'us' if side == 'us' else 'main competitor'})",
            f"relationship capability, scored 0-100 (「选择0-100分之间来衡量客户关系能力」), weight ×{weight}",
            required=True,
        )
        for side, word in SIDES.items()
        for key, stem, weight in RELATIONSHIP
    ],
    var("our_relationship", "clients", "我方关系能力", "number", "", "our relationship capability", "decision output"),
    var(
        "rival_relationship",
        "clients",
        "对手关系能力",
        "number",
        "",
        "competitor's relationship capability",
        "decision output",
    ),
    var(
        "relationship_lead",
        "clients",
        "关系能力领先",
        "number",
        "",
        "relationship lead",
        "decision output: ours minus the main competitor's",
    ),
    var(
        "industry_segment",
        "clients",
        "行业细分",
        "string",
        '"政府", "电信业", "教育", "金融", "未评估"',
        "segment",
        "decision output",
    ),
    var("industry_total", "clients", "行业吸引力总分", "number", "", "segment total", "decision output"),
    var(
        "industry_cutoff",
        "clients",
        "",
        "number",
        "",
        "★ cut-off",
        "「≥平均分」: the average segment total of the industry table as it stands; computed, not typed",
        computed="average of industry_total over industry_attractiveness",
    ),
    var("industry_selected", "clients", "目标细分", "boolean", "", "target segment ★", "decision output"),
    var("client_score", "clients", "客户评分", "number", "", "client score", "decision output: weighted scorecard"),
    var(
        "client_tier",
        "clients",
        "客户等级",
        "string",
        '"platinum", "gold", "silver", "none"',
        "client tier",
        "decision output; highest first (白金卡/金卡/银卡/非目标)",
    ),
    var("contract_id", "contracts", "合同编号", "string", "", "contract id", ""),
    var("business_type", "contracts", "业务类型", "string", "", "business type", ""),
    var("amount", "contracts", "合同金额(万元)", "number", ">= 0", "amount (10k CNY)", "", required=True),
    var("discount", "contracts", "折扣率(%)", "number", "[0..100]", "discount %", "", required=True),
    var("gross_margin", "contracts", "毛利率(%)", "number", "[-100..100]", "gross margin %", "", required=True),
    var("standard_template", "contracts", "标准合同", "boolean", "", "standard template", "", required=True),
    var("standard_solution", "contracts", "标准方案", "boolean", "", "standard solution", "", required=True),
    var("solution_changed", "contracts", "方案变更", "boolean", "", "solution changed", "", required=True),
    var(
        "sales_stage",
        "contracts",
        "销售阶段",
        "string",
        '"A", "B", "C", "D", "E", "F", "G"',
        "sales stage",
        "A requirement confirmed … G signed",
    ),
    var("sign_date", "contracts", "签约日期", "date", "", "sign date", ""),
    var(
        "required_approver",
        "contracts",
        "审批级别",
        "string",
        '"group_ka_manager", "bg_gm", "bu_manager", "industry_manager", "account_manager"',
        "required approver",
        "decision output; highest authority first (集团客户部经理 > 业务群总经理 > 业务单元经理 > 行业经理 > 客户经理)",
    ),
    var("legal_review", "contracts", "法务审核", "boolean", "", "legal review", "decision output"),
    var("finance_review", "contracts", "财务审核", "boolean", "", "finance review", "decision output"),
    var("request_id", "solution_requests", "申请编号", "string", "", "request id", ""),
    var(
        "service_type",
        "solution_requests",
        "业务类型",
        "string",
        "数字电路, 数据端口, 互联网专线, 语音, IDC, 系统集成, 其他",
        "service type",
        "",
        required=True,
    ),
    var(
        "bandwidth_mbps",
        "solution_requests",
        "带宽(Mbps)",
        "number",
        "> 0",
        "bandwidth Mbit/s",
        "optional: an empty bandwidth on a one-stop circuit request is escalated (SE-03)",
    ),
    var(
        "project_scale",
        "solution_requests",
        "项目规模",
        "string",
        "常规, 综合, 大型",
        "project scale",
        "routine / comprehensive / large",
        required=True,
    ),
    *[
        var(name, "solution_requests", header, "boolean", "", label, "", required=True)
        for name, header, label in (
            ("mature_solution", "成熟方案", "mature solution"),
            ("violates_network_principles", "违反组网原则", "violates network-design principles"),
            ("disputed", "方案争议", "disputed solution"),
            ("new_business", "新业务", "new business"),
            ("resource_confirmed", "资源已确认", "resources confirmed"),
            ("needs_construction", "需要施工", "needs construction"),
            ("major_project", "重大项目", "major project"),
            ("one_stop_service", "一站式服务", "one-stop service"),
            ("above_standard_maintenance", "维护要求高于标准", "above-standard maintenance"),
        )
    ],
    var(
        "construction_side",
        "solution_requests",
        "施工范围",
        "string",
        "用户端, 局端, 两端",
        "construction side",
        "user side (用户端), network side (局端) or both; optional: "
        "empty is not known to be user-side, so the technical office sets it up (「其他工程」)",
    ),
    var(
        "route",
        "solution_requests",
        "设计单位",
        "string",
        '"chief_engineer", "technical_office", "support_dept"',
        "route",
        "decision output (总师室 / 网络部技术支撑处 / 大客户综合支撑部)",
    ),
    var("escalation", "solution_requests", "上报", "string", "", "escalation", "decision output"),
    var("order_id", "sla_orders", "订单编号", "string", "", "order id", ""),
    var(
        "circuit_type",
        "sla_orders",
        "电路类型",
        "string",
        "本地DDN, 数字电路, 以太网专线",
        "circuit type",
        "the source's delivery days are for local DDN (本地DDN专线) only",
        required=True,
    ),
    var("needs_access_work", "sla_orders", "需接入层施工", "boolean", "", "needs access-layer work", "", required=True),
    var(
        "requested_level",
        "sla_orders",
        "申请等级",
        "string",
        '"A", "B", "C"',
        "requested level",
        "optional: no level requested is decided by ST-06 / ST-07",
    ),
    var("backup_circuit", "sla_orders", "备用电路", "boolean", "", "backup circuit", "", required=True),
    var(
        "client_a_count",
        "sla_orders",
        "客户已有A级数量",
        "number",
        ">= 0",
        "client's A-level circuits",
        "",
        required=True,
    ),
    var(
        "standard_price",
        "sla_orders",
        "标准SLA价格(元/月) | standard SLA price",
        "number",
        "> 0",
        "standard SLA price",
        "CNY per month",
        required=True,
    ),
    var(
        "monthly_revenue",
        "sla_orders",
        "月收入(元)",
        "number",
        ">= 0",
        "monthly revenue",
        "CNY per month",
        required=True,
    ),
    var("margin_at_a", "sla_orders", "A级前端毛利", "number", "", "front-end margin at A", "decision output"),
    var("margin_at_b", "sla_orders", "B级前端毛利", "number", "", "front-end margin at B", "decision output"),
    var("sla_tier", "sla_orders", "SLA等级", "string", '"A", "B", "C"', "SLA tier", "decision output"),
    # register columns that record a decision people took: `kade check` compares them with the decision
    var(
        "listed_tier",
        "clients",
        "现有等级",
        "string",
        "",
        "listed tier",
        "the tier the client list shows today; kade check compares it with client_tier",
        records="client_tier",
    ),
    var(
        "signed_approver",
        "contracts",
        "审批人级别",
        "string",
        "",
        "signed by",
        "approver level that signed the contract; it must be at least required_approver",
        records="required_approver",
        compare="at least",
    ),
    var(
        "actual_route",
        "solution_requests",
        "实际设计单位",
        "string",
        "",
        "designed by",
        "the unit the request was actually sent to; kade check compares it with route",
        records="route",
    ),
    var(
        "sold_sla_tier",
        "sla_orders",
        "销售等级",
        "string",
        "",
        "SLA sold",
        "the SLA level sold on the order; it may be at most sla_tier",
        records="sla_tier",
        compare="at most",
    ),
]

SRC_TIER = "客户发展流程 2.3 客户重要性排序"
SRC_IND = "行业吸引力评估表 (seed 003)"
SRC_REL = "客户关系能力比较分析 (seed 004)"
SRC_CONTRACT = "客户发展流程 2.6 签订合同"
SRC_AUTH = "方案承诺确认: 商务授权 (seed 000 1.4.3)"
SRC_ROUTE = "技术方案管理流程 (seed 000 1.4)"
SRC_SLA = "SLA协议 (seed 000 1.5.2)"

# The source's words, quoted where a rule rests on them.
SAY_NO = "「对于非目标客户,不应该有任何资源的投入」「营销人员应该敢于说“不”」"
BIG_ORDER = "「销售人员认为单子金额大的多是大客户…导致公司利润比较薄」「应收帐款比较多; 现金流非常紧张」"
SIZE = (
    "「规模不总是和盈利性相关的」「仅根据规模一个数字决定销售的类型或销售投入的程度容易带来销售的过度投资或投资不足」"
)
PROFIT = "「大客户经理在使用高级别产品和服务时,应该由明确的效益贡献」"
A_LEVEL = "「A级服务等级有最高限量要求,要求有备份电路」"
STANDARD = "「制定标准合同、标准方案,通过标准的载体授权」"
BEYOND = "「超出标准方案、标准协议的规定,实行分级个案授权」"
CONFIRM = "2.6.3「业务群总经理或业务单元经理确认合同的商业、技术部分」"
LEGAL = "2.6.3「法律部负责人(内部或外部)确认法律责任问题」"
TEMPLATE = "2.6.1「业务群总经理和公司法律部负责人依次审批确认标准合同」"
READING = "kade's reading, see docs/policy-notes.md"


class R:
    """One rule: id, the cells of the inputs it tests (others are `-`), its result(s), why."""

    def __init__(self, rule_id: str, then, why: str, **when):
        self.id, self.then, self.why, self.when = rule_id, then, why, when


def T(name, title, rows, hit, inputs, outputs, rules, default=None):
    """A decision table in the tuple layout write_tables takes."""
    columns = [("input", i) for i in inputs] + [("output", o) for o in outputs]
    unknown = {k for r in rules for k in r.when} - set(inputs)
    if unknown:
        raise ValueError(f"{name}: rules test {sorted(unknown)}, which are not inputs")
    rows_out = []
    for r in rules:
        results = r.then if isinstance(r.then, tuple) else (r.then,)
        rows_out.append((r.id, *[r.when.get(i, "-") for i in inputs], *results, r.why))
    return (name, title, rows, hit, columns, rows_out, default)


def relationship_sum(side: str) -> str:
    return " + ".join(f"{weight} * rel_{key}_{side}" for key, _stem, weight in RELATIONSHIP)


SCORE_INPUTS = [
    "sales_channel",
    "annual_revenue",
    "profit_margin",
    "it_budget",
    "growth_rate",
    "arrears_rate",
    "collection_days",
    "complaints",
    "executive_relationship",
    "market_leader",
    "industry_selected",
    "listed",
    "relationship_lead",
]

TABLES = {
    "client_tier.xlsx": [
        T(
            "industry_segment",
            "行业细分 Industry segment",
            "clients",
            "U",
            ["industry"],
            ["industry_segment"],
            [
                R(
                    "IS-01",
                    '"政府"',
                    f"党政军 scored on the 政府 row of {SRC_IND}; the source rates 政府, the mapping is {DEFAULT}",
                    industry='"党政军"',
                ),
                R(
                    "IS-02",
                    '"电信业"',
                    f"运营商 scored on the 电信业 row of {SRC_IND}; the mapping is {DEFAULT}",
                    industry='"运营商"',
                ),
                R(
                    "IS-03",
                    '"教育"',
                    f"科教文卫 scored on the 教育 row of {SRC_IND}; the mapping is {DEFAULT}",
                    industry='"科教文卫"',
                ),
                R("IS-04", '"金融"', f"金融 is a row of {SRC_IND}: 「金融 9 3 9 -9 -7 9 7 7 28 ★」", industry='"金融"'),
                R(
                    "IS-05",
                    '"未评估"',
                    f"an industry the source does not rate ({SRC_IND} rates 「政府」「电信业」「教育」「金融」)",
                    industry='not("党政军", "运营商", "科教文卫", "金融")',
                ),
            ],
        ),
        T(
            "industry_attractiveness",
            "行业吸引力 Industry attractiveness",
            "clients",
            "U",
            ["industry_segment"],
            [
                "seg_capacity",
                "seg_growth",
                "seg_awareness",
                "seg_competition",
                "seg_difficulty",
                "seg_funding",
                "seg_relationship",
                "seg_policy",
            ],
            [
                R(
                    "IA-01",
                    (9, 7, 7, -3, -3, 9, 7, 9),
                    f"{SRC_IND}: 「政府 9 7 7 -3 -3 9 7 9 42」",
                    industry_segment='"政府"',
                ),
                R(
                    "IA-02",
                    (9, 7, 9, -5, -1, 9, 9, 7),
                    f"{SRC_IND}: 「电信业 9 7 9 -5 -1 9 9 7 46」; the source writes 46, the criteria sum to 44",
                    industry_segment='"电信业"',
                ),
                R(
                    "IA-03",
                    (9, 5, 5, -5, -3, 7, 5, 9),
                    f"{SRC_IND}: 「教育 9 5 5 -5 -3 7 5 9 32」",
                    industry_segment='"教育"',
                ),
                R(
                    "IA-04",
                    (9, 3, 9, -9, -7, 9, 7, 7),
                    f"{SRC_IND}: 「金融 9 3 9 -9 -7 9 7 7 28」",
                    industry_segment='"金融"',
                ),
            ],
            # a segment the table does not rate gets no points; the default row is not a row of the table,
            # so it does not count in the ★ cut-off (the average of the rows above)
            ("default", 0, 0, 0, 0, 0, 0, 0, 0),
        ),
        T(
            "industry_total",
            "行业吸引力总分 Segment total",
            "clients",
            "U",
            ["industry_segment"],
            ["industry_total"],
            [
                R(
                    "IT-01",
                    "seg_capacity + seg_growth + seg_awareness + seg_competition + seg_difficulty + seg_funding"
                    " + seg_relationship + seg_policy",
                    f"{SRC_IND}: 「总分」 = the sum of the eight criteria (「竞争程度」 and 「实施难易程度」 count negative)",
                )
            ],
        ),
        T(
            "industry_selected",
            "目标细分 Target segment ★",
            "clients",
            "U",
            ["industry_total"],
            ["industry_selected"],
            [
                R(
                    "SEL-02",
                    "true",
                    f"{SRC_IND}: ★ when the total is 「≥平均分」, the average of the industry table's totals, "
                    "computed from the table as it stands (glossary: industry_cutoff)",
                    industry_total=">= industry_cutoff",
                ),
                R(
                    "SEL-03",
                    "false",
                    f"{SRC_IND}: below the average, not starred (a segment the table does not rate totals 0). "
                    "The source states the cut-off as 「≥平均分29.1」 and stars 金融 at 28 although 28 < 29.1; kade computes "
                    "the average of the rows in the table and does not star 金融 (docs/policy-notes.md)",
                    industry_total="< industry_cutoff",
                ),
            ],
        ),
        T(
            "relationship_capability",
            "客户关系能力 Relationship capability",
            "clients",
            "U",
            [],
            ["our_relationship", "rival_relationship"],
            [
                R(
                    "RC-01",
                    (relationship_sum("us"), relationship_sum("rival")),
                    f"{SRC_REL}: 「选择0-100分之间来衡量客户关系能力的不同软性指标的程度, 并乘以相应的权重系数, "
                    "最后把每家公司的各项得分合计」: 长期合作潜力 ×3, 交易历史及口碑 ×4, 客户经理的影响力 ×5, "
                    "组织内部协调能力 ×4, 高层对项目的重视程度 ×3, for us and for the main competitor",
                )
            ],
        ),
        T(
            "relationship_lead",
            "关系能力领先 Lead over the main competitor",
            "clients",
            "U",
            [],
            ["relationship_lead"],
            [
                R(
                    "RL-01",
                    "our_relationship - rival_relationship",
                    f"{SRC_REL}: the comparison with the competitor, for sustainability (可持续性: "
                    "「和竞争对手相比,我们能一直在该客户群/客户领域保持领先吗?」)",
                )
            ],
        ),
        T(
            "client_score",
            "客户评分 Weighted scorecard",
            "clients",
            "C+",
            SCORE_INPUTS,
            ["client_score"],
            [
                R(
                    "SC-01",
                    "8 * 10",
                    f"reachability 可达性 「是否有可用的营销渠道到达该目标客户群?」: weight 8 × score 10; {DEFAULT}",
                    sales_channel="true",
                ),
                R(
                    "SC-02",
                    "8 * 10",
                    f"size: revenue ≥ 1,000 M: weight 8 × score 10 (size is one criterion of many: {SIZE}); {DEFAULT}",
                    annual_revenue=">= 1000",
                ),
                R(
                    "SC-03",
                    "8 * 6",
                    f"size: revenue 200–1,000 M: weight 8 × score 6; {DEFAULT}",
                    annual_revenue="[200..1000)",
                ),
                R(
                    "SC-04",
                    "8 * 3",
                    f"size: revenue 50–200 M: weight 8 × score 3; {DEFAULT}",
                    annual_revenue="[50..200)",
                ),
                R(
                    "SC-05",
                    "10 * 10",
                    f"profitability 盈利性 「经济分析是否表明该客户群/客户可为公司带来赢利?」: margin ≥ 15 %: "
                    f"weight 10 × score 10; {DEFAULT}",
                    profit_margin=">= 15",
                ),
                R(
                    "SC-06",
                    "10 * 6",
                    f"profitability: margin 5–15 %: weight 10 × score 6; {DEFAULT}",
                    profit_margin="[5..15)",
                ),
                R(
                    "SC-07",
                    "10 * 2",
                    f"profitability: margin 0–5 %: weight 10 × score 2; {DEFAULT}",
                    profit_margin="[0..5)",
                ),
                R(
                    "SC-08",
                    "10 * -5",
                    f"loss-making client: weight 10 × score −5 ({SIZE}); {DEFAULT}",
                    profit_margin="< 0",
                ),
                R(
                    "SC-09",
                    "8 * 10",
                    f"IT budget / telecom spend ≥ 500 万: weight 8 × score 10; {DEFAULT}",
                    it_budget=">= 500",
                ),
                R("SC-10", "8 * 5", f"IT budget 100–500 万: weight 8 × score 5; {DEFAULT}", it_budget="[100..500)"),
                R("SC-11", "6 * 10", f"growth ≥ 20 %: weight 6 × score 10; {DEFAULT}", growth_rate=">= 20"),
                R("SC-12", "6 * 5", f"growth 5–20 %: weight 6 × score 5; {DEFAULT}", growth_rate="[5..20)"),
                R(
                    "SC-13",
                    "10 * -6",
                    f"credit: arrears rate > 10 % pulls the score down ({BIG_ORDER}); {DEFAULT}",
                    arrears_rate="> 10",
                ),
                R("SC-14", "10 * -2", f"credit: arrears rate 3–10 %; {DEFAULT}", arrears_rate="(3..10]"),
                R("SC-15", "8 * -5", f"payment: collection cycle > 90 days; {DEFAULT}", collection_days="> 90"),
                R("SC-16", "6 * -3", f"relationship: 5 or more complaints; {DEFAULT}", complaints=">= 5"),
                R(
                    "SC-17",
                    "8 * 8",
                    f"relationship: existing executive relationship: weight 8 × score 8; {DEFAULT}",
                    executive_relationship="true",
                ),
                R(
                    "SC-18",
                    "8 * 10",
                    f"market perception: market leader: weight 8 × score 10; {DEFAULT}",
                    market_leader="true",
                ),
                R(
                    "SC-19",
                    "10 * 10",
                    f"value to us: client in a target segment ★: weight 10 × score 10; {DEFAULT}",
                    industry_selected="true",
                ),
                R(
                    "SC-20",
                    "6 * 5",
                    f"corporate alignment: listed company: weight 6 × score 5; {DEFAULT}",
                    listed="true",
                ),
                R(
                    "SC-21",
                    "8 * 10",
                    f"sustainability 可持续性: our relationship capability ahead of the main competitor's "
                    f"({SRC_REL}): weight 8 × score 10; {DEFAULT}",
                    relationship_lead="> 0",
                ),
                R(
                    "SC-22",
                    "8 * -5",
                    f"sustainability: behind the main competitor on relationship capability: weight 8 × score −5; "
                    f"{DEFAULT}",
                    relationship_lead="< 0",
                ),
            ],
        ),
        T(
            "client_tier",
            "客户分级 Client tier",
            "clients",
            "F",
            ["sales_channel", "arrears_rate", "profit_margin", "client_score"],
            ["client_tier"],
            [
                R(
                    "CT-01",
                    '"none"',
                    f"no sales channel: not reachable (可达性), not a target client ({SRC_TIER}); {SAY_NO}",
                    sales_channel="false",
                ),
                R(
                    "CT-02",
                    '"silver"',
                    f"credit pulls the tier down: arrears above 20 % cap the tier at silver ({BIG_ORDER}); {DEFAULT}",
                    arrears_rate="> 20",
                    client_score=">= 150",
                ),
                R(
                    "CT-09",
                    '"silver"',
                    f"a loss-making client is not a top key account whatever its size ({SIZE}); cap silver: {DEFAULT}",
                    profit_margin="< 0",
                    client_score=">= 150",
                ),
                R(
                    "CT-08",
                    '"gold"',
                    f"credit pulls the tier down: arrears above 10 % cap the tier at gold ({BIG_ORDER}); {DEFAULT}",
                    arrears_rate="(10..20]",
                    client_score=">= 300",
                ),
                R(
                    "CT-04",
                    '"platinum"',
                    f"weighted score ≥ 450 (「决定客户重要性的选择标准可以量化进行考察」); no tier for size "
                    f"alone: size is one line of the scorecard; {DEFAULT}",
                    client_score=">= 450",
                ),
                R("CT-05", '"gold"', f"weighted score 300–450; {DEFAULT}", client_score="[300..450)"),
                R("CT-06", '"silver"', f"weighted score 150–300; {DEFAULT}", client_score="[150..300)"),
                R(
                    "CT-07",
                    '"none"',
                    f"below 150: non-target client, no resources: {SAY_NO}; {DEFAULT}",
                    client_score="< 150",
                ),
            ],
        ),
    ],
    "contract_authorization.xlsx": [
        T(
            "required_approver",
            "审批级别 Required approver",
            "contracts",
            "P",
            [
                "standard_template",
                "standard_solution",
                "amount",
                "discount",
                "gross_margin",
                "solution_changed",
                "client_tier",
            ],
            ["required_approver"],
            [
                R(
                    "CA-01",
                    '"account_manager"',
                    f"standard contract + standard solution: {STANDARD}; {TEMPLATE}, so the account manager signs "
                    f"under the standard's own authorization instead of a per-contract confirmation by a BU "
                    f"manager ({CONFIRM}: {READING}); limits 50 万 / 5 % {DEFAULT}",
                    standard_template="true",
                    standard_solution="true",
                    amount="[0..50]",
                    discount="[0..5]",
                ),
                R(
                    "CA-02",
                    '"industry_manager"',
                    f"standard contract and solution, discount 5–10 %: still {STANDARD}; the industry-manager "
                    f"level is {READING}; {DEFAULT}",
                    standard_template="true",
                    standard_solution="true",
                    amount="[0..50]",
                    discount="(5..10]",
                ),
                R(
                    "CA-03",
                    '"industry_manager"',
                    f"standard contract and solution, 50–100 万: {STANDARD}; the industry-manager level "
                    f"below 100 万 is {READING} (2.6.3 names the BU manager); {DEFAULT}",
                    standard_template="true",
                    standard_solution="true",
                    amount="(50..100)",
                ),
                R(
                    "CA-04",
                    '"bu_manager"',
                    f"not on a standard template: {BEYOND}; nothing carries the standard's authorization, so "
                    f"{CONFIRM} applies: at least the BU manager",
                    standard_template="false",
                ),
                R(
                    "CA-05",
                    '"bu_manager"',
                    f"non-standard solution: {BEYOND}; {CONFIRM}: at least the BU manager",
                    standard_solution="false",
                ),
                R(
                    "CA-06",
                    '"bu_manager"',
                    f"100–500 万: {CONFIRM}; 「按照各级人员签订合同的授权签署合同」, the bands are {DEFAULT}",
                    amount="[100..500)",
                ),
                R(
                    "CA-07",
                    '"bg_gm"',
                    f"500–2,000 万: the business-group GM ({CONFIRM}); {DEFAULT}",
                    amount="[500..2000)",
                ),
                R(
                    "CA-08",
                    '"group_ka_manager"',
                    f"2,000 万 and above: the group key-account department manager; the source names no "
                    f"contract level above the BG GM, this level is {DEFAULT}",
                    amount=">= 2000",
                ),
                R(
                    "CA-09",
                    '"bu_manager"',
                    f"discount beyond the standard range (2.5.4 「客户折扣幅度」); {BEYOND}; {DEFAULT}",
                    discount="(10..20]",
                ),
                R("CA-10", '"bg_gm"', f"deep discount; {BEYOND}; {DEFAULT}", discount="(20..30]"),
                R("CA-11", '"group_ka_manager"', f"exceptional discount; {DEFAULT}", discount="> 30"),
                R(
                    "CA-12",
                    '"bu_manager"',
                    f"thin margin (2.5.4 「盈利性评估」, 2.5.5 financial criteria); {DEFAULT}",
                    gross_margin="[5..15)",
                ),
                R("CA-13", '"bg_gm"', f"margin below 5 %; {DEFAULT}", gross_margin="[0..5)"),
                R("CA-14", '"group_ka_manager"', f"loss-making contract; {DEFAULT}", gross_margin="< 0"),
                R(
                    "CA-15",
                    '"bu_manager"',
                    f"solution changed after authorization: 「凡是方案变动后,均需将确不能处理并超出授权的项目再次进行"
                    f"商务授权确认」 ({SRC_AUTH}); the source says authorize again, the BU-manager level is {DEFAULT}",
                    solution_changed="true",
                ),
                R(
                    "CA-16",
                    '"bg_gm"',
                    f"non-target client (tier none), 100 万 or more: {SAY_NO}; {DEFAULT}",
                    amount=">= 100",
                    client_tier='"none"',
                ),
                R(
                    "CA-17",
                    '"bu_manager"',
                    f"non-target client (tier none): {SAY_NO}; 「业务单元负责人也应努力平衡短期利益和长期利益最大化之间"
                    f"可能存在的矛盾」 ({SRC_TIER}): the BU manager decides",
                    client_tier='"none"',
                ),
            ],
        ),
        T(
            "legal_review",
            "法务审核 Legal review",
            "contracts",
            "F",
            ["standard_template", "amount"],
            ["legal_review"],
            [
                R(
                    "LR-01",
                    "true",
                    f"not on a standard template: {LEGAL}",
                    standard_template="false",
                ),
                R(
                    "LR-02",
                    "true",
                    f"major contract of 500 万 or more: {LEGAL}; the 500 万 is {DEFAULT}",
                    amount=">= 500",
                ),
                R(
                    "LR-03",
                    "false",
                    f"standard template under 500 万: the legal head approved the template itself ({TEMPLATE}); "
                    f"the literal {LEGAL} would review every contract: {READING}; {DEFAULT}",
                ),
            ],
        ),
        T(
            "finance_review",
            "财务审核 Finance review",
            "contracts",
            "F",
            ["gross_margin", "discount", "amount"],
            ["finance_review"],
            [
                R(
                    "FR-01",
                    "true",
                    f"margin below 15 %: the financial support manager reviews pricing (2.5.4 「盈利性评估」, "
                    f"2.5.5 「制定评估标准(技术、财务、项目执行等方面)」); {DEFAULT}",
                    gross_margin="< 15",
                ),
                R("FR-02", "true", f"discount beyond 10 % (2.5.4 「客户折扣幅度」); {DEFAULT}", discount="> 10"),
                R("FR-03", "true", f"contracts of 300 万 or more; {DEFAULT}", amount=">= 300"),
                R(
                    "FR-04",
                    "false",
                    f"margin, discount and amount within the bands above: no separate finance review; {DEFAULT}",
                ),
            ],
        ),
    ],
    "solution_routing.xlsx": [
        T(
            "solution_routing",
            "方案设计单位 Solution routing",
            "solution_requests",
            "F",
            [
                "violates_network_principles",
                "disputed",
                "new_business",
                "project_scale",
                "needs_construction",
                "resource_confirmed",
                "mature_solution",
            ],
            ["route"],
            [
                R(
                    "SR-01",
                    '"chief_engineer"',
                    f"总师室 「审核并决策违反现有组网原则的技术方案」 ({SRC_ROUTE})",
                    violates_network_principles="true",
                ),
                R("SR-02", '"chief_engineer"', f"总师室 「负责对有争议技术方案的决策」 ({SRC_ROUTE})", disputed="true"),
                R(
                    "SR-03",
                    '"chief_engineer"',
                    f"总师室 「制定新业务技术方案,提供相关验收标准」 ({SRC_ROUTE})",
                    new_business="true",
                ),
                R(
                    "SR-04",
                    '"technical_office"',
                    f"网络部技术支撑处 「负责综合性、大型项目的技术方案制定的组织和提供」 ({SRC_ROUTE})",
                    project_scale='"综合", "大型"',
                ),
                R(
                    "SR-05",
                    '"technical_office"',
                    f"work needing construction: the technical office 「立项,发工程任务单,确认工程方案和工期,并估算"
                    f"工程预计投入」 ({SRC_ROUTE}); that it also designs the solution is {DEFAULT}",
                    needs_construction="true",
                ),
                R(
                    "SR-06",
                    '"support_dept"',
                    f"「资源中心确认资源不能提供的,转综合支撑部」 ({SRC_ROUTE})",
                    resource_confirmed="false",
                ),
                R(
                    "SR-07",
                    '"support_dept"',
                    f"大客户综合支撑部 「负责简单、成熟方案的制定」 ({SRC_ROUTE})",
                    mature_solution="true",
                ),
                R(
                    "SR-08",
                    '"technical_office"',
                    f"routine but not mature: the technical office 「会同大客户综合支撑部共同制作技术方案」 "
                    f"({SRC_ROUTE}); {DEFAULT}",
                    mature_solution="false",
                ),
            ],
        ),
        T(
            "routing_escalation",
            "上报 Escalations",
            "solution_requests",
            "C",
            [
                "one_stop_service",
                "major_project",
                "service_type",
                "bandwidth_mbps",
                "above_standard_maintenance",
                "needs_construction",
                "construction_side",
            ],
            ["escalation"],
            [
                R(
                    "SE-01",
                    '"group_ka_manager"',
                    f"「对于重大项目的“一站式”服务需求…应向集团客户部分管经理和经理汇报…专案处理」 ({SRC_ROUTE})",
                    one_stop_service="true",
                    major_project="true",
                ),
                R(
                    "SE-02",
                    '"group_ka_manager"',
                    f"「除2M或2M以上数字电路、数据端口出租业务以外的其他业务的一站式服务需求」: report to the group "
                    f"key-account dept manager ({SRC_ROUTE})",
                    one_stop_service="true",
                    major_project="false",
                    service_type='not("数字电路", "数据端口")',
                ),
                R(
                    "SE-03",
                    '"group_ka_manager"',
                    f"one-stop circuits below 2 Mbit/s, or whose bandwidth is not given (not shown to be 「2M或2M以上」): "
                    f"report to the group key-account dept manager ({SRC_ROUTE})",
                    one_stop_service="true",
                    major_project="false",
                    service_type='"数字电路", "数据端口"',
                    bandwidth_mbps="< 2, null",
                ),
                R(
                    "SE-04",
                    '"technical_support_manager"',
                    f"「对于客户提出或方案设计更高维护和运营需求的,由客户经理或行业经理向技术支撑经理提出确认」 ({SRC_ROUTE})",
                    above_standard_maintenance="true",
                ),
                R(
                    "SE-05",
                    '"ka_dept_project_setup"',
                    f"「由大客户部负责用户端工程立项、发任务单及工程跟踪」 ({SRC_ROUTE})",
                    needs_construction="true",
                    construction_side='"用户端", "两端"',
                ),
                R(
                    "SE-06",
                    '"technical_office_project_setup"',
                    f"「由网络部技术支撑处负责其他工程立项、发任务单及工程跟踪」, with the investment estimate "
                    f"({SRC_ROUTE}); a side not given is not known to be user-side",
                    needs_construction="true",
                    construction_side='not("用户端")',
                ),
            ],
            ("default", '"none"'),
        ),
    ],
    "sla_tier.xlsx": [
        T(
            "margin_by_level",
            "各级前端毛利 Front-end margin by level",
            "sla_orders",
            "U",
            [],
            ["margin_at_a", "margin_at_b"],
            [
                R(
                    "LM-01",
                    ("monthly_revenue - standard_price * 2", "monthly_revenue - standard_price * 1.2"),
                    f"「前端以协议价格从后端购买产品,并将收入与协议价格差作为考核前端效益的主要指标之一」 ({SRC_SLA}): "
                    "the margin the order would leave at A (×2) and at B (×1.2); keep the coefficients equal to "
                    "SLA-A and SLA-B in sla_terms",
                )
            ],
        ),
        T(
            "sla_tier",
            "SLA等级 SLA tier",
            "sla_orders",
            "F",
            ["requested_level", "client_tier", "margin_at_b", "backup_circuit", "client_a_count", "margin_at_a"],
            ["sla_tier"],
            [
                R(
                    "ST-08",
                    '"C"',
                    f"non-target client (tier none): only the standard level C, {SAY_NO} ({SRC_TIER})",
                    client_tier='"none"',
                ),
                R(
                    "ST-10",
                    '"C"',
                    f"{PROFIT} ({SRC_SLA}): even at B the order leaves no front-end margin, so C; the threshold 0 "
                    f"is {DEFAULT}",
                    requested_level='"A", "B"',
                    margin_at_b="<= 0",
                ),
                R(
                    "ST-01",
                    '"B"',
                    f"{A_LEVEL} ({SRC_SLA}): no backup circuit, no A; offering B instead is {DEFAULT}",
                    requested_level='"A"',
                    backup_circuit="false",
                ),
                R(
                    "ST-02",
                    '"B"',
                    f"{A_LEVEL} ({SRC_SLA}): the client holds the maximum; the cap 5 and offering B are {DEFAULT}",
                    requested_level='"A"',
                    client_a_count=">= 5",
                ),
                R(
                    "ST-09",
                    '"B"',
                    f"{PROFIT} ({SRC_SLA}): at A (price ×2) the order leaves no front-end margin, at B it does",
                    requested_level='"A"',
                    margin_at_a="<= 0",
                ),
                R(
                    "ST-03",
                    '"A"',
                    f"A with a backup circuit, under the cap, paying for itself ({A_LEVEL}; {PROFIT})",
                    requested_level='"A"',
                    backup_circuit="true",
                    client_a_count="< 5",
                    margin_at_a="> 0",
                ),
                R("ST-04", '"B"', f"B as requested, with a front-end margin ({PROFIT})", requested_level='"B"'),
                R(
                    "ST-05",
                    '"C"',
                    f"C as requested: the standard level, 「SLA协议价格系数」 1 ({SRC_SLA})",
                    requested_level='"C"',
                ),
                R(
                    "ST-06",
                    '"B"',
                    f"no level requested, platinum client, B pays for itself; {DEFAULT}",
                    requested_level="null",
                    client_tier='"platinum"',
                    margin_at_b="> 0",
                ),
                R("ST-07", '"C"', f"no level requested: the standard level C; {DEFAULT}", requested_level="null"),
            ],
        ),
        T(
            "sla_terms",
            "SLA服务等级表 Service level terms",
            "sla_orders",
            "U",
            ["sla_tier"],
            ["availability", "interruption_hours", "price_coefficient", "sla_price"],
            [
                R(
                    "SLA-A",
                    (99.7, 2, 2, "standard_price * 2"),
                    f"{SRC_SLA}: A — 「电路可用率」 99.7 %, 「服务中断时间」 2 h/month, 「SLA协议价格系数」 ×2; "
                    f"applied to every circuit type: {READING}",
                    sla_tier='"A"',
                ),
                R(
                    "SLA-B",
                    (99.16, 6, 1.2, "standard_price * 1.2"),
                    f"{SRC_SLA}: B — 「电路可用率」 99.16 %, 「服务中断时间」 6 h/month, 「SLA协议价格系数」 ×1.2; "
                    f"applied to every circuit type: {READING}",
                    sla_tier='"B"',
                ),
                R(
                    "SLA-C",
                    (98.9, 8, 1, "standard_price * 1"),
                    f"{SRC_SLA}: C — 「电路可用率」 98.9 %, 「服务中断时间」 8 h/month, 「SLA协议价格系数」 ×1; "
                    f"applied to every circuit type: {READING}",
                    sla_tier='"C"',
                ),
            ],
        ),
        T(
            "delivery_days",
            "交付时限 Committed delivery days",
            "sla_orders",
            "U",
            ["circuit_type", "sla_tier", "needs_access_work"],
            ["committed_days"],
            [
                *[
                    R(
                        f"DD-{level}{k}",
                        days,
                        f"{SRC_SLA}: 「{row}」 {level} {days} days",
                        circuit_type='"本地DDN"',
                        sla_tier=f'"{level}"',
                        needs_access_work=access,
                    )
                    for level, plain, access_days in (("A", 5, 20), ("B", 7, 30), ("C", 15, 40))
                    for k, (access, days, row) in enumerate(
                        (("false", plain, "本地DDN专线(装、移、升)"), ("true", access_days, "本地DDN专线(需接入层)")),
                        start=1,
                    )
                ],
                R(
                    "DD-07",
                    "null",
                    f"{SRC_SLA} gives delivery days for local DDN leased lines (「本地DDN专线」) only: no standard "
                    "commitment for other circuit types, agree the date case by case",
                    circuit_type='not("本地DDN")',
                ),
            ],
        ),
        T(
            "front_end_margin",
            "前端毛利 Front-end margin",
            "sla_orders",
            "U",
            ["sla_tier"],
            ["front_end_margin"],
            [
                R(
                    "FM-01",
                    "monthly_revenue - sla_price",
                    f"「将收入与协议价格差作为考核前端效益的主要指标之一」 ({SRC_SLA}): revenue − SLA price",
                )
            ],
        ),
    ],
}

HEAD = PatternFill("solid", fgColor="DDEBF7")
OUT = PatternFill("solid", fgColor="E2EFDA")
NOTE = PatternFill("solid", fgColor="FFF2CC")
THICK = Side(style="double", color="000000")


def write_glossary(path: Path):
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in add_glossary_sheets(wb, GLOSSARY, ENTITIES):
        for cell in sheet[1]:
            cell.font, cell.fill = Font(bold=True), HEAD
        sheet.freeze_panes = "A2"
        for col in range(1, sheet.max_column + 1):
            sheet.column_dimensions[get_column_letter(col)].width = 24
    wb.save(path)


def write_tables(path: Path, tables):
    wb = Workbook()
    wb.remove(wb.active)
    for name, title, rows, hit, columns, rules, default in tables:
        ws = add_decision_sheet(wb, name, rows, hit, columns, rules, default, title)
        kinds = [None] + [k for k, _ in columns] + ["annotation"]
        for c, kind in enumerate(kinds, start=1):
            for r in (5, 6):
                cell = ws.cell(r, c)
                cell.font = Font(bold=True)
                cell.fill = OUT if kind == "output" else NOTE if kind == "annotation" else HEAD
            width = 70 if kind == "annotation" else 12 if c == 1 else 16
            ws.column_dimensions[get_column_letter(c)].width = width
        first_output = kinds.index("output")
        for r in range(5, ws.max_row + 1):
            ws.cell(r, first_output).border = Border(left=THICK)
            ws.cell(r, len(kinds)).alignment = Alignment(wrap_text=False)
        ws["A1"].font = Font(bold=True)
        ws.freeze_panes = "B7"
    wb.save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite existing rule workbooks")
    parser.add_argument("-o", "--out", type=Path, default=RULES)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    targets = ["glossary.xlsx", *TABLES]
    existing = [t for t in targets if (args.out / t).exists()]
    if existing and not args.force:
        sys.exit(f"{', '.join(existing)} exist in {args.out}; managers may have edited them. Use --force to overwrite.")
    write_glossary(args.out / "glossary.xlsx")
    for file, tables in TABLES.items():
        write_tables(args.out / file, tables)
    print(f"wrote {len(targets)} workbooks to {args.out}")


if __name__ == "__main__":
    main()
