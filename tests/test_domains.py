"""Input domains, required inputs and computed glossary values: read from the
glossary, enforced when a register is bound (both engines), respected by
`kade rules check`, kept by Tests sheets and the DMN round trip."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

import pytest

import engine
from engine.analysis.rules_check import check_ruleset
from engine.analysis.testsheets import run_tests
from engine.dmn.export import export_dmn
from engine.dmn.loader import load_dmn
from engine.dmn.xml import DMN15, KADE_NS
from engine.errors import RuleError
from engine.evaluation.durable import availability
from engine.model.show import render_ruleset
from tests.workbook_factory import write_data, write_decision_sheets

D = f"{{{DMN15}}}"
# the domain is the "allowed values" column; Chinese headers work as well
HEADER = [
    "variable",
    "entity",
    "column header",
    "type",
    "domain",
    "label",
    "description",
    "records",
    "compare",
    "必填",
    "计算",
]
ENTITIES = [["entity", "sheet", "key", "parent", "link"], ["clients", "客户", "client_id", None, None]]


def glossary(*, revenue_domain=">= 0", required="是", computed="average of band_points over bands"):
    return [
        ("client_id", "clients", "客户编号", "string", "", "", "", "", "", "", ""),
        ("revenue", "clients", "年收入", "number", revenue_domain, "revenue", "", "", "", required, ""),
        ("flag", "clients", "重点", "boolean", "", "key client", "", "", "", required, ""),
        ("band", "clients", "档次", "string", "A, B", "band", "", "", "", "", ""),
        ("band_points", "clients", "", "number", "", "band points", "decision output", "", "", "", ""),
        ("cutoff", "clients", "", "number", "", "band cut-off", "average band points", "", "", "", computed),
    ]


TABLES = [
    (
        "bands",
        "clients",
        "U",
        [("input", "band"), ("output", "band_points")],
        [("B1", '"A"', "10", ""), ("B2", '"B"', "30", "")],
        ("default", "0"),
    ),
    (
        "big",
        "clients",
        "U",
        [("input", "band_points"), ("output", "big")],
        [("G1", ">= cutoff", "true", "at or above the average"), ("G2", "< cutoff", "false", "")],
    ),
    (
        "size",
        "clients",
        "U",
        [("input", "revenue"), ("output", "size")],
        [("S1", "[0..100)", '"small"', ""), ("S2", ">= 100", '"large"', "")],
    ),
    (
        "level",
        "clients",
        "U",
        [("input", "flag"), ("output", "level")],
        [("L1", "true", '"high"', ""), ("L2", "false", '"low"', "")],
    ),
]


def model(folder, tables=TABLES, **options):
    folder.mkdir(parents=True, exist_ok=True)
    rows = [[v if v != "" else None for v in row] for row in glossary(**options)]
    write_data(folder / "glossary.xlsx", {"Glossary": [HEADER, *rows], "Entities": ENTITIES})
    write_decision_sheets(folder / "rules.xlsx", tables)
    return folder


@pytest.fixture
def rules(tmp_path):
    return engine.load_rules(model(tmp_path / "rules"))


def register(path, rows):
    return write_data(path, {"客户": [["客户编号", "年收入", "重点", "档次"], *rows]})


# ------------------------------------------------------------ the glossary --


def test_the_glossary_reads_domain_required_and_computed(rules):
    revenue, flag, cutoff = (rules.variables[n] for n in ("revenue", "flag", "cutoff"))
    assert revenue.required and flag.required and not rules.variables["band"].required
    assert engine.feel.unary_tests_text(revenue.allowed) == ">= 0"  # the 'domain' header is the allowed values
    assert (cutoff.computed.function, cutoff.computed.output, cutoff.computed.over) == (
        "average",
        "band_points",
        "bands",
    )
    assert cutoff.value == 20  # (10 + 30) / 2: the default row is not a row of the table


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"required": "maybe"}, r"glossary\.xlsx!Glossary!J3: required of revenue must be yes or no"),
        ({"computed": "median of band_points over bands"}, r"glossary\.xlsx!Glossary!K7: a computed value reads"),
        (
            {"computed": "average of band_points over nowhere"},
            r"computed value cutoff: no decision table is called nowhere",
        ),
        ({"computed": "average of size over bands"}, r"computed value cutoff: size does not depend on bands"),
    ],
)
def test_glossary_mistakes_name_the_cell(tmp_path, options, message):
    with pytest.raises(RuleError, match=message):
        engine.load_rules(model(tmp_path / "rules", **options))


def test_a_computed_value_needs_a_lookup_table(tmp_path):
    ranged = [("bands", "clients", "U", [("input", "band"), ("output", "band_points")], [("B1", '"A", "B"', "10", "")])]
    with pytest.raises(
        RuleError, match=r"rules\.xlsx!bands!B6: computed value cutoff: rule B1 of bands must give band one value"
    ):
        engine.load_rules(model(tmp_path / "rules", tables=ranged + TABLES[1:]))


@pytest.mark.parametrize(("function", "value"), [("sum", 40), ("min", 10), ("max", 30), ("count", 2), ("平均", 20)])
def test_aggregates(tmp_path, function, value):
    rules = engine.load_rules(model(tmp_path / "rules", computed=f"{function} of band_points over bands"))
    assert rules.variables["cutoff"].value == value


# ------------------------------------------------------------ binding a register --


def test_outside_the_domain_or_empty_and_required_is_a_row_error(rules, tmp_path):
    data = register(
        tmp_path / "d.xlsx",
        [["C1", 50, "是", "A"], ["C2", -5, "否", "B"], ["C3", None, "是", "B"], ["C4", 500, None, "A"]],
    )
    for which in ("vectorized", "durable"):
        if which == "durable" and availability():
            pytest.skip(availability())
        ev = engine.evaluate(rules, engine.bind(rules, engine.read_workbook(data)), engine=which)
        frame = engine.result_frame(ev, "clients").set_index("客户编号")
        assert frame.loc["C1", "kade.errors"] is None and frame.loc["C1", "size"] == "small"
        assert (
            frame.loc["C2", "kade.errors"]
            == "年收入: -5 is outside the allowed values >= 0 (glossary glossary.xlsx!Glossary!A3)"
        )
        assert (
            frame.loc["C3", "kade.errors"]
            == "年收入: empty, but the glossary requires a value (glossary glossary.xlsx!Glossary!A3)"
        )
        assert (
            frame.loc["C4", "kade.errors"]
            == "重点: empty, but the glossary requires a value (glossary glossary.xlsx!Glossary!A4)"
        )
        # only the decisions that read the cell fail; the rest of the row is decided
        assert frame.loc["C2", "size"] is None and frame.loc["C2", "level"] == "low"
        assert frame.loc["C4", "level"] is None and frame.loc["C4", "size"] == "large"
        # the computed cut-off: a column of the rows, compared in both engines, shown in the reason
        assert frame["big"].tolist() == [False, True, True, False]
        assert (
            frame.loc["C2", "big.reason"]
            == "band points 30 ≥ band cut-off 20 → true (rule G1: at or above the average)"
        )


def test_the_same_rules_without_required_let_empty_cells_through(tmp_path):
    rules = engine.load_rules(model(tmp_path / "rules", required=""))
    data = register(tmp_path / "d.xlsx", [["C1", None, None, "A"]])
    frame = engine.result_frame(engine.evaluate_workbook(rules, data), "clients")
    assert frame["kade.errors"].tolist() == [
        "size: no rule of size matches this row and the table has no default output"
    ]


# ------------------------------------------------------------ rules check --


def test_rules_check_looks_for_gaps_inside_the_domain_only(rules):
    assert check_ruleset(rules, glossary=False).findings == []
    loose = dataclasses.replace(rules.variables["revenue"], allowed=None, required=False)
    flag = dataclasses.replace(rules.variables["flag"], required=False)
    findings = check_ruleset(
        dataclasses.replace(rules, variables={**rules.variables, "revenue": loose, "flag": flag}), glossary=False
    ).findings
    gaps = {f.decision: f.message for f in findings if f.kind == "gap"}
    assert set(gaps) == {"size", "level"}
    assert "revenue: < 0, null;" in gaps["size"] and "flag: null;" in gaps["level"]


def test_rules_check_checks_a_computed_value_as_the_number_it_is(tmp_path):
    overlapping = [
        *TABLES[:1],
        (
            "big",
            "clients",
            "U",
            [("input", "band_points"), ("output", "big")],
            [("G1", ">= cutoff", "true", ""), ("G2", "> 10", "false", "")],
        ),
    ]
    findings = check_ruleset(engine.load_rules(model(tmp_path / "rules", tables=overlapping)), glossary=False).findings
    # band points are 0, 10 or 30 (the bands table); 30 is ≥ the cut-off 20 and > 10: both rules match;
    # 0 and 10 are below the cut-off and not > 10: neither does
    assert [(f.kind, dict(f.witness)) for f in findings] == [
        ("overlap", {"band_points": 30}),
        ("gap", {"band_points": 0}),
    ]


# ------------------------------------------------------------ Tests sheets and DMN --


def test_a_test_case_that_leaves_a_required_input_empty_fails(tmp_path, write_xlsx):
    model(tmp_path / "rules")
    write_xlsx(
        "rules/tests.xlsx",
        {"Tests": [["case", "年收入", "expected size"], ["given", 50, "small"], ["empty", None, "small"]]},
    )
    run = run_tests(tmp_path / "rules")
    [passed, failed] = run.results
    assert passed.passed and not failed.passed
    assert failed.checks[0].error.startswith("年收入: empty, but the glossary requires a value")


def test_domains_required_and_computed_values_survive_the_dmn_round_trip(rules, tmp_path):
    xml = export_dmn(rules, dmn_version="1.5")
    root = ET.fromstring(xml)
    size = next(d for d in root.iter(f"{D}decision") if d.get("name") == "size")
    assert size.findtext(f"{D}decisionTable/{D}input/{D}inputValues/{D}text") == ">= 0"  # the input's domain
    meta = {i.get("name"): i.find(f"{D}extensionElements/{{{KADE_NS}}}variable") for i in root.iter(f"{D}inputData")}
    assert meta["revenue"].get("required") == "true" and meta["band"].get("required") is None
    assert meta["cutoff"].get("computed") == "average of band_points over bands"
    back = load_dmn(xml).rules
    for name in ("revenue", "flag", "band", "cutoff"):
        a, b = rules.variables[name], back.variables[name]
        assert (a.allowed, a.required, a.computed, a.value) == (b.allowed, b.required, b.computed, b.value), name
    data = register(tmp_path / "d.xlsx", [["C1", 50, "是", "A"], ["C2", -5, None, "B"]])
    frames = [engine.result_frame(engine.evaluate_workbook(r, data), "clients") for r in (rules, back)]
    strip = [f.replace(r"\(glossary [^)]*\)", "", regex=True) for f in frames]
    assert strip[0].equals(strip[1])
    assert re.search(r"\(glossary <memory>!#i_revenue\)", frames[1].loc[1, "kade.errors"])


def test_show_lists_required_and_computed_columns(rules):
    text = render_ruleset(rules)
    header = next(line for line in text.splitlines() if line.startswith("variable"))
    assert header.rstrip().endswith("required | computed")
    line = next(line for line in text.splitlines() if line.startswith("cutoff"))
    assert "average of band_points over bands = 20" in line
    assert re.search(r"^revenue .*\| yes +\|", text, re.M)
