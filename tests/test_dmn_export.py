"""Round trip: rule workbooks -> DMN (1.5 valid against OMG's schema; 1.3, the default, read
by dmn-moddle, the parser under dmn-js and Camunda Modeler) -> rule workbooks give the same tables, glossary and entities, and the DMN itself
decides the sample register exactly as the workbooks do."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import openpyxl
import pytest
import xmlschema

import engine
from engine import feel
from engine.dmn.errors import UnsupportedDmnError
from engine.dmn.export import export_dmn, write_dmn
from engine.dmn.loader import load_dmn
from engine.dmn.workbook import import_dmn, write_rule_workbook
from engine.dmn.xml import DMN15, KADE_NS

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).resolve().parent / "dmn_schema" / "DMN15.xsd"
D = f"{{{DMN15}}}"


@pytest.fixture(scope="module")
def shipped():
    return engine.load_rules(ROOT / "rules")


@pytest.fixture(scope="module")
def schema():
    return xmlschema.XMLSchema(str(SCHEMA))


@pytest.fixture(scope="module")
def exported(shipped):
    return export_dmn(shipped, dmn_version="1.5")


def assert_same_rules(a, b):
    assert a.entities == b.entities
    assert a.variables == b.variables
    assert [t.name for t in a.decisions] == [t.name for t in b.decisions]
    for ta, tb in zip(a.decisions, b.decisions):
        assert ta == tb, ta.name  # name, entity, hit policy, inputs, outputs, defaults, rules, annotations, title


# ------------------------------------------------------------- the schema ----


def test_exported_dmn_is_valid_dmn_1_5(exported, schema):
    errors = [f"{e.path}: {e.reason}" for e in schema.iter_errors(exported)]
    assert errors == []


def test_the_schema_check_is_real(exported, schema):
    broken = exported.replace(
        b'<decisionTable id="dt_client_tier"', b'<decisionTable id="dt_client_tier" hitPolicy="SOMETIMES"', 1
    )
    broken = re.sub(rb'hitPolicy="SOMETIMES" hitPolicy="[A-Z ]+"', b'hitPolicy="SOMETIMES"', broken)
    assert not schema.is_valid(broken)
    assert not schema.is_valid(
        exported.replace(b"<annotationEntry>", b"<annotationEntr>", 1).replace(
            b"</annotationEntry>", b"</annotationEntr>", 1
        )
    )


# ---------------------------------------------------------- what is written --


def test_the_dmn_says_what_the_workbooks_say(exported):
    root = ET.fromstring(exported)
    decisions = {d.get("name"): d for d in root.findall(f"{D}decision")}
    score = decisions["client_score"].find(f"{D}decisionTable")
    assert (score.get("hitPolicy"), score.get("aggregation")) == ("COLLECT", "SUM")
    assert decisions["required_approver"].find(f"{D}decisionTable").get("hitPolicy") == "PRIORITY"
    # a decision requires the decisions whose outputs it reads, and the input data it reads
    tier = decisions["client_tier"]
    required = {r.get("href") for r in tier.iter(f"{D}requiredDecision")}
    assert required == {"#d_client_score"}
    assert "#i_arrears_rate" in {r.get("href") for r in tier.iter(f"{D}requiredInput")}
    # another decision's output is read as the decision (single output) or a component of it
    lead = decisions["relationship_lead"].find(f"{D}decisionTable")
    outputs = [r.findtext(f"{D}outputEntry/{D}text") for r in lead.findall(f"{D}rule")]
    assert outputs == ["relationship_capability.our_relationship - relationship_capability.rival_relationship"]
    margin = decisions["front_end_margin"].find(f"{D}decisionTable/{D}rule/{D}outputEntry/{D}text")
    assert margin.text == "monthly_revenue - sla_terms.sla_price"
    # glossary: input data with types, allowed values in item definitions, kade's columns in extensions
    industry = next(i for i in root.findall(f"{D}inputData") if i.get("name") == "industry")
    assert industry.find(f"{D}variable").get("typeRef") == "t_industry"
    assert industry.find(f"{D}extensionElements/{{{KADE_NS}}}variable").get("headers") == "行业"
    item = next(i for i in root.findall(f"{D}itemDefinition") if i.get("name") == "t_industry")
    assert item.findtext(f"{D}allowedValues/{D}text").startswith('"金融", "党政军"')
    # rules keep their ids as labels and their annotations
    rule = tier.find(f"{D}decisionTable/{D}rule")
    assert rule.get("label") == "CT-01" and "not reachable" in rule.findtext(f"{D}annotationEntry/{D}text")
    assert len(root.findall(f"{D}extensionElements/{{{KADE_NS}}}model/{{{KADE_NS}}}entity")) == 4


def test_the_dmn_has_a_diagram_of_its_requirements(exported):
    root = ET.fromstring(exported)
    dmndi = "{https://www.omg.org/spec/DMN/20230324/DMNDI/}"
    shapes = {s.get("dmnElementRef") for s in root.iter(f"{dmndi}DMNShape")}
    edges = {e.get("dmnElementRef") for e in root.iter(f"{dmndi}DMNEdge")}
    assert shapes == {e.get("id") for e in root if e.tag in (f"{D}decision", f"{D}inputData")}
    assert edges == {r.get("id") for r in root.iter(f"{D}informationRequirement")}


# ------------------------------------------------------------- round trip ----


def test_dmn_loads_back_to_the_same_rules(shipped, exported):
    assert_same_rules(shipped, load_dmn(exported).rules)


@pytest.mark.parametrize("version", ["1.3", "1.4", "1.5"])
def test_excel_to_dmn_to_excel_gives_the_same_tables(shipped, tmp_path, version):
    dmn = write_dmn(shipped, tmp_path / "kade.dmn", dmn_version=version)
    assert load_dmn(dmn).version == version
    (tmp_path / "back").mkdir()  # a folder of its own: a lone workbook also reads its siblings' glossaries
    summary = import_dmn(dmn, tmp_path / "back" / "rules.xlsx")
    assert summary.renamed == {} and len(summary.decisions) == len(shipped.decisions)
    assert_same_rules(shipped, engine.load_rules(summary.path))


def test_the_dmn_decides_the_register_as_the_workbooks_do(shipped, exported):
    from_dmn = load_dmn(exported).rules
    register = ROOT / "workbooks" / "key_accounts.xlsx"
    a = engine.evaluate_workbook(shipped, register)
    b = engine.evaluate_workbook(from_dmn, register)

    def same_rows(frame):  # a row error cites the glossary where the rules came from: the workbook or the .dmn
        return frame.replace(r"\(glossary [^)]*\)", "(glossary)", regex=True)

    cited = 0
    for entity in ("clients", "contracts", "solution_requests", "sla_orders"):
        fa, fb = engine.result_frame(a, entity), engine.result_frame(b, entity)
        assert same_rows(fa).equals(same_rows(fb)), entity
        cited += fb.astype(str).apply(lambda c: c.str.contains("(glossary <memory>!#i_", regex=False)).to_numpy().sum()
    assert cited  # the required 重大项目 left empty on purpose in the sample


def test_round_trip_of_awkward_tables(write_xlsx, tmp_path):
    """Ids that are not XML ids, dates, quotes, negations, name comparisons,
    multi-output collect tables, defaults, a formula-looking title."""
    rules_path = write_xlsx(
        "rules/rules.xlsx",
        {
            "Glossary": [
                ["variable", "entity", "column header", "type", "allowed values", "label", "description"],
                ["金额", "orders", "金额(万元) | amount", "number", "[0..1000]", "amount", "万元"],
                ["limit", "orders", "", "number", "", "", ""],
                ["kind", "orders", "", "string", 'A, "B \\"quoted\\"", C', "", ""],
                ["signed", "orders", "", "date", "", "", ""],
                ["grade", "orders", "", "string", '"high", "low"', "", "decision output"],
            ],
            "Entities": [["entity", "sheet", "key", "parent", "link"], ["orders", "订单", "order_id", "", ""]],
            "grading": [
                ["decision", "grading"],
                ["title", "=SUM(A1) not a formula"],
                ["rows", "orders"],
                [],
                [None, "input", "input", "input", "output", "annotation"],
                ["P", "金额(万元)", "kind", "signed", "grade", "annotation"],
                ["1", "< limit", 'not("A", null)', '>= date("2026-01-31")', '"high"', 'says "why"'],
                ["规则 2", "[-5..-1]", "-", "-", '"low"', ""],
                ["default", None, None, None, '"low"', None],
            ],
            "flags": [
                ["decision", "flags"],
                [],
                [None, "input", "output", "output", "annotation"],
                ["C", "grade", "flag", "weight", "annotation"],
                ["1", '"high"', '"big"', "金额 * -1.5", ""],
                ["2", "-", '"any"', "2 ** 3 ** 2", ""],
            ],
        },
    )
    book = openpyxl.load_workbook(rules_path)  # openpyxl took the title for a formula: make it the text it is
    book["grading"]["B2"].data_type = "s"
    book.save(rules_path)
    original = engine.load_rules(rules_path)
    assert original.decision("grading").title == "=SUM(A1) not a formula"
    dmn = export_dmn(original, dmn_version="1.5")
    assert xmlschema.XMLSchema(str(SCHEMA)).is_valid(dmn)
    back = tmp_path / "back"
    back.mkdir()
    summary = write_rule_workbook(load_dmn(dmn), back / "rules.xlsx")
    assert_same_rules(original, engine.load_rules(summary.path))


# --------------------------------------------------- other DMN into Excel ---


def test_dmn_names_stay_as_they_are_in_the_workbook(tmp_path):
    tck = ROOT / "tests" / "data" / "dmn-tck" / "compliance-level-2"
    summary = import_dmn(tck / "0002-input-data-number" / "0002-input-data-number.dmn", tmp_path / "x.xlsx")
    assert summary.renamed == {}
    rules = engine.load_rules(summary.path)
    assert rules.variables["Monthly Salary"].type == "number"
    table = rules.decision("Yearly Salary")
    assert table.inputs == () and table.rules[0].outputs[0] == feel.parse_expression(
        "12 * Monthly Salary", feel.Dialect(names=feel.KnownNames(["Monthly Salary"]))
    )


def test_a_name_no_cell_could_refer_to_gets_another_with_its_dmn_name_as_header(tmp_path):
    dmn = f"""<definitions xmlns="{DMN15}" name="m" namespace="urn:m">
      <inputData id="i_a" name="Salary (monthly)"><variable name="Salary (monthly)" typeRef="number"/></inputData>
      <decision id="d" name="Yearly"><variable name="Yearly"/>
        <informationRequirement><requiredInput href="#i_a"/></informationRequirement>
        <literalExpression><text>12 * Salary (monthly)</text></literalExpression></decision></definitions>""".encode()
    summary = write_rule_workbook(load_dmn(dmn), tmp_path / "x.xlsx")
    assert summary.renamed == {"Salary (monthly)": "Salary_monthly"}
    salary = engine.load_rules(summary.path).variables["Salary_monthly"]
    assert salary.headers == ("Salary (monthly)",) and salary.label == "Salary (monthly)"


def test_literal_business_knowledge_models_are_written_inline(tmp_path):
    tck = ROOT / "tests" / "data" / "dmn-tck" / "compliance-level-2"
    summary = import_dmn(tck / "0009-invocation-arithmetic" / "0009-invocation-arithmetic.dmn", tmp_path / "x.xlsx")
    rules = engine.load_rules(summary.path)
    text = feel.expression_text(rules.decision("MonthlyPayment").rules[0].outputs[0])
    assert text == "Loan.amount * Loan.rate / 12 / (1 - (1 + Loan.rate / 12) ** -Loan.term) + fee"


def test_decision_table_business_knowledge_models_are_refused_for_workbooks(tmp_path):
    dmn = f"""<definitions xmlns="{DMN15}" name="m" namespace="urn:m">
      <inputData id="i_a" name="a"><variable name="a" typeRef="number"/></inputData>
      <businessKnowledgeModel id="b_t" name="t"><encapsulatedLogic><formalParameter name="x" typeRef="number"/>
        <decisionTable><input><inputExpression><text>x</text></inputExpression></input><output/>
          <rule><inputEntry><text>-</text></inputEntry><outputEntry><text>1</text></outputEntry></rule></decisionTable>
      </encapsulatedLogic></businessKnowledgeModel>
      <decision id="d" name="d"><variable name="d"/><informationRequirement><requiredInput href="#i_a"/></informationRequirement>
        <knowledgeRequirement><requiredKnowledge href="#b_t"/></knowledgeRequirement>
        <literalExpression><text>t(a)</text></literalExpression></decision></definitions>""".encode()
    with pytest.raises(UnsupportedDmnError, match="decision table as its body"):
        write_rule_workbook(load_dmn(dmn), tmp_path / "x.xlsx")
