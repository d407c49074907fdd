"""Build the shipped rule workbooks in rules/ from the tables below.

Run once to create them: `python tools/build_rules.py`. From then on the .xlsx
files in rules/ are the source of truth that managers edit; running this again
overwrites their edits (it asks first unless --force).

Figures come from ../shared/domain.md (digest of the seed documents). Where the
sources give no number, the annotation says "default - edit".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from engine.rulebook import add_decision_sheet, add_glossary_sheets  # noqa: E402  (the layout the reader expects)

RULES = Path(__file__).resolve().parent.parent / "rules"
DEFAULT = "default - edit"

ENTITIES = [
    # entity, sheet(s), key, parent, link column(s)
    ("clients", "客户 | clients", "client_id", "", ""),
    ("contracts", "合同 | contracts", "contract_id", "clients", "客户编号 | client_id"),
    ("solution_requests", "方案申请 | solution_requests", "request_id", "clients", "客户编号 | client_id"),
    ("sla_orders", "SLA订单 | sla_orders", "order_id", "clients", "客户编号 | client_id"),
]

INDUSTRIES = "金融, 党政军, 科教文卫, 交通运输, 旅游娱乐, 运营商, IT, 制造, 公共服务, 贸易, 其他"
GLOSSARY = [
    # variable, entity, column header(s), type, allowed values, label, description[, records]
    ("client_id", "clients", "客户编号", "string", "", "client id", "key of the client register"),
    ("client_name", "clients", "客户名称", "string", "", "client name", ""),
    ("industry", "clients", "行业", "string", INDUSTRIES, "industry", "industries of the key-account division's revenue"),
    ("region", "clients", "区域", "string", "", "region", ""),
    ("annual_revenue", "clients", "年收入(百万元)", "number", "", "annual revenue", "million CNY"),
    ("profit_margin", "clients", "利润率(%)", "number", "", "profit margin %", "profitability (盈利性): size is not profit"),
    ("it_budget", "clients", "IT预算(万元)", "number", "", "IT budget", "IT budget / telecom spend, 10k CNY"),
    ("employees", "clients", "员工人数", "number", "", "employees", ""),
    ("growth_rate", "clients", "增长率(%)", "number", "", "growth %", ""),
    ("arrears_rate", "clients", "欠费率(%)", "number", "[0..100]", "arrears rate %", "credit and payment behaviour"),
    ("collection_days", "clients", "回款周期(天)", "number", "", "collection cycle (days)", ""),
    ("complaints", "clients", "投诉次数", "number", "", "complaints", "relationship indicator"),
    ("executive_relationship", "clients", "高层关系", "boolean", "", "executive relationship", ""),
    ("market_leader", "clients", "市场领先", "boolean", "", "market leader", "market perception"),
    ("listed", "clients", "上市公司", "boolean", "", "listed company", ""),
    ("sales_channel", "clients", "销售渠道", "boolean", "", "sales channel", "reachability (可达性)"),
    ("industry_segment", "clients", "行业细分", "string", '"政府", "电信业", "教育", "金融", "未评估"', "segment", "decision output"),
    ("industry_total", "clients", "行业吸引力总分", "number", "", "segment total", "decision output"),
    ("industry_selected", "clients", "目标细分", "boolean", "", "target segment ★", "decision output"),
    ("client_score", "clients", "客户评分", "number", "", "client score", "decision output: weighted scorecard"),
    ("client_tier", "clients", "客户等级", "string", '"platinum", "gold", "silver", "none"', "client tier", "decision output; highest first (白金卡/金卡/银卡/非目标)"),
    ("contract_id", "contracts", "合同编号", "string", "", "contract id", ""),
    ("business_type", "contracts", "业务类型", "string", "", "business type", ""),
    ("amount", "contracts", "合同金额(万元)", "number", "", "amount (10k CNY)", ""),
    ("discount", "contracts", "折扣率(%)", "number", "[0..100]", "discount %", ""),
    ("gross_margin", "contracts", "毛利率(%)", "number", "", "gross margin %", ""),
    ("standard_template", "contracts", "标准合同", "boolean", "", "standard template", ""),
    ("standard_solution", "contracts", "标准方案", "boolean", "", "standard solution", ""),
    ("solution_changed", "contracts", "方案变更", "boolean", "", "solution changed", ""),
    ("sales_stage", "contracts", "销售阶段", "string", '"A", "B", "C", "D", "E", "F", "G"', "sales stage", "A requirement confirmed … G signed"),
    ("sign_date", "contracts", "签约日期", "date", "", "sign date", ""),
    ("required_approver", "contracts", "审批级别", "string", '"group_ka_manager", "bg_gm", "bu_manager", "industry_manager", "account_manager"',
     "required approver", "decision output; highest authority first (集团客户部经理 > 业务群总经理 > 业务单元经理 > 行业经理 > 客户经理)"),
    ("legal_review", "contracts", "法务审核", "boolean", "", "legal review", "decision output"),
    ("finance_review", "contracts", "财务审核", "boolean", "", "finance review", "decision output"),
    ("request_id", "solution_requests", "申请编号", "string", "", "request id", ""),
    ("service_type", "solution_requests", "业务类型", "string", "数字电路, 数据端口, 互联网专线, 语音, IDC, 系统集成, 其他", "service type", ""),
    ("bandwidth_mbps", "solution_requests", "带宽(Mbps)", "number", "", "bandwidth Mbit/s", ""),
    ("project_scale", "solution_requests", "项目规模", "string", "常规, 综合, 大型", "project scale", "routine / comprehensive / large"),
    ("mature_solution", "solution_requests", "成熟方案", "boolean", "", "mature solution", ""),
    ("violates_network_principles", "solution_requests", "违反组网原则", "boolean", "", "violates network-design principles", ""),
    ("disputed", "solution_requests", "方案争议", "boolean", "", "disputed solution", ""),
    ("new_business", "solution_requests", "新业务", "boolean", "", "new business", ""),
    ("resource_confirmed", "solution_requests", "资源已确认", "boolean", "", "resources confirmed", ""),
    ("needs_construction", "solution_requests", "需要施工", "boolean", "", "needs construction", ""),
    ("major_project", "solution_requests", "重大项目", "boolean", "", "major project", ""),
    ("one_stop_service", "solution_requests", "一站式服务", "boolean", "", "one-stop service", ""),
    ("above_standard_maintenance", "solution_requests", "维护要求高于标准", "boolean", "", "above-standard maintenance", ""),
    ("route", "solution_requests", "设计单位", "string", '"chief_engineer", "technical_office", "support_dept"', "route", "decision output (总师室 / 网络部技术支撑处 / 大客户综合支撑部)"),
    ("escalation", "solution_requests", "上报", "string", "", "escalation", "decision output"),
    ("order_id", "sla_orders", "订单编号", "string", "", "order id", ""),
    ("circuit_type", "sla_orders", "电路类型", "string", "", "circuit type", ""),
    ("needs_access_work", "sla_orders", "需接入层施工", "boolean", "", "needs access-layer work", ""),
    ("requested_level", "sla_orders", "申请等级", "string", '"A", "B", "C"', "requested level", ""),
    ("backup_circuit", "sla_orders", "备用电路", "boolean", "", "backup circuit", ""),
    ("client_a_count", "sla_orders", "客户已有A级数量", "number", "", "client's A-level circuits", ""),
    ("standard_price", "sla_orders", "标准SLA价格(元/月) | standard SLA price", "number", "", "standard SLA price", "CNY per month"),
    ("monthly_revenue", "sla_orders", "月收入(元)", "number", "", "monthly revenue", "CNY per month"),
    ("sla_tier", "sla_orders", "SLA等级", "string", '"A", "B", "C"', "SLA tier", "decision output"),
    # register columns that record a decision people took: `kade check` compares them with the decision
    ("listed_tier", "clients", "现有等级", "string", "", "listed tier", "the tier the client list shows today; kade check compares it with client_tier", "client_tier"),
    ("signed_approver", "contracts", "审批人级别", "string", "", "signed by", "approver level that signed the contract; it must be at least required_approver", "required_approver", "at least"),
    ("actual_route", "solution_requests", "实际设计单位", "string", "", "designed by", "the unit the request was actually sent to; kade check compares it with route", "route"),
    ("sold_sla_tier", "sla_orders", "销售等级", "string", "", "SLA sold", "the SLA level sold on the order; it may be at most sla_tier", "sla_tier", "at most"),
]

SRC_TIER = "客户发展流程 2.3 客户重要性排序"
SRC_IND = "行业吸引力评估表 (seed 003)"
SRC_CONTRACT = "客户发展流程 2.6 签订合同 / 商务授权"
SRC_ROUTE = "技术方案管理流程"
SRC_SLA = "SLA协议 服务等级表"

# Each table: name, title, rows (entity), hit policy, [(kind, header)], rules [(id, cells..., annotation)], default row or None
TABLES = {
    "client_tier.xlsx": [
        ("industry_segment", "行业细分 Industry segment", "clients", "U",
         [("input", "industry"), ("output", "industry_segment")],
         [("IS-01", '"党政军"', '"政府"', f"party/government/military is rated as 政府 in the attractiveness table ({SRC_IND})"),
          ("IS-02", '"运营商"', '"电信业"', f"operators rated as 电信业 ({SRC_IND})"),
          ("IS-03", '"科教文卫"', '"教育"', f"science/education/culture/health rated as 教育 ({SRC_IND})"),
          ("IS-04", '"金融"', '"金融"', f"finance ({SRC_IND})"),
          ("IS-05", 'not("党政军", "运营商", "科教文卫", "金融")', '"未评估"', "segment not rated in the source")],
         None),
        ("industry_attractiveness", "行业吸引力 Industry attractiveness", "clients", "U",
         [("input", "industry_segment")] + [("output", o) for o in ("seg_capacity", "seg_growth", "seg_awareness", "seg_competition", "seg_difficulty", "seg_funding", "seg_relationship", "seg_policy")],
         [("IA-01", '"政府"', 9, 7, 7, -3, -3, 9, 7, 9, f"{SRC_IND}: 政府 row (source total 42)"),
          ("IA-02", '"电信业"', 9, 7, 9, -5, -1, 9, 9, 7, f"{SRC_IND}: 电信业 row; the source writes 46, the criteria sum to 44"),
          ("IA-03", '"教育"', 9, 5, 5, -5, -3, 7, 5, 9, f"{SRC_IND}: 教育 row (source total 32)"),
          ("IA-04", '"金融"', 9, 3, 9, -9, -7, 9, 7, 7, f"{SRC_IND}: 金融 row (source total 28)"),
          ("IA-05", '"未评估"', 0, 0, 0, 0, 0, 0, 0, 0, "segment not rated: no points")],
         None),
        ("industry_total", "行业吸引力总分 Segment total", "clients", "U",
         [("input", "industry_segment"), ("output", "industry_total")],
         [("IT-01", "-", "seg_capacity + seg_growth + seg_awareness + seg_competition + seg_difficulty + seg_funding + seg_relationship + seg_policy",
           f"{SRC_IND}: total = sum of the eight criteria (competition and difficulty count negative)")],
         None),
        ("industry_selected", "目标细分 Target segment ★", "clients", "F",
         [("input", "industry_segment"), ("input", "industry_total"), ("output", "industry_selected")],
         [("SEL-01", '"未评估"', "-", "false", "segment not rated: not a target segment"),
          ("SEL-02", "-", ">= 29.1", "true", f"{SRC_IND}: ★ when total ≥ the average 29.1 (the source also stars 金融 at 28; kade follows the stated cut-off)"),
          ("SEL-03", "-", "< 29.1", "false", f"{SRC_IND}: below the average 29.1")],
         None),
        ("client_score", "客户评分 Weighted scorecard", "clients", "C+",
         [("input", "sales_channel"), ("input", "annual_revenue"), ("input", "profit_margin"), ("input", "it_budget"), ("input", "growth_rate"),
          ("input", "arrears_rate"), ("input", "collection_days"), ("input", "complaints"), ("input", "executive_relationship"),
          ("input", "market_leader"), ("input", "industry_selected"), ("input", "listed"), ("output", "client_score")],
         [("SC-01", "true", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "8 * 10", f"reachability 可达性: weight 8 × score 10 ({SRC_TIER}); {DEFAULT}"),
          ("SC-02", "-", ">= 1000", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "8 * 10", f"size: revenue ≥ 1,000 M: weight 8 × score 10; {DEFAULT}"),
          ("SC-03", "-", "[200..1000)", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "8 * 6", f"size: revenue 200–1,000 M: weight 8 × score 6; {DEFAULT}"),
          ("SC-04", "-", "[50..200)", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "8 * 3", f"size: revenue 50–200 M: weight 8 × score 3; {DEFAULT}"),
          ("SC-05", "-", "-", ">= 15", "-", "-", "-", "-", "-", "-", "-", "-", "-", "10 * 10", f"profitability 盈利性 (size is not profit): weight 10 × score 10; {DEFAULT}"),
          ("SC-06", "-", "-", "[5..15)", "-", "-", "-", "-", "-", "-", "-", "-", "-", "10 * 6", f"profitability: margin 5–15 %: weight 10 × score 6; {DEFAULT}"),
          ("SC-07", "-", "-", "[0..5)", "-", "-", "-", "-", "-", "-", "-", "-", "-", "10 * 2", f"profitability: margin 0–5 %: weight 10 × score 2; {DEFAULT}"),
          ("SC-08", "-", "-", "< 0", "-", "-", "-", "-", "-", "-", "-", "-", "-", "10 * -5", f"loss-making client: weight 10 × score −5; {DEFAULT}"),
          ("SC-09", "-", "-", "-", ">= 500", "-", "-", "-", "-", "-", "-", "-", "-", "8 * 10", f"IT budget / telecom spend ≥ 500 万: weight 8 × score 10; {DEFAULT}"),
          ("SC-10", "-", "-", "-", "[100..500)", "-", "-", "-", "-", "-", "-", "-", "-", "8 * 5", f"IT budget 100–500 万: weight 8 × score 5; {DEFAULT}"),
          ("SC-11", "-", "-", "-", "-", ">= 20", "-", "-", "-", "-", "-", "-", "-", "6 * 10", f"growth ≥ 20 %: weight 6 × score 10; {DEFAULT}"),
          ("SC-12", "-", "-", "-", "-", "[5..20)", "-", "-", "-", "-", "-", "-", "-", "6 * 5", f"growth 5–20 %: weight 6 × score 5; {DEFAULT}"),
          ("SC-13", "-", "-", "-", "-", "-", "> 10", "-", "-", "-", "-", "-", "-", "10 * -6", f"credit: arrears rate > 10 % pulls the score down (big order ≠ key account); {DEFAULT}"),
          ("SC-14", "-", "-", "-", "-", "-", "(3..10]", "-", "-", "-", "-", "-", "-", "10 * -2", f"credit: arrears rate 3–10 %; {DEFAULT}"),
          ("SC-15", "-", "-", "-", "-", "-", "-", "> 90", "-", "-", "-", "-", "-", "8 * -5", f"payment: collection cycle > 90 days; {DEFAULT}"),
          ("SC-16", "-", "-", "-", "-", "-", "-", "-", ">= 5", "-", "-", "-", "-", "6 * -3", f"relationship: 5 or more complaints; {DEFAULT}"),
          ("SC-17", "-", "-", "-", "-", "-", "-", "-", "-", "true", "-", "-", "-", "8 * 8", f"relationship: existing executive relationship: weight 8 × score 8; {DEFAULT}"),
          ("SC-18", "-", "-", "-", "-", "-", "-", "-", "-", "-", "true", "-", "-", "8 * 10", f"market perception: market leader: weight 8 × score 10; {DEFAULT}"),
          ("SC-19", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "true", "-", "10 * 10", f"value to us: client in a target segment ★: weight 10 × score 10; {DEFAULT}"),
          ("SC-20", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "true", "6 * 5", f"corporate alignment: listed company: weight 6 × score 5; {DEFAULT}")],
         ("default", "0")),
        ("client_tier", "客户分级 Client tier", "clients", "F",
         [("input", "sales_channel"), ("input", "arrears_rate"), ("input", "annual_revenue"), ("input", "industry"), ("input", "profit_margin"),
          ("input", "client_score"), ("output", "client_tier")],
         [("CT-01", "false", "-", "-", "-", "-", "-", '"none"', f"no sales channel: not reachable, not a target client ({SRC_TIER}, 可达性)"),
          ("CT-02", "-", "> 20", "-", "-", "-", ">= 150", '"silver"', f"arrears above 20 % cap the tier at silver: credit pulls a tier down (warning case: big order ≠ key account); {DEFAULT}"),
          ("CT-03", "-", "-", ">= 1000", '"金融"', ">= 0", "-", '"platinum"', f"large finance clients; {DEFAULT}"),
          ("CT-04", "-", "-", "-", "-", "-", ">= 450", '"platinum"', f"weighted score ≥ 450; {DEFAULT}"),
          ("CT-05", "-", "-", "-", "-", "-", "[300..450)", '"gold"', f"weighted score 300–450; {DEFAULT}"),
          ("CT-06", "-", "-", "-", "-", "-", "[150..300)", '"silver"', f"weighted score 150–300; {DEFAULT}"),
          ("CT-07", "-", "-", "-", "-", "-", "< 150", '"none"', f"below 150: non-target client, no resources (say no); {DEFAULT}")],
         None),
    ],
    "contract_authorization.xlsx": [
        ("required_approver", "审批级别 Required approver", "contracts", "P",
         [("input", "standard_template"), ("input", "standard_solution"), ("input", "amount"), ("input", "discount"), ("input", "gross_margin"),
          ("input", "solution_changed"), ("input", "client_tier"), ("output", "required_approver")],
         [("CA-01", "true", "true", "[0..50]", "[0..5]", "-", "-", "-", '"account_manager"', f"standard contract + standard solution: authorized through the standard itself ({SRC_CONTRACT}); limits {DEFAULT}"),
          ("CA-02", "true", "true", "[0..50]", "(5..10]", "-", "-", "-", '"industry_manager"', f"standard, small, discount within the standard range; {DEFAULT}"),
          ("CA-03", "true", "true", "(50..100)", "-", "-", "-", "-", '"industry_manager"', f"standard, below 100 万; {DEFAULT}"),
          ("CA-04", "false", "-", "< 100", "-", "-", "-", "-", '"industry_manager"', f"beyond the standard: graded case-by-case authorization (分级个案授权); {DEFAULT}"),
          ("CA-05", "-", "false", "< 100", "-", "-", "-", "-", '"industry_manager"', f"non-standard solution: graded case-by-case authorization; {DEFAULT}"),
          ("CA-06", "-", "-", "[100..500)", "-", "-", "-", "-", '"bu_manager"', f"100–500 万: business-unit manager confirms commercial and technical parts ({SRC_CONTRACT}); {DEFAULT}"),
          ("CA-07", "-", "-", "[500..2000)", "-", "-", "-", "-", '"bg_gm"', f"500–2,000 万: business-group GM; {DEFAULT}"),
          ("CA-08", "-", "-", ">= 2000", "-", "-", "-", "-", '"group_ka_manager"', f"2,000 万 and above: group key-account department manager; {DEFAULT}"),
          ("CA-09", "-", "-", "-", "(10..20]", "-", "-", "-", '"bu_manager"', f"discount beyond the standard range (2.5.4 pricing); {DEFAULT}"),
          ("CA-10", "-", "-", "-", "(20..30]", "-", "-", "-", '"bg_gm"', f"deep discount; {DEFAULT}"),
          ("CA-11", "-", "-", "-", "> 30", "-", "-", "-", '"group_ka_manager"', f"exceptional discount; {DEFAULT}"),
          ("CA-12", "-", "-", "-", "-", "[5..15)", "-", "-", '"bu_manager"', f"thin margin (2.5.5 internal evaluation, financial criteria); {DEFAULT}"),
          ("CA-13", "-", "-", "-", "-", "[0..5)", "-", "-", '"bg_gm"', f"margin below 5 %; {DEFAULT}"),
          ("CA-14", "-", "-", "-", "-", "< 0", "-", "-", '"group_ka_manager"', f"loss-making contract; {DEFAULT}"),
          ("CA-15", "-", "-", "-", "-", "-", "true", "-", '"bu_manager"', f"solution changed after authorization: items beyond the authority given are authorized again ({SRC_CONTRACT})"),
          ("CA-16", "-", "-", ">= 100", "-", "-", "-", '"none"', '"bg_gm"', f"non-target client (tier none) with a contract of 100 万 or more; {DEFAULT}")],
         None),
        ("legal_review", "法务审核 Legal review", "contracts", "F",
         [("input", "standard_template"), ("input", "amount"), ("output", "legal_review")],
         [("LR-01", "false", "-", "true", f"not on a standard template: the legal head confirms legal liability ({SRC_CONTRACT})"),
          ("LR-02", "-", ">= 500", "true", f"major contract of 500 万 or more; {DEFAULT}")],
         ("default", "false")),
        ("finance_review", "财务审核 Finance review", "contracts", "F",
         [("input", "gross_margin"), ("input", "discount"), ("input", "amount"), ("output", "finance_review")],
         [("FR-01", "< 15", "-", "-", "true", f"margin below 15 %: financial support manager reviews pricing (2.5.4/2.5.5); {DEFAULT}"),
          ("FR-02", "-", "> 10", "-", "true", f"discount beyond 10 %; {DEFAULT}"),
          ("FR-03", "-", "-", ">= 300", "true", f"contracts of 300 万 or more; {DEFAULT}")],
         ("default", "false")),
    ],
    "solution_routing.xlsx": [
        ("solution_routing", "方案设计单位 Solution routing", "solution_requests", "F",
         [("input", "violates_network_principles"), ("input", "disputed"), ("input", "new_business"), ("input", "project_scale"),
          ("input", "needs_construction"), ("input", "resource_confirmed"), ("input", "mature_solution"), ("output", "route")],
         [("SR-01", "true", "-", "-", "-", "-", "-", "-", '"chief_engineer"', f"violates existing network-design principles (违反现有组网原则) → 总师室 ({SRC_ROUTE})"),
          ("SR-02", "-", "true", "-", "-", "-", "-", "-", '"chief_engineer"', f"disputed solution → 总师室 ({SRC_ROUTE})"),
          ("SR-03", "-", "-", "true", "-", "-", "-", "-", '"chief_engineer"', f"new-business solution and its acceptance criteria → 总师室 ({SRC_ROUTE})"),
          ("SR-04", "-", "-", "-", '"综合", "大型"', "-", "-", "-", '"technical_office"', f"comprehensive and large projects (综合性、大型项目) → 网络部技术支撑处 ({SRC_ROUTE})"),
          ("SR-05", "-", "-", "-", "-", "true", "-", "-", '"technical_office"', f"work needing construction: technical office sets up the project and the investment estimate ({SRC_ROUTE})"),
          ("SR-06", "-", "-", "-", "-", "-", "false", "-", '"support_dept"', f"resources the resource centre cannot confirm are transferred to the support dept ({SRC_ROUTE})"),
          ("SR-07", "-", "-", "-", "-", "-", "-", "true", '"support_dept"', f"routine, single, mature solution → 大客户综合支撑部 ({SRC_ROUTE})"),
          ("SR-08", "-", "-", "-", "-", "-", "-", "false", '"technical_office"', f"routine but not mature: technical office co-designs with the support dept; {DEFAULT}")],
         None),
        ("routing_escalation", "上报 Escalations", "solution_requests", "C",
         [("input", "one_stop_service"), ("input", "major_project"), ("input", "service_type"), ("input", "bandwidth_mbps"),
          ("input", "above_standard_maintenance"), ("input", "needs_construction"), ("output", "escalation")],
         [("SE-01", "true", "true", "-", "-", "-", "-", '"group_ka_manager"', f"one-stop service for a major project: report to the group key-account dept manager, case by case ({SRC_ROUTE})"),
          ("SE-02", "true", "false", 'not("数字电路", "数据端口")', "-", "-", "-", '"group_ka_manager"', f"one-stop service other than digital circuits / data-port leasing: report to the group key-account dept manager ({SRC_ROUTE})"),
          ("SE-03", "true", "false", '"数字电路", "数据端口"', "< 2", "-", "-", '"group_ka_manager"', f"one-stop service for circuits below 2 Mbit/s: report to the group key-account dept manager ({SRC_ROUTE})"),
          ("SE-04", "-", "-", "-", "-", "true", "-", '"technical_support_manager"', f"maintenance requirements above the standard go to the technical support manager ({SRC_ROUTE})"),
          ("SE-05", "-", "-", "-", "-", "-", "true", '"technical_office_project_setup"', f"construction needed: technical office project set-up and investment estimate ({SRC_ROUTE})")],
         ("default", '"none"')),
    ],
    "sla_tier.xlsx": [
        ("sla_tier", "SLA等级 SLA tier", "sla_orders", "F",
         [("input", "requested_level"), ("input", "backup_circuit"), ("input", "client_a_count"), ("input", "client_tier"), ("output", "sla_tier")],
         [("ST-01", '"A"', "false", "-", "-", '"B"', f"A-level requires a backup circuit ({SRC_SLA})"),
          ("ST-02", '"A"', "-", ">= 5", "-", '"B"', f"A-level has a maximum quantity per client (cap 5 is a {DEFAULT}) ({SRC_SLA})"),
          ("ST-03", '"A"', "true", "< 5", "-", '"A"', f"A-level with backup circuit, under the cap ({SRC_SLA})"),
          ("ST-04", '"B"', "-", "-", "-", '"B"', "B-level as requested"),
          ("ST-05", '"C"', "-", "-", "-", '"C"', "C-level as requested"),
          ("ST-06", "null", "-", "-", '"platinum"', '"B"', f"no level requested, platinum client; {DEFAULT}"),
          ("ST-07", "null", "-", "-", "-", '"C"', f"no level requested: standard C; {DEFAULT}")],
         None),
        ("sla_terms", "SLA服务等级表 Service level terms", "sla_orders", "U",
         [("input", "sla_tier"), ("output", "provisioning_days"), ("output", "access_work_days"), ("output", "availability"),
          ("output", "interruption_hours"), ("output", "price_coefficient"), ("output", "sla_price")],
         [("SLA-A", '"A"', 5, 20, 99.7, 2, 2, "standard_price * 2", f"{SRC_SLA}: A — 5 days, 20 with access-layer work, 99.7 %, 2 h/month, ×2"),
          ("SLA-B", '"B"', 7, 30, 99.16, 6, 1.2, "standard_price * 1.2", f"{SRC_SLA}: B — 7 days, 30 with access-layer work, 99.16 %, 6 h/month, ×1.2"),
          ("SLA-C", '"C"', 15, 40, 98.9, 8, 1, "standard_price * 1", f"{SRC_SLA}: C — 15 days, 40 with access-layer work, 98.9 %, 8 h/month, ×1")],
         None),
        ("delivery_days", "交付时限 Committed delivery days", "sla_orders", "U",
         [("input", "needs_access_work"), ("output", "committed_days")],
         [("DD-01", "true", "access_work_days", f"local DDN needing access-layer work ({SRC_SLA})"),
          ("DD-02", "false", "provisioning_days", f"local DDN install / move / upgrade ({SRC_SLA})")],
         None),
        ("front_end_margin", "前端毛利 Front-end margin", "sla_orders", "U",
         [("input", "sla_tier"), ("output", "front_end_margin")],
         [("FM-01", "-", "monthly_revenue - sla_price", f"front-end margin = revenue − SLA price, a KPI: a higher level must pay for itself ({SRC_SLA})")],
         None),
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
