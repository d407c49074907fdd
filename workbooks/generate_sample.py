#!/usr/bin/env python3
"""Generate the sample key-account workbook ``workbooks/key_accounts.xlsx``.

The workbook imitates the registers a telecom / IT-services key-account department
keeps in Excel (see ``../shared/domain.md``): clients, contracts / proposals,
technical solution requests and SLA orders. Headers and values are Chinese, as they
are in practice.

The output is deterministic: one fixed seed, one numpy Generator split into one
independent stream per sheet, so the same command always gives the same rows.

A few cells are wrong *on purpose*, because real registers are typed by hand and the
engine must report such cells instead of crashing. They sit at fixed positions
(see ``dirty_cells()``):

* 客户: three numbers stored as text ("1,200", " 350 ", "10,000") - dirty but valid;
  about 2 % of 增长率(%) left empty.
* 合同: 合同金额(万元) = "1,2O0" (letter O), 折扣率(%) = "N/A", and one row whose
  客户编号 is "C9999", a client that does not exist.
* 方案申请: one one-stop request whose 重大项目 is left empty (the glossary requires it).
* SLA订单: about 2 % of 申请等级 left empty (optional: no level requested).

Columns the shipped rules need beyond the source's usual ones: the relationship
capability scores (长期合作潜力 … 高层重视程度, 0-100, for 我方 and the main 对手;
seed 004) on 客户, and 施工范围 (用户端 / 局端 / 两端: who sets the construction up)
on 方案申请.

Each sheet also records a decision people already took - 现有等级 (the tier in the
client list), 审批人级别 (the approver who signed), 实际设计单位 (the unit a request
went to), 销售等级 (the SLA level sold) - for `kade check`. They hold what the
shipped rules in ``rules/`` decide (the generator asks the engine), except for
the planted cases listed by ``recorded_cases()``: named stories (a 650 万 contract
signed by a BU manager, an A-level SLA sold without a backup circuit, a new-business
request not sent to the chief engineer, ...), about 4 % random violations and 1 %
empty cells per sheet, and on contracts about 5 % signed by an approver *above*
the required one, which the rules allow.

One departure is a *practice*, not noise: the account manager signs standard
contracts up to 80 万 with a discount under 8 % (``PRACTICE_STORY``), where the policy
(CA-01) lets him sign up to 50 万 and 5 % and gives the rest to the industry manager.
Every such contract records account_manager - `kade check` reports each as a
violation, and `kade rules learn` recovers the 80 万 / 8 % rule from them.

Usage::

    python workbooks/generate_sample.py [-o workbooks/key_accounts.xlsx] [--clients 320]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import xlsxwriter

SEED = 20261125
DEFAULT_CLIENTS = 320
MIN_CLIENTS = 20  # room for the real entities plus the dirty rows
DEFAULT_OUTPUT = Path(__file__).resolve().with_name("key_accounts.xlsx")
ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"  # the recorded decisions are what these rules decide

SHEET_CLIENTS = "客户"
SHEET_CONTRACTS = "合同"
SHEET_REQUESTS = "方案申请"
SHEET_SLA = "SLA订单"

CLIENT_COLUMNS = [
    "客户编号",
    "客户名称",
    "行业",
    "区域",
    "年收入(百万元)",
    "利润率(%)",
    "IT预算(万元)",
    "员工人数",
    "IT人员数",
    "增长率(%)",
    "欠费率(%)",
    "回款周期(天)",
    "投诉次数",
    "高层关系",
    "市场领先",
    "上市公司",
    "销售渠道",
    "注册资本(万元)",
]
# 客户关系能力比较分析 (seed 004): five soft indicators scored 0-100, for us and the main competitor
RELATIONSHIP_INDICATORS = ["长期合作潜力", "交易历史及口碑", "客户经理影响力", "内部协调能力", "高层重视程度"]
RELATIONSHIP_COLUMNS = [f"{i}({side})" for side in ("我方", "对手") for i in RELATIONSHIP_INDICATORS]
CLIENT_COLUMNS += RELATIONSHIP_COLUMNS
CONTRACT_COLUMNS = [
    "合同编号",
    "客户编号",
    "项目名称",
    "业务类型",
    "合同金额(万元)",
    "折扣率(%)",
    "毛利率(%)",
    "标准合同",
    "标准方案",
    "方案变更",
    "销售阶段",
    "签约日期",
]
REQUEST_COLUMNS = [
    "申请编号",
    "客户编号",
    "需求名称",
    "业务类型",
    "带宽(Mbps)",
    "项目规模",
    "成熟方案",
    "违反组网原则",
    "方案争议",
    "新业务",
    "资源已确认",
    "需要施工",
    "重大项目",
    "一站式服务",
    "维护要求高于标准",
    "施工范围",
]
SLA_COLUMNS = [
    "订单编号",
    "客户编号",
    "电路类型",
    "需接入层施工",
    "申请等级",
    "备用电路",
    "客户已有A级数量",
    "标准SLA价格(元/月)",
    "月收入(元)",
]

# Rows per sheet for the default 320 clients; other client counts scale linearly.
ROWS_PER_320_CLIENTS = {SHEET_CONTRACTS: 600, SHEET_REQUESTS: 400, SHEET_SLA: 500}

# ---------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------


class Industry(NamedTuple):
    weight: float  # share of the register
    size: float  # revenue multiplier against the overall lognormal
    margin: float  # typical profit margin, %
    growth: float  # typical growth rate, %
    it_share: float  # IT budget as a share of revenue
    revenue_per_staff: float  # 百万元 per employee
    it_staff_share: float  # IT staff / employees
    listed: float  # base chance of being a listed company (0 for public bodies)


# Industries of the key-account division's revenue (domain.md). Figures are rough,
# chosen so finance / operators are big IT spenders and trade has thin margins.
INDUSTRIES = {
    "金融": Industry(14, 1.8, 16, 6, 0.040, 1.20, 0.10, 0.50),
    "党政军": Industry(11, 0.8, 3, 5, 0.030, 0.35, 0.04, 0.00),
    "科教文卫": Industry(13, 0.6, 4, 6, 0.020, 0.30, 0.03, 0.02),
    "交通运输": Industry(8, 1.2, 6, 5, 0.012, 0.60, 0.02, 0.35),
    "旅游娱乐": Industry(5, 0.5, 8, 10, 0.010, 0.40, 0.02, 0.30),
    "运营商": Industry(3, 3.0, 12, 4, 0.050, 1.50, 0.15, 0.70),
    "IT": Industry(10, 0.7, 11, 15, 0.060, 0.50, 0.35, 0.35),
    "制造": Industry(15, 1.4, 6, 4, 0.012, 0.80, 0.02, 0.40),
    "公共服务": Industry(7, 0.9, 4, 4, 0.015, 0.50, 0.03, 0.20),
    "贸易": Industry(9, 1.0, 3, 3, 0.008, 2.50, 0.02, 0.25),
    "其他": Industry(5, 0.6, 5, 6, 0.010, 0.60, 0.02, 0.20),
}
# Public bodies pay slowly; they also have no shareholders.
SLOW_PAYERS = {"党政军", "科教文卫", "公共服务"}

# The department sits in Shanghai, so most of its key accounts are there.
REGIONS = {
    "上海": 40,
    "北京": 10,
    "江苏": 12,
    "浙江": 10,
    "广东": 8,
    "山东": 4,
    "安徽": 4,
    "湖北": 4,
    "四川": 4,
    "福建": 4,
}
# Districts for the two municipalities, cities for the provinces.
REGION_PLACES = {
    "上海": ["浦东新区", "徐汇区", "静安区", "黄浦区", "闵行区", "长宁区", "杨浦区", "普陀区", "嘉定区", "松江区"],
    "北京": ["海淀区", "朝阳区", "东城区", "西城区", "丰台区", "通州区"],
    "江苏": ["南京", "苏州", "无锡", "常州", "南通"],
    "浙江": ["杭州", "宁波", "温州", "绍兴", "嘉兴"],
    "广东": ["广州", "深圳", "东莞", "佛山", "珠海"],
    "山东": ["济南", "青岛", "烟台"],
    "安徽": ["合肥", "芜湖"],
    "湖北": ["武汉", "宜昌"],
    "四川": ["成都", "绵阳"],
    "福建": ["福州", "厦门", "泉州"],
}
MUNICIPALITIES = {"上海", "北京"}

BRAND_WORDS = [
    "华信",
    "东方",
    "申通",
    "长江",
    "恒泰",
    "浦江",
    "金桥",
    "宏达",
    "鼎盛",
    "瑞安",
    "海天",
    "联创",
    "天诚",
    "永安",
    "明德",
    "博远",
    "启明",
    "安达",
    "嘉禾",
    "锦程",
    "东华",
    "振华",
    "远景",
    "星河",
    "汇通",
    "新创",
    "盛世",
    "和信",
    "同心",
    "凯旋",
    "九州",
    "天元",
    "正泰",
    "宝丰",
    "中瑞",
    "润华",
]
# What follows the brand word, by industry.
TRADE_WORDS = {
    "金融": ["证券", "保险", "基金管理", "投资", "信托", "融资租赁", "期货", "农村商业银行"],
    "科教文卫": ["医院", "大学", "职业技术学院", "外国语学校", "出版社", "文化中心", "妇幼保健院"],
    "交通运输": ["物流", "航运", "快运", "港务", "航空服务", "客运"],
    "旅游娱乐": ["旅游", "酒店管理", "文化传媒", "影视", "国际旅行社", "游乐"],
    "运营商": ["有线网络", "广电网络", "宽带通信", "数据通信"],
    "IT": ["科技", "信息技术", "软件", "网络科技", "数据服务", "云计算"],
    "制造": ["汽车零部件", "电子", "机械", "化工", "钢铁", "医药", "精密制造", "电气"],
    "公共服务": ["自来水", "燃气", "电力", "环境", "水务", "城市建设"],
    "贸易": ["贸易", "进出口", "商贸", "供应链", "国际贸易"],
    "其他": ["实业", "咨询", "置业", "发展", "控股"],
}
# Schools, hospitals and publishers carry no company suffix.
INSTITUTION_WORDS = {"医院", "大学", "职业技术学院", "外国语学校", "出版社", "文化中心", "妇幼保健院"}
ORG_FORMS = {"有限公司": 55, "股份有限公司": 25, "集团有限公司": 20}
GOV_AGENCIES = [
    "税务局",
    "公安局",
    "财政局",
    "交通委员会",
    "卫生健康委员会",
    "市场监督管理局",
    "人力资源和社会保障局",
    "统计局",
    "档案局",
    "民政局",
    "生态环境局",
    "海事局",
    "气象局",
    "大数据中心",
    "应急管理局",
]

# The entities that appear in the source documents come first, with plausible figures.
# C0007 is the documents' warning case: a small, loss-making client in arrears that
# sales treated as a key account because it placed a big order.
REAL_CLIENTS = [
    dict(
        客户名称="中国银联",
        行业="金融",
        区域="上海",
        年收入=2560,
        利润率=18,
        IT预算=11800,
        员工人数=4200,
        IT人员数=1150,
        增长率=12,
        欠费率=0.5,
        回款周期=30,
        投诉次数=2,
        高层关系=True,
        市场领先=True,
        上市公司=False,
        销售渠道=True,
        注册资本=293037,
    ),
    dict(
        客户名称="上海期货交易所",
        行业="金融",
        区域="上海",
        年收入=1450,
        利润率=31,
        IT预算=9200,
        员工人数=620,
        IT人员数=240,
        增长率=9,
        欠费率=0.2,
        回款周期=25,
        投诉次数=1,
        高层关系=True,
        市场领先=True,
        上市公司=False,
        销售渠道=True,
        注册资本=50000,
    ),
    dict(
        客户名称="海通证券",
        行业="金融",
        区域="上海",
        年收入=4350,
        利润率=22,
        IT预算=14500,
        员工人数=9800,
        IT人员数=820,
        增长率=-3,
        欠费率=1.1,
        回款周期=35,
        投诉次数=3,
        高层关系=True,
        市场领先=True,
        上市公司=True,
        销售渠道=True,
        注册资本=1306420,
    ),
    dict(
        客户名称="工商银行上海分行",
        行业="金融",
        区域="上海",
        年收入=3900,
        利润率=26,
        IT预算=8600,
        员工人数=7600,
        IT人员数=380,
        增长率=4,
        欠费率=0.3,
        回款周期=30,
        投诉次数=4,
        高层关系=True,
        市场领先=True,
        上市公司=True,
        销售渠道=True,
        注册资本=500000,
    ),
    dict(
        客户名称="通用汽车(中国)",
        行业="制造",
        区域="上海",
        年收入=4200,
        利润率=6,
        IT预算=5200,
        员工人数=9100,
        IT人员数=310,
        增长率=-6,
        欠费率=1.8,
        回款周期=60,
        投诉次数=2,
        高层关系=False,
        市场领先=True,
        上市公司=True,
        销售渠道=True,
        注册资本=260000,
    ),
    dict(
        客户名称="某省海关",
        行业="党政军",
        区域="江苏",
        年收入=620,
        利润率=2,
        IT预算=2600,
        员工人数=3100,
        IT人员数=150,
        增长率=5,
        欠费率=2.5,
        回款周期=90,
        投诉次数=1,
        高层关系=True,
        市场领先=False,
        上市公司=False,
        销售渠道=True,
        注册资本=5000,
    ),
    dict(
        客户名称="xyz投资公司",
        行业="金融",
        区域="上海",
        年收入=35,
        利润率=-4,
        IT预算=60,
        员工人数=45,
        IT人员数=3,
        增长率=-8,
        欠费率=24,
        回款周期=150,
        投诉次数=5,
        高层关系=True,
        市场领先=False,
        上市公司=False,
        销售渠道=True,
        注册资本=1000,
    ),
]

# Relationship scores of the real entities (us, then the main competitor): UnionPay and the exchange are
# long-standing accounts; xyz is a client a competitor courts better than we do.
REAL_RELATIONSHIP = {
    "中国银联": ((90, 85, 80, 75, 90), (70, 60, 65, 60, 70)),
    "上海期货交易所": ((85, 80, 75, 70, 80), (60, 65, 60, 55, 60)),
    "海通证券": ((70, 75, 65, 70, 70), (75, 70, 70, 65, 75)),
    "工商银行上海分行": ((75, 80, 70, 65, 70), (70, 75, 65, 70, 65)),
    "通用汽车(中国)": ((60, 65, 55, 60, 55), (65, 60, 60, 55, 60)),
    "某省海关": ((80, 70, 75, 70, 85), (55, 50, 55, 60, 50)),
    "xyz投资公司": ((40, 35, 45, 50, 40), (70, 60, 65, 55, 70)),
}

BUSINESS_TYPES = {"数字电路": 26, "数据端口": 14, "互联网专线": 28, "语音": 12, "IDC": 10, "系统集成": 10}
# Contract size and margin by business type: integration is big and thin, circuits are small and fat.
TYPE_AMOUNT_FACTOR = {"数字电路": 1.0, "数据端口": 0.9, "互联网专线": 0.7, "语音": 0.4, "IDC": 2.0, "系统集成": 3.0}
TYPE_MARGIN = {"数字电路": 32, "数据端口": 30, "互联网专线": 28, "语音": 22, "IDC": 25, "系统集成": 12}
SALES_STAGES = {"A": 7, "B": 9, "C": 9, "D": 9, "E": 9, "F": 9, "G": 48}
PROJECT_TEMPLATES = {
    "数字电路": ["{n}分支机构数字电路租用", "{n}数字电路扩容", "{n}灾备中心数字电路"],
    "数据端口": ["{n}数据端口租用", "{n}数据中心互联端口", "{n}总部数据端口扩容"],
    "互联网专线": ["{n}互联网专线接入", "{n}互联网专线扩容", "{n}办公网互联网出口"],
    "语音": ["{n}语音专线", "{n}IP电话改造", "{n}呼叫中心中继"],
    "IDC": ["{n}IDC机柜托管", "{n}灾备机房托管", "{n}云主机租用"],
    "系统集成": ["{n}视频会议系统集成", "{n}网络改造系统集成", "{n}机房综合布线", "{n}安防监控系统集成"],
}

REQUEST_TYPES = {**BUSINESS_TYPES, "其他": 5}
# Bandwidth choices by business type; 0.064 (64K) and 1M are the low-speed circuits.
BANDWIDTHS = {
    "数字电路": {0.064: 10, 1: 8, 2: 55, 10: 17, 100: 10},
    "数据端口": {2: 25, 10: 30, 100: 35, 1000: 10},
    "互联网专线": {2: 10, 10: 30, 100: 45, 1000: 15},
    "语音": {0.064: 50, 2: 50},
    "IDC": {100: 50, 1000: 50},
    "系统集成": {10: 30, 100: 50, 1000: 20},
    "其他": {0.064: 30, 1: 30, 2: 25, 10: 15},
}
REQUEST_TEMPLATES = {
    "数字电路": ["{n}{bw}数字电路新装", "{n}{bw}数字电路移机", "{n}{bw}数字电路提速"],
    "数据端口": ["{n}{bw}数据端口租用", "{n}{bw}数据端口扩容"],
    "互联网专线": ["{n}{bw}互联网专线接入", "{n}互联网专线提速至{bw}"],
    "语音": ["{n}{bw}语音中继", "{n}语音专线新装"],
    "IDC": ["{n}IDC机柜及{bw}带宽", "{n}灾备机房托管"],
    "系统集成": ["{n}视频会议系统", "{n}园区网络改造", "{n}机房建设"],
    "其他": ["{n}{bw}物联网专网", "{n}{bw}低速数据采集电路", "{n}定制组网需求"],
}
PROJECT_SCALES = {"常规": 75, "综合": 17, "大型": 8}

CIRCUIT_TYPES = {"本地DDN": 45, "数字电路": 30, "以太网专线": 25}
# Standard (level C) SLA price band per circuit type, 元/月.
SLA_PRICE_MEDIAN = {"本地DDN": 1800, "数字电路": 4000, "以太网专线": 6000}

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _draw(rng: np.random.Generator, weights: dict, size: int) -> list:
    """Draw `size` keys of `weights` with probabilities proportional to the values."""
    keys = list(weights)
    p = np.array(list(weights.values()), dtype=float)
    picks = rng.choice(len(keys), size=size, p=p / p.sum())
    return [keys[i] for i in picks]


def _position(n_rows: int, n_fixed: int, fraction: float) -> int:
    """Row index of a deliberate data error: a fixed fraction into the generated rows,
    so the dirty cells stay put whatever the random draws are."""
    return n_fixed + int(fraction * (n_rows - n_fixed))


def _scaled_rows(sheet: str, n_clients: int) -> int:
    return max(20, round(ROWS_PER_320_CLIENTS[sheet] * n_clients / 320))


def _nice_capital(value: float) -> float:
    """Registered capital is a round figure: 10s, 100s or 1000s of 万元."""
    step = 1000 if value >= 10000 else 100 if value >= 1000 else 10
    return float(max(50, round(value / step) * step))


def _short_name(name: str) -> str:
    """'苏州华信科技有限公司' -> '苏州华信科技', for project titles."""
    for suffix in ("集团有限公司", "股份有限公司", "有限公司"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _bandwidth_label(mbps: float) -> str:
    if mbps < 1:
        return f"{round(mbps * 1000)}K"
    if mbps >= 1000:
        return f"{mbps / 1000:g}G"
    return f"{mbps:g}M"


def _id_list(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(1, count + 1)]


def _client_picker(rng: np.random.Generator, clients: pd.DataFrame):
    """Bigger IT budgets place more orders: pick clients with p ~ sqrt(IT budget)."""
    weights = np.sqrt(clients["IT预算(万元)"].to_numpy(dtype=float))
    p = weights / weights.sum()
    ids = clients["客户编号"].to_numpy()
    return lambda size: ids[rng.choice(len(ids), size=size, p=p)].tolist()


# ---------------------------------------------------------------------------
# 客户
# ---------------------------------------------------------------------------


def _company_name(rng: np.random.Generator, industry: str, region: str) -> str:
    place = REGION_PLACES[region][rng.integers(len(REGION_PLACES[region]))]
    if industry == "党政军":
        if region in MUNICIPALITIES:
            area = f"{region}市{place}"
        else:
            area = f"{region}省" if rng.random() < 0.3 else f"{place}市"
        return area + GOV_AGENCIES[rng.integers(len(GOV_AGENCIES))]
    # Companies are named after the province, the city, or nothing at all.
    roll = rng.random()
    prefix = region if roll < 0.5 else ("" if roll < 0.7 or region in MUNICIPALITIES else place)
    brand = BRAND_WORDS[rng.integers(len(BRAND_WORDS))]
    words = TRADE_WORDS[industry]
    trade = words[rng.integers(len(words))]
    if trade in INSTITUTION_WORDS:
        return f"{prefix or region}{brand}{trade}"
    return prefix + brand + trade + _draw(rng, ORG_FORMS, 1)[0]


def _unique_names(rng: np.random.Generator, industries: list[str], regions: list[str], taken: set[str]) -> list[str]:
    names = []
    for industry, region in zip(industries, regions):
        for _ in range(50):
            name = _company_name(rng, industry, region)
            if name not in taken:
                break
        else:  # crowded combination: a second legal entity of the same name
            base, k = name, 2
            while name in taken:
                name, k = f"{base}(第{k}分部)", k + 1
        taken.add(name)
        names.append(name)
    return names


def _arrears_rates(rng: np.random.Generator, size: int) -> np.ndarray:
    """Most clients pay (< 5 %); ~8 % are above 10 % and ~4 % above 20 %.
    Band sizes are exact so small registers still show the bad payers."""
    high, mid = round(0.04 * size), round(0.04 * size)
    late = round(0.08 * size)
    band = rng.permutation(np.repeat([0, 1, 2, 3], [size - late - mid - high, late, mid, high]))
    rates = np.select(
        [band == 0, band == 1, band == 2],
        [np.minimum(rng.exponential(1.2, size), 4.9), rng.uniform(5, 10, size), rng.uniform(10, 20, size)],
        rng.uniform(20, 40, size),
    )
    return rates.round(1)


def build_clients(n_clients: int, rng: np.random.Generator) -> pd.DataFrame:
    """The client register, with clean numeric columns (dirty text is added later)."""
    n = n_clients - len(REAL_CLIENTS)
    industry = _draw(rng, {k: v.weight for k, v in INDUSTRIES.items()}, n)
    region = _draw(rng, REGIONS, n)
    prof = pd.DataFrame([INDUSTRIES[i] for i in industry])

    # Size drives everything else; profit deliberately does not follow size.
    revenue = np.clip(rng.lognormal(np.log(200), 1.1, n) * prof["size"], 12, 30000).round(1)
    # Dirty text cell "1,200" below: make the number behind it really 1200.
    revenue[_position(n_clients, len(REAL_CLIENTS), 0.13) - len(REAL_CLIENTS)] = 1200.0
    size_rank = pd.Series(revenue).rank(pct=True).to_numpy()
    margin = np.clip(prof["margin"] + rng.normal(0, 6, n), -10, 35).round(1)
    it_budget = (revenue * 100 * prof["it_share"] * rng.lognormal(0, 0.35, n)).clip(lower=5).round(1)
    employees = np.maximum(20, revenue / prof["revenue_per_staff"] * rng.lognormal(0, 0.3, n)).round()
    it_staff = np.maximum(1, employees * prof["it_staff_share"] * rng.lognormal(0, 0.3, n)).round()
    growth = np.clip(prof["growth"] + rng.normal(0, 12, n), -15, 60).round(1)
    arrears = _arrears_rates(rng, n)
    slow = np.array([i in SLOW_PAYERS for i in industry])
    collection = np.clip(30 + 2.5 * arrears + 35 * slow + rng.normal(0, 12, n), 15, 180).round()
    # Large accounts complain more (more services), and so do clients in a billing dispute.
    complaints = np.clip(rng.poisson(0.6 + 1.8 * size_rank) + rng.poisson(1.5 * (arrears > 10)), 0, 12)
    executive = rng.random(n) < 0.15 + 0.45 * size_rank
    leader = rng.random(n) < 0.05 + 0.45 * size_rank
    listed = rng.random(n) < prof["listed"] * (0.3 + size_rank)
    channel = rng.random(n) < 0.95
    capital_ratio = np.where(slow, 0.03, 0.12) * rng.lognormal(0, 0.6, n)
    capital = [_nice_capital(v) for v in revenue * 100 * capital_ratio]

    generated = pd.DataFrame(
        {
            "客户名称": _unique_names(rng, industry, region, {c["客户名称"] for c in REAL_CLIENTS}),
            "行业": industry,
            "区域": region,
            "年收入": revenue,
            "利润率": margin,
            "IT预算": it_budget,
            "员工人数": employees.astype(int),
            "IT人员数": it_staff.astype(int),
            "增长率": growth,
            "欠费率": arrears,
            "回款周期": collection.astype(int),
            "投诉次数": complaints.astype(int),
            "高层关系": executive,
            "市场领先": leader,
            "上市公司": listed,
            "销售渠道": channel,
            "注册资本": capital,
        }
    )
    df = pd.concat([pd.DataFrame(REAL_CLIENTS), generated], ignore_index=True)
    df = df.rename(
        columns={
            "年收入": "年收入(百万元)",
            "利润率": "利润率(%)",
            "IT预算": "IT预算(万元)",
            "增长率": "增长率(%)",
            "欠费率": "欠费率(%)",
            "回款周期": "回款周期(天)",
            "注册资本": "注册资本(万元)",
        }
    )
    for col in ("年收入(百万元)", "利润率(%)", "IT预算(万元)", "增长率(%)", "欠费率(%)", "注册资本(万元)"):
        df[col] = df[col].astype(float)
    for col in ("员工人数", "IT人员数", "回款周期(天)", "投诉次数"):
        df[col] = df[col].astype(int)
    for col in ("高层关系", "市场领先", "上市公司", "销售渠道"):
        df[col] = df[col].astype(bool)
    df.insert(0, "客户编号", _id_list("C", len(df)))

    # Numbers behind the other two dirty text cells.
    df.loc[_position(n_clients, len(REAL_CLIENTS), 0.41), "IT预算(万元)"] = 350.0
    df.loc[_position(n_clients, len(REAL_CLIENTS), 0.77), "注册资本(万元)"] = 10000.0

    # A register has gaps: ~2 % of growth rates were never filled in (never the real entities).
    gaps = rng.choice(np.arange(len(REAL_CLIENTS), n_clients), size=round(0.02 * n), replace=False)
    df.loc[np.sort(gaps), "增长率(%)"] = np.nan

    # Relationship capability (drawn last, so the columns above keep their values): an executive
    # relationship makes our scores higher; the main competitor's are drawn around the same level.
    ours = np.clip(rng.normal(55 + 12 * executive[:, None], 14, (n, 5)), 0, 100).round()
    theirs = np.clip(rng.normal(60, 14, (n, 5)), 0, 100).round()
    real = np.array([sum(REAL_RELATIONSHIP[c["客户名称"]], ()) for c in REAL_CLIENTS], dtype=float)
    scores = np.vstack([real, np.hstack([ours, theirs])])
    for k, column in enumerate(RELATIONSHIP_COLUMNS):
        df[column] = scores[:, k].astype(int)
    return df[CLIENT_COLUMNS]


def _client_text_cells(n_clients: int) -> list[tuple[int, str, str]]:
    """(row, column, text) of the numbers typed as text in 客户."""
    fixed = len(REAL_CLIENTS)
    return [
        (_position(n_clients, fixed, 0.13), "年收入(百万元)", "1,200"),
        (_position(n_clients, fixed, 0.41), "IT预算(万元)", " 350 "),
        (_position(n_clients, fixed, 0.77), "注册资本(万元)", "10,000"),
    ]


# ---------------------------------------------------------------------------
# 合同
# ---------------------------------------------------------------------------

# Contracts of the real entities, hand-written from the documents. The 中国银联 circuit
# lease is the "2,000,000 CNY in nine months" client; xyz投资公司 is the big order with
# an extra discount that thinned the margin.
REAL_CONTRACTS = [
    ("C0001", "中国银联18家分公司数字电路租用", "数字电路", 200.0, 5.0, 32.0, True, True, False, "G", "2025-03-18"),
    ("C0001", "中国银联张江-北京数据中心互联端口", "数据端口", 960.0, 8.0, 27.5, False, False, True, "E", "2026-09-15"),
    ("C0002", "上海期货交易所会员单位互联网专线", "互联网专线", 86.0, 3.0, 35.0, True, True, False, "G", "2025-06-10"),
    ("C0003", "海通证券营业部数字电路改造", "数字电路", 420.0, 6.0, 30.0, True, False, False, "F", "2026-10-30"),
    ("C0004", "工商银行上海分行网点语音专线", "语音", 58.0, 2.0, 24.0, True, True, False, "G", "2025-09-22"),
    ("C0005", "通用汽车(中国)IDC机柜托管", "IDC", 650.0, 12.0, 22.0, False, True, False, "D", "2026-08-20"),
    ("C0006", "某省海关电子口岸系统集成", "系统集成", 2800.0, 9.0, 14.0, False, False, True, "C", "2026-12-10"),
    ("C0007", "xyz投资公司办公网专线及系统集成", "系统集成", 1500.0, 30.0, 2.0, False, False, False, "G", "2025-11-05"),
]


def _sign_dates(rng: np.random.Generator, stages: list[str]) -> list[date]:
    """Signed contracts (G) carry their signing day; open proposals their expected one."""
    dates = []
    for stage in stages:
        if stage == "G":
            start, days = date(2025, 1, 2), (date(2026, 11, 20) - date(2025, 1, 2)).days
        else:
            start, days = date(2026, 1, 5), (date(2026, 12, 31) - date(2026, 1, 5)).days
        day = start + timedelta(days=int(rng.integers(days + 1)))
        while day.weekday() >= 5:  # contracts are signed on working days
            day -= timedelta(days=1)
        dates.append(day)
    return dates


def build_contracts(clients: pd.DataFrame, n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    fixed = pd.DataFrame(REAL_CONTRACTS, columns=CONTRACT_COLUMNS[1:])
    fixed["签约日期"] = pd.to_datetime(fixed["签约日期"]).dt.date
    n = n_rows - len(fixed)

    client_ids = _client_picker(rng, clients)(n)
    info = clients.set_index("客户编号")
    budget = info.loc[client_ids, "IT预算(万元)"].to_numpy()
    btype = _draw(rng, BUSINESS_TYPES, n)
    # Bigger IT budgets buy bigger contracts; most land in 5..800 万元, a tail to 5000.
    scale = (budget / np.median(clients["IT预算(万元)"])) ** 0.35
    amount = rng.lognormal(np.log(60), 1.0, n) * np.array([TYPE_AMOUNT_FACTOR[t] for t in btype]) * scale
    amount = np.clip(amount, 5, 5000).round(1)
    # Most discounts are within 10 %; big orders are more often pushed beyond it.
    deep = rng.random(n) < 0.10 + 0.25 * (amount > 500)
    discount = np.where(deep, rng.uniform(10, 35, n), rng.uniform(0, 10, n))
    discount = np.where(~deep & (rng.random(n) < 0.15), 0.0, discount).round(1)
    margin = np.array([TYPE_MARGIN[t] for t in btype]) - 0.7 * discount + rng.normal(0, 6, n)
    margin = np.clip(margin, -5, 45).round(1)
    # Integration work and large amounts rarely fit the standard templates.
    p_standard = np.where(np.array(btype) == "系统集成", 0.35, 0.80) - 0.30 * (amount > 800)
    standard_contract = rng.random(n) < p_standard
    standard_solution = rng.random(n) < np.where(standard_contract, 0.85, 0.35)
    changed = rng.random(n) < 0.10
    stages = _draw(rng, SALES_STAGES, n)
    names = [_short_name(info.at[c, "客户名称"]) for c in client_ids]
    titles = [PROJECT_TEMPLATES[t][rng.integers(len(PROJECT_TEMPLATES[t]))].format(n=nm) for t, nm in zip(btype, names)]

    generated = pd.DataFrame(
        {
            "客户编号": client_ids,
            "项目名称": titles,
            "业务类型": btype,
            "合同金额(万元)": amount,
            "折扣率(%)": discount,
            "毛利率(%)": margin,
            "标准合同": standard_contract,
            "标准方案": standard_solution,
            "方案变更": changed,
            "销售阶段": stages,
            "签约日期": _sign_dates(rng, stages),
        }
    )
    df = pd.concat([fixed, generated], ignore_index=True)
    df["签约日期"] = pd.to_datetime(df["签约日期"])
    df.insert(0, "合同编号", _id_list("HT2026-", len(df)))

    # Deliberate data errors for the demo (see module docstring).
    for row, col, value in _contract_errors(len(df)):
        if not pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].astype(object)  # a number column now holds one text cell
        df.loc[row, col] = value
    return df[CONTRACT_COLUMNS]


def _contract_errors(n_rows: int) -> list[tuple[int, str, str]]:
    fixed = len(REAL_CONTRACTS)
    return [
        (_position(n_rows, fixed, 0.23), "合同金额(万元)", "1,2O0"),  # letter O typed for zero
        (_position(n_rows, fixed, 0.47), "折扣率(%)", "N/A"),
        (_position(n_rows, fixed, 0.71), "客户编号", "C9999"),  # no such client
    ]


# ---------------------------------------------------------------------------
# 方案申请
# ---------------------------------------------------------------------------

# Requests from the documents' entities, one per routing path worth showing.
REAL_REQUESTS = [
    # 中国银联: major one-stop data-centre interconnect, resources not yet confirmed.
    dict(
        客户编号="C0001",
        需求名称="中国银联张江-北京数据中心互联",
        业务类型="数据端口",
        带宽=1000.0,
        项目规模="大型",
        成熟方案=False,
        违反组网原则=False,
        方案争议=False,
        新业务=False,
        资源已确认=False,
        需要施工=True,
        重大项目=True,
        一站式服务=True,
        维护要求高于标准=True,
        施工范围="两端",
    ),
    dict(
        客户编号="C0002",
        需求名称="上海期货交易所行情发布2M数字电路",
        业务类型="数字电路",
        带宽=2.0,
        项目规模="常规",
        成熟方案=True,
        违反组网原则=False,
        方案争议=False,
        新业务=False,
        资源已确认=True,
        需要施工=False,
        重大项目=False,
        一站式服务=False,
        维护要求高于标准=False,
    ),
    dict(
        客户编号="C0006",
        需求名称="某省海关电子口岸新业务专网",
        业务类型="其他",
        带宽=10.0,
        项目规模="综合",
        成熟方案=False,
        违反组网原则=False,
        方案争议=False,
        新业务=True,
        资源已确认=True,
        需要施工=True,
        重大项目=True,
        一站式服务=False,
        维护要求高于标准=False,
        施工范围="局端",
    ),
    # A low-speed (64K) circuit requested as one-stop service: goes to the department manager.
    dict(
        客户编号="C0007",
        需求名称="xyz投资公司64K低速电路",
        业务类型="数字电路",
        带宽=0.064,
        项目规模="常规",
        成熟方案=True,
        违反组网原则=False,
        方案争议=False,
        新业务=False,
        资源已确认=True,
        需要施工=False,
        重大项目=False,
        一站式服务=True,
        维护要求高于标准=False,
    ),
]


def build_requests(clients: pd.DataFrame, n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    fixed = pd.DataFrame(REAL_REQUESTS).rename(columns={"带宽": "带宽(Mbps)"})
    n = n_rows - len(fixed)

    client_ids = _client_picker(rng, clients)(n)
    names = clients.set_index("客户编号").loc[client_ids, "客户名称"].map(_short_name).tolist()
    btype = _draw(rng, REQUEST_TYPES, n)
    bandwidth = [float(_draw(rng, BANDWIDTHS[t], 1)[0]) for t in btype]
    titles = [
        REQUEST_TEMPLATES[t][rng.integers(len(REQUEST_TEMPLATES[t]))].format(n=nm, bw=_bandwidth_label(bw))
        for t, nm, bw in zip(btype, names, bandwidth)
    ]
    # Integration is rarely a routine job.
    scale = [
        _draw(rng, {"常规": 35, "综合": 40, "大型": 25} if t == "系统集成" else PROJECT_SCALES, 1)[0] for t in btype
    ]
    scale_arr = np.array(scale)
    routine = scale_arr == "常规"
    new_business = rng.random(n) < np.where(np.array(btype) == "其他", 0.40, 0.06)
    mature = (rng.random(n) < np.where(routine, 0.88, 0.50)) & ~new_business
    major = rng.random(n) < np.select([scale_arr == "大型", scale_arr == "综合"], [0.50, 0.15], 0.04)

    generated = pd.DataFrame(
        {
            "客户编号": client_ids,
            "需求名称": titles,
            "业务类型": btype,
            "带宽(Mbps)": bandwidth,
            "项目规模": scale,
            "成熟方案": mature,
            "违反组网原则": rng.random(n) < 0.05,
            "方案争议": rng.random(n) < 0.05,
            "新业务": new_business,
            "资源已确认": rng.random(n) < 0.85,
            "需要施工": rng.random(n) < np.where(routine, 0.13, 0.35),
            "重大项目": major,
            "一站式服务": rng.random(n) < np.where(major, 0.40, 0.10),
            "维护要求高于标准": rng.random(n) < 0.10,
        }
    )
    # Who sets up the construction (drawn last, so the columns above keep their values): the
    # user side (用户端), the network side (局端) or both.
    side = np.array(_draw(rng, {"用户端": 45, "局端": 35, "两端": 20}, n), dtype=object)
    generated["施工范围"] = np.where(generated["需要施工"], side, None)
    df = pd.concat([fixed, generated], ignore_index=True)
    df.insert(0, "申请编号", _id_list("FA2026-", len(df)))
    # Deliberate data error: a one-stop request whose 重大项目 was left empty (the glossary requires it).
    row = _request_error_row(len(df))
    df["重大项目"] = df["重大项目"].astype(object)
    df.loc[row, ["一站式服务", "重大项目"]] = [True, None]
    return df[REQUEST_COLUMNS]


def _request_error_row(n_rows: int) -> int:
    return _position(n_rows, len(REAL_REQUESTS), 0.59)


# ---------------------------------------------------------------------------
# SLA订单
# ---------------------------------------------------------------------------

# 中国银联 is close to its A-level cap; one of its A requests comes without a backup
# circuit; xyz投资公司 asks for A although its revenue cannot pay the A price (x2).
REAL_SLA_ORDERS = [
    ("C0001", "本地DDN", False, "A", True, 6800.0, 16800.0),
    ("C0001", "本地DDN", True, "A", False, 5200.0, 9800.0),
    ("C0002", "数字电路", False, "B", False, 2400.0, 5200.0),
    ("C0007", "以太网专线", False, "A", True, 3500.0, 6000.0),
]


def build_sla_orders(clients: pd.DataFrame, n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    fixed = pd.DataFrame(
        REAL_SLA_ORDERS,
        columns=["客户编号", "电路类型", "需接入层施工", "申请等级", "备用电路", "标准SLA价格(元/月)", "月收入(元)"],
    )
    n = n_rows - len(fixed)

    # A-level circuits a client already holds: a property of the client, not of the order.
    size_rank = clients["年收入(百万元)"].rank(pct=True).to_numpy()
    held_a = np.clip(rng.poisson(0.3 + 3.0 * size_rank), 0, 8)
    held_a[clients["客户编号"] == "C0001"] = 6
    held_a = dict(zip(clients["客户编号"], held_a.astype(int)))

    client_ids = _client_picker(rng, clients)(n)
    industry = clients.set_index("客户编号").loc[client_ids, "行业"].to_numpy()
    circuit = _draw(rng, CIRCUIT_TYPES, n)
    access_work = rng.random(n) < 0.25
    # Finance and government ask for A more often; overall about 20 % A, 40 % B, 40 % C.
    p_a = np.where(np.isin(industry, ["金融", "党政军"]), 0.30, 0.16)
    roll = rng.random(n)
    level = np.where(roll < p_a, "A", np.where(roll < p_a + (1 - p_a) / 2, "B", "C"))
    backup = rng.random(n) < np.select([level == "A", level == "B"], [0.85, 0.30], 0.10)
    median = np.array([SLA_PRICE_MEDIAN[c] for c in circuit])
    price = (np.clip(median * rng.lognormal(0, 0.45, n) * (1 + 0.3 * access_work), 800, 20000) / 50).round() * 50
    # Revenue is 1x..4x the standard price. Clients asking for A pay a premium, yet at
    # coefficient 2 a good share of A orders still leave the front end no margin.
    markup = np.where(level == "A", 2.6, 2.0)
    revenue = (price * markup * rng.lognormal(0, 0.35, n) / 10).round() * 10

    generated = pd.DataFrame(
        {
            "客户编号": client_ids,
            "电路类型": circuit,
            "需接入层施工": access_work,
            "申请等级": level,
            "备用电路": backup,
            "标准SLA价格(元/月)": price,
            "月收入(元)": revenue,
        }
    )
    df = pd.concat([fixed, generated], ignore_index=True)
    df.insert(0, "订单编号", _id_list("SLA2026-", len(df)))
    df["客户已有A级数量"] = df["客户编号"].map(held_a).astype(int)
    df["申请等级"] = df["申请等级"].astype(object)

    # Some orders were filed without a requested level (~2 %).
    gaps = rng.choice(np.arange(len(fixed), len(df)), size=round(0.02 * n), replace=False)
    df.loc[np.sort(gaps), "申请等级"] = None
    return df[SLA_COLUMNS]


# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------


def build_frames(n_clients: int = DEFAULT_CLIENTS, seed: int = SEED) -> dict[str, pd.DataFrame]:
    """All four sheets, keyed by sheet name, columns in workbook order."""
    if n_clients < MIN_CLIENTS:
        raise ValueError(f"n_clients must be at least {MIN_CLIENTS}, got {n_clients}")
    # One stream per sheet: changing how one sheet is drawn leaves the others alone.
    r_clients, r_contracts, r_requests, r_sla = np.random.default_rng(seed).spawn(4)

    clients = build_clients(n_clients, r_clients)
    contracts = build_contracts(clients, _scaled_rows(SHEET_CONTRACTS, n_clients), r_contracts)
    requests = build_requests(clients, _scaled_rows(SHEET_REQUESTS, n_clients), r_requests)
    sla = build_sla_orders(clients, _scaled_rows(SHEET_SLA, n_clients), r_sla)

    # The other sheets were drawn from clean numbers; only now type some of them as text.
    dirty_clients = clients.copy()
    for row, col, text in _client_text_cells(n_clients):
        dirty_clients[col] = dirty_clients[col].astype(object)
        dirty_clients.loc[row, col] = text

    frames = {SHEET_CLIENTS: dirty_clients, SHEET_CONTRACTS: contracts, SHEET_REQUESTS: requests, SHEET_SLA: sla}
    recorded, _ = _recorded_plan(frames, seed)
    for sheet, (column, _output) in RECORDED_COLUMNS.items():
        frames[sheet] = frames[sheet].assign(**{column: recorded[sheet]})
    return frames


def dirty_cells(frames: dict[str, pd.DataFrame]) -> list[tuple[str, str, str, object]]:
    """(sheet, row id, column, value) of every deliberate data error and empty cell,
    for reports and tests. Empty cells have value None."""
    clients, contracts = frames[SHEET_CLIENTS], frames[SHEET_CONTRACTS]
    out = [(SHEET_CLIENTS, clients.at[r, "客户编号"], c, v) for r, c, v in _client_text_cells(len(clients))]
    out += [(SHEET_CONTRACTS, contracts.at[r, "合同编号"], c, v) for r, c, v in _contract_errors(len(contracts))]
    requests = frames[SHEET_REQUESTS]
    out.append((SHEET_REQUESTS, requests.at[_request_error_row(len(requests)), "申请编号"], "重大项目", None))
    for sheet, key, col in ((SHEET_CLIENTS, "客户编号", "增长率(%)"), (SHEET_SLA, "订单编号", "申请等级")):
        df = frames[sheet]
        out += [(sheet, df.at[i, key], col, None) for i in df.index[df[col].isna()]]
    return out


# ---------------------------------------------------------------------------
# Recorded decisions (what `kade check` compares with the rules)
# ---------------------------------------------------------------------------

# Per sheet: the column that records a decision people took, and the decision output
# it records (the glossary's `records` column says the same).
RECORDED_COLUMNS = {
    SHEET_CLIENTS: ("现有等级", "client_tier"),
    SHEET_CONTRACTS: ("审批人级别", "required_approver"),
    SHEET_REQUESTS: ("实际设计单位", "route"),
    SHEET_SLA: ("销售等级", "sla_tier"),
}
VIOLATION_SHARE = 0.04  # of each sheet's generated rows: recorded differently from the rules
MISSING_SHARE = 0.01  # left empty
SENIOR_SIGNER_SHARE = 0.05  # contracts signed by an approver above the required one (allowed)
APPROVERS = SHEET_CONTRACTS  # the recorded decision that is a minimum: above it is fine
SLA_SOLD = SHEET_SLA  # the recorded decision that is a maximum (glossary compare: at most): below it is fine
LOWER_SLA_SHARE = 0.03  # SLA orders sold below the decided level (allowed)

# The stories: (sheet, row id, recorded value, kind, what happened). Row ids of the real
# entities are fixed, so these never move; the generator stops if the rules no longer
# make a story what it says it is.
NAMED_CASES = [
    (
        SHEET_CONTRACTS,
        "HT2026-0006",
        "bu_manager",
        "violation",
        "650 万 IDC contract, over the BU limit, signed by the BU manager",
    ),
    (
        SHEET_CONTRACTS,
        "HT2026-0007",
        "bg_gm",
        "violation",
        "2,800 万 customs integration signed by the BG GM instead of the group KA manager",
    ),
    (
        SHEET_CONTRACTS,
        "HT2026-0008",
        "bu_manager",
        "violation",
        "xyz's 1,500 万 order with a 30 % discount signed by a BU manager",
    ),
    (
        SHEET_CONTRACTS,
        "HT2026-0001",
        "bg_gm",
        "senior",
        "UnionPay circuit lease signed by the BG GM: more senior than required, allowed",
    ),
    (SHEET_SLA, "SLA2026-0002", "A", "violation", "A-level SLA sold without a backup circuit"),
    (SHEET_SLA, "SLA2026-0001", "A", "violation", "A-level SLA sold although UnionPay is over its A-level cap"),
    (
        SHEET_REQUESTS,
        "FA2026-0003",
        "technical_office",
        "violation",
        "customs new-business request not sent to the chief engineer",
    ),
    (SHEET_CLIENTS, "C0007", "gold", "violation", "xyz listed as a key account because it placed a big order"),
]


class RecordedCase(NamedTuple):
    sheet: str
    key: str  # the row id (客户编号, 合同编号, ...)
    column: str  # the recorded column
    recorded: str | None  # None: left empty
    required: str  # what the shipped rules decide
    kind: str  # "violation", "missing", "senior" (an approver above the required one) or "lower" (an SLA sold below the decided one): the last two are allowed
    story: str


def recorded_cases(frames: dict[str, pd.DataFrame], seed: int = SEED) -> list[RecordedCase]:
    """Every recorded value planted to differ from the rules, for reports and tests:
    `kade check` must report each "violation" and "missing" case and nothing else
    (the "senior" and "lower" cases are allowed and must not be reported)."""
    return _recorded_plan(frames, seed)[1]


def _decided(frames: dict[str, pd.DataFrame]) -> tuple[dict[str, np.ndarray], dict[str, tuple]]:
    """Per sheet the output its recorded column records, as the shipped rules decide
    it (None where the row's decision is in error), and that output's allowed values."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import engine

    rules = engine.load_rules(RULES)
    sheets = [engine.Sheet(name, df.astype(object).where(df.notna(), None)) for name, df in frames.items()]
    evaluation = engine.evaluate_sheets(rules, sheets, reasons=False)
    decided, allowed = {}, {}
    for sheet, (_column, output) in RECORDED_COLUMNS.items():
        table = rules.producer(output)
        result = evaluation.results[table.name]
        values = result.outputs[output].values.astype(object)
        values[~result.ok] = None
        decided[sheet] = values
        allowed[sheet] = next(c.allowed_values for c in table.outputs if c.name == output)
    return decided, allowed


def _story_rows(
    frames: dict[str, pd.DataFrame], decided: dict[str, np.ndarray]
) -> list[tuple[str, int, str, str, str]]:
    """(sheet, row, recorded value, kind, story) of the named cases, plus two found in
    the generated rows: the first client the rules make silver, listed as platinum,
    and the first new-business request, sent to the support department."""
    keys = {sheet: pd.Index(df.iloc[:, 0]) for sheet, df in frames.items()}
    rows = [
        (sheet, int(keys[sheet].get_loc(key)), value, kind, story) for sheet, key, value, kind, story in NAMED_CASES
    ]
    generated = np.arange(len(frames[SHEET_CLIENTS])) >= len(REAL_CLIENTS)
    silver = np.flatnonzero(generated & (decided[SHEET_CLIENTS] == "silver"))
    if len(silver):
        rows.append(
            (
                SHEET_CLIENTS,
                int(silver[0]),
                "platinum",
                "violation",
                "a client the rules make silver, listed as platinum",
            )
        )
    requests = frames[SHEET_REQUESTS]
    new_business = np.flatnonzero(
        (np.arange(len(requests)) >= len(REAL_REQUESTS))
        & requests["新业务"].to_numpy(dtype=bool)
        & (decided[SHEET_REQUESTS] == "chief_engineer")
    )
    if len(new_business):
        rows.append(
            (
                SHEET_REQUESTS,
                int(new_business[0]),
                "support_dept",
                "violation",
                "a new-business request sent to the support department",
            )
        )
    return rows


PRACTICE_AMOUNT, PRACTICE_DISCOUNT = 80, 8  # the policy (CA-01) says 50 万 and 5 %
PRACTICE_STORY = (
    f"practice: the account manager signs standard contracts up to {PRACTICE_AMOUNT} 万 with a discount under "
    f"{PRACTICE_DISCOUNT} % (the policy, CA-01: 50 万 and 5 %)"
)


def _account_manager_practice(contracts: pd.DataFrame, decided: np.ndarray, first: int) -> np.ndarray:
    """Generated contracts on a standard template and solution, up to PRACTICE_AMOUNT 万
    with a discount under PRACTICE_DISCOUNT %, that the rules give the industry
    manager: in practice the account manager signed them. A known, documented
    departure from the policy for `kade rules learn` to recover."""
    amount = pd.to_numeric(contracts["合同金额(万元)"], errors="coerce").to_numpy(dtype=float)
    discount = pd.to_numeric(contracts["折扣率(%)"], errors="coerce").to_numpy(dtype=float)
    standard = (contracts["标准合同"] == True).to_numpy() & (contracts["标准方案"] == True).to_numpy()  # noqa: E712
    rows = np.arange(len(contracts))
    return np.flatnonzero(
        (rows >= first)
        & standard
        & (amount <= PRACTICE_AMOUNT)
        & (discount < PRACTICE_DISCOUNT)
        & (decided == "industry_manager")
    )


def _recorded_plan(frames: dict[str, pd.DataFrame], seed: int) -> tuple[dict[str, np.ndarray], list[RecordedCase]]:
    """The recorded column of every sheet and the planted cases. Deterministic: its
    own random stream (the fifth spawned from the seed; the sheets use the first four)."""
    rng = np.random.default_rng(seed).spawn(5)[4]
    decided, allowed = _decided(frames)
    stories = _story_rows(frames, decided)
    recorded, cases = {}, []
    fixed_rows = {
        SHEET_CLIENTS: len(REAL_CLIENTS),
        SHEET_CONTRACTS: len(REAL_CONTRACTS),
        SHEET_REQUESTS: len(REAL_REQUESTS),
        SHEET_SLA: len(REAL_SLA_ORDERS),
    }
    for sheet, (column, _output) in RECORDED_COLUMNS.items():
        values, ranks = decided[sheet], list(allowed[sheet])
        rank = pd.Series(values, dtype=object).map({v: i for i, v in enumerate(ranks)}).fillna(-1).to_numpy(dtype=int)
        out = values.copy()
        # a row whose decision is in error was still recorded by someone: the middle level
        out[rank < 0] = ranks[len(ranks) // 2]
        named = {row: (value, kind, story) for s, row, value, kind, story in stories if s == sheet}
        planted: dict[int, tuple[str | None, str]] = {row: (value, story) for row, (value, _, story) in named.items()}
        n = len(values)
        if sheet == APPROVERS:  # the practice that departs from the written policy (kade rules learn finds it)
            practised = _account_manager_practice(frames[sheet], values, fixed_rows[sheet])
            planted.update({int(r): ("account_manager", PRACTICE_STORY) for r in practised if r not in planted})
        free = np.arange(fixed_rows[sheet], n)
        free = free[(rank[free] >= 0) & ~np.isin(free, list(planted))]
        order = rng.permutation(free)
        lowest = len(ranks) - 1
        if sheet == APPROVERS:  # a violation is a lower rank: the row must have one below it
            can_violate = rank[order] < lowest
        elif sheet == SLA_SOLD:  # a violation is a higher rank: the row must have one above it
            can_violate = rank[order] > 0
        else:
            can_violate = np.ones(len(order), bool)
        violations = order[can_violate][: round(VIOLATION_SHARE * n)]
        rest = order[~np.isin(order, violations)]
        missing, rest = rest[: round(MISSING_SHARE * n)], rest[round(MISSING_SHARE * n) :]
        if sheet == APPROVERS:  # a lower-ranked approver (a larger index) signed
            wrong = rank[violations] + rng.integers(1, lowest - rank[violations] + 1)
            senior = rest[rank[rest] > 0][: round(SENIOR_SIGNER_SHARE * n)]
            above = rank[senior] - rng.integers(1, rank[senior] + 1)
            planted.update(
                {
                    int(r): (ranks[a], "signed by a more senior approver than required (allowed)")
                    for r, a in zip(senior, above)
                }
            )
        elif sheet == SLA_SOLD:  # a higher level (a smaller index) sold than the rules allow
            wrong = rank[violations] - rng.integers(1, rank[violations] + 1)
            lower = rest[rank[rest] < lowest][: round(LOWER_SLA_SHARE * n)]
            below = rank[lower] + rng.integers(1, lowest - rank[lower] + 1)
            planted.update(
                {int(r): (ranks[b], "sold below the level the rules allow (allowed)") for r, b in zip(lower, below)}
            )
        else:  # any other value
            wrong = (rank[violations] + rng.integers(1, len(ranks), len(violations))) % len(ranks)
        planted.update({int(r): (ranks[w], "recorded differently from the rules") for r, w in zip(violations, wrong)})
        planted.update({int(r): (None, "left empty") for r in missing})
        keys = frames[sheet].iloc[:, 0].to_numpy()
        for row in sorted(planted):
            value, story = planted[row]
            out[row] = value
            if value is None:
                kind = "missing"
            elif sheet == APPROVERS and ranks.index(value) < rank[row]:
                kind = "senior"
            elif sheet == SLA_SOLD and ranks.index(value) > rank[row]:
                kind = "lower"
            else:
                kind = "violation"
            if row in named and (named[row][1] != kind or value == values[row]):
                raise ValueError(
                    f"{sheet} {keys[row]}: the story '{story}' needs a {named[row][1]} case, but the rules "
                    f"in {RULES} decide {values[row]!r}; update NAMED_CASES"
                )
            cases.append(RecordedCase(sheet, keys[row], column, value, values[row], kind, story))
        recorded[sheet] = out
    return recorded, cases


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _display_width(text: str) -> int:
    """Column width in Excel units: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _as_text(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if isinstance(value, (datetime, date)):
        return "yyyy-mm-dd"
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def _is_blank(value) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, (float, np.floating)) and np.isnan(value)


def _write_cell(ws, row: int, col: int, value, date_format) -> None:
    if _is_blank(value):
        return  # an empty cell, as a person leaves it
    if isinstance(value, (bool, np.bool_)):  # before numbers: bool is an int in Python
        ws.write_string(row, col, "是" if value else "否")
    elif isinstance(value, (datetime, date)):
        ws.write_datetime(row, col, value, date_format)
    elif isinstance(value, (int, float, np.integer, np.floating)):
        ws.write_number(row, col, value.item() if isinstance(value, np.generic) else value)
    else:
        ws.write_string(row, col, str(value))


def write_workbook(frames: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """Write `frames` with xlsxwriter, atomically: a reader never sees half a file."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        # Text stays text ("1,200", "N/A"): no guessing of numbers, formulas or links.
        wb = xlsxwriter.Workbook(
            tmp, {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
        )
        # A fixed creation time keeps the file byte-for-byte reproducible.
        wb.set_properties({"title": "大客户样例数据", "created": datetime(2026, 11, 25)})
        header_format = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
        for sheet, df in frames.items():
            ws = wb.add_worksheet(sheet)
            for c, name in enumerate(df.columns):
                ws.write_string(0, c, str(name), header_format)
            for r, values in enumerate(df.itertuples(index=False, name=None), start=1):
                for c, value in enumerate(values):
                    if isinstance(value, pd.Timestamp):
                        value = value.to_pydatetime()
                    _write_cell(ws, r, c, value, date_format)
            for c, name in enumerate(df.columns):
                cells = [_display_width(_as_text(v)) for v in df[name] if not _is_blank(v)]
                width = max([_display_width(str(name)) + 3, *cells])  # +3: the filter arrow
                ws.set_column(c, c, min(width + 1, 50))
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, len(df), len(df.columns) - 1)
        wb.close()
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _file_mode(path: Path) -> int:
    """Keep the mode of the file we replace; otherwise the usual umask-derived one
    (mkstemp makes 0600 files, which other users could not read)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the sample key-account workbook.")
    parser.add_argument(
        "-o", "--output", type=Path, default=DEFAULT_OUTPUT, help=f"output .xlsx (default: {DEFAULT_OUTPUT})"
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=DEFAULT_CLIENTS,
        help=f"number of clients, at least {MIN_CLIENTS} (default: {DEFAULT_CLIENTS})",
    )
    args = parser.parse_args(argv)
    if args.clients < MIN_CLIENTS:
        parser.error(f"--clients must be at least {MIN_CLIENTS}")

    frames = build_frames(args.clients)
    written = write_workbook(frames, args.output)
    counts = ", ".join(f"{name} {len(df)}" for name, df in frames.items())
    print(f"wrote {written} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
