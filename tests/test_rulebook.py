"""Rule workbooks: layout, glossary, malformed cells with file!sheet!cell, graph."""

from __future__ import annotations

import pandas as pd
import pytest

import engine
from engine.errors import DecisionCycleError, FeelSyntaxError, FeelTypeError, RuleError, RuleErrors
from tests.workbook_factory import APPROVAL, ENTITIES, GLOSSARY, TIER, small_model, write_rules


def test_small_model_loads_in_dependency_order(tmp_path):
    # approval uses tier, so tier comes first even when listed second
    rules = engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [APPROVAL, TIER]}))
    assert [t.name for t in rules.decisions] == ["tier", "approval"]
    tier = rules.decision("tier")
    assert tier.hit_policy == "F" and [r.id for r in tier.rules] == ["T1", "T2"]
    assert tier.rules[0].annotation == "large finance clients"
    assert rules.decision("approval").inputs[1].type == "string"  # typed from the glossary entry of tier


def test_chinese_headers_resolve_to_variables(tmp_path):
    table = (
        "tier",
        "clients",
        "F",
        [("input", "年收入"), ("input", "行业"), ("output", "tier")],
        [("T1", ">= 1000", '"金融"', '"gold"', ""), ("T2", "-", "-", '"silver"', "")],
        None,
    )
    rules = engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [table]}))
    names = [c.expr.name for c in rules.decision("tier").inputs]
    assert names == ["revenue", "industry"]


def test_malformed_cell_names_file_sheet_and_cell(tmp_path):
    bad = (
        "tier",
        "clients",
        "F",
        [("input", "revenue"), ("output", "tier")],
        [("T1", ">= 1o0", '"gold"', ""), ("T2", "-", '"silver"', "")],
        None,
    )
    folder = small_model(tmp_path / "r", {"sla.xlsx": [bad]})
    with pytest.raises(FeelSyntaxError) as info:
        engine.load_rules(folder)
    text = str(info.value)
    assert text.endswith("sla.xlsx!tier!B6: expected a number after '>=', got '1o0'")


def test_wrong_type_literal_is_refused(tmp_path):
    bad = ("tier", "clients", "F", [("input", "revenue"), ("output", "tier")], [("T1", '>= "big"', '"gold"', "")], None)
    with pytest.raises(FeelTypeError, match=r"rules.xlsx!tier!B6: expected a number after '>='"):
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [bad]}))


def test_all_problems_reported_together(tmp_path):
    bad = (
        "tier",
        "clients",
        "F",
        [("input", "revenue"), ("input", "industry"), ("output", "tier")],
        [
            ("T1", "[1..", '"金融"', '"gold"', ""),
            ("T2", "-", '"金鸿"', '"silver"', ""),
            ("T3", "-", "-", '"bronze"', ""),
        ],
        None,
    )
    with pytest.raises(RuleErrors) as info:
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [bad]}))
    text = str(info.value)
    assert "3 problems" in text
    assert "tier!B6: expected a number after '..', got the end of the cell" in text
    assert 'tier!C7: "金鸿" is not an allowed value of industry' in text
    assert 'tier!D8: "bronze" is not an allowed value of tier' in text


def test_unknown_name_suggests_quotes(tmp_path):
    bad = ("tier", "clients", "F", [("input", "industry"), ("output", "tier")], [("T1", "金融", '"gold"', "")], None)
    with pytest.raises(RuleError, match=r'unknown name 金融.*write "金融" in double quotes'):
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [bad]}))


def test_bad_hit_policy_in_corner(tmp_path):
    bad = ("tier", "clients", "X", [("input", "revenue"), ("output", "tier")], [("T1", "-", '"gold"', "")], None)
    with pytest.raises(RuleError, match=r"tier!A5: expected the hit policy in the table's corner"):
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [bad]}))


def test_duplicate_rule_id(tmp_path):
    bad = (
        "tier",
        "clients",
        "F",
        [("input", "revenue"), ("output", "tier")],
        [("T1", "> 1", '"gold"', ""), ("T1", "-", '"silver"', "")],
        None,
    )
    with pytest.raises(RuleError, match=r"tier!A7: rule id T1 is used twice"):
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [bad]}))


def test_cycle_is_refused_naming_the_cycle(tmp_path):
    glossary = GLOSSARY + [("a", "clients", "", "number", ""), ("b", "clients", "", "number", "")]
    t1 = ("da", "clients", "U", [("input", "b"), ("output", "a")], [("R1", "-", "b + 1", "")], None)
    t2 = ("db", "clients", "U", [("input", "a"), ("output", "b")], [("R1", "-", "a + 1", "")], None)
    folder = write_rules(tmp_path / "r", glossary, ENTITIES, {"rules.xlsx": [t1, t2]})
    with pytest.raises(DecisionCycleError, match=r"cycle: da → db → da"):
        engine.load_rules(folder)


def test_parent_decision_cannot_use_child_values(tmp_path):
    bad = ("tier", "clients", "F", [("input", "amount"), ("output", "tier")], [("T1", "-", '"gold"', "")], None)
    with pytest.raises(RuleError, match=r"runs over clients rows but uses amount from orders"):
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [bad]}))


def test_aggregation_needs_single_output(tmp_path):
    glossary = GLOSSARY + [("p", "clients", "", "number", ""), ("q", "clients", "", "number", "")]
    bad = (
        "score",
        "clients",
        "C+",
        [("input", "revenue"), ("output", "p"), ("output", "q")],
        [("S1", "-", 1, 2, "")],
        None,
    )
    with pytest.raises(RuleError, match=r"C\+ aggregates a single output"):
        engine.load_rules(write_rules(tmp_path / "r", glossary, ENTITIES, {"rules.xlsx": [bad]}))


def test_priority_needs_allowed_values(tmp_path):
    bad = ("approval", "orders", "P", [("input", "amount"), ("output", "approver")], [("A1", "-", '"clerk"', "")], None)
    with pytest.raises(RuleError, match=r"hit policy P orders results by the output's allowed values"):
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [bad]}))


def test_rules_path_missing():
    with pytest.raises(RuleError, match="rules not found"):
        engine.load_rules("/nonexistent/rules")


def test_glossary_type_must_be_known(tmp_path):
    glossary = GLOSSARY + [("x", "clients", "", "money", "")]
    with pytest.raises(RuleError, match=r"Glossary!D10: type of x must be number, string, boolean, date or any"):
        engine.load_rules(write_rules(tmp_path / "r", glossary, ENTITIES, {"rules.xlsx": [TIER]}))


def test_names_with_spaces_in_glossary_decisions_and_cells(tmp_path):
    """As DMN names them: a glossary variable, a decision and an output with spaces,
    referred to as written in headers and cells."""
    glossary = GLOSSARY + [("Monthly Salary", "clients", "", "number", ""), ("Loan.amount", "clients", "", "any", "")]
    table = (
        "Approval Status",
        "clients",
        "U",
        [("input", "Monthly Salary * 12"), ("output", "Approved/Declined")],
        [("A1", ">= 12000", '"Approved"', ""), ("A2", "< 12000", '"Declined"', "")],
        None,
    )
    after = ("Next Step", "clients", "F", [("input", "Approved/Declined"), ("output", "Next Step")], [], None)
    after = (*after[:4], [("N1", '"Approved"', "Monthly Salary + 1", ""), ("N2", "-", "0", "")], None)
    rules = engine.load_rules(write_rules(tmp_path / "r", glossary, ENTITIES, {"rules.xlsx": [table, after]}))
    assert [t.name for t in rules.decisions] == ["Approval Status", "Next Step"]
    assert rules.variables["Loan.amount"].type is None  # any: read as the cells hold it
    frame = engine.evaluate_frame(
        rules,
        pd.DataFrame({"客户编号": ["C1", "C2"], "Monthly Salary": [2000, 500]}),
        entity="clients",
    )
    assert list(frame["Approved/Declined"]) == ["Approved", "Declined"]
    assert list(frame["Next Step"]) == [2001, 0]


@pytest.mark.parametrize("name", ["12 months", "a  b", "salary (monthly)", "true"])
def test_a_name_that_cells_could_not_refer_to_is_refused(tmp_path, name):
    glossary = GLOSSARY + [(name, "clients", "", "number", "")]
    with pytest.raises(RuleError, match="must be a name: words of letters, digits and _"):
        engine.load_rules(write_rules(tmp_path / "r", glossary, ENTITIES, {"rules.xlsx": [TIER]}))


def test_allowed_values_need_a_type_other_than_any(tmp_path):
    glossary = GLOSSARY + [("x", "clients", "", "any", "1, 2")]
    with pytest.raises(RuleError, match="x has allowed values, so it needs a type"):
        engine.load_rules(write_rules(tmp_path / "r", glossary, ENTITIES, {"rules.xlsx": [TIER]}))


# ------------------------------------------------ authoring mistakes, their fix --


def _tier_table(header="revenue", cell=">= 1000", rules=None):
    return (
        "tier",
        "clients",
        "F",
        [("input", header), ("output", "tier")],
        rules or [("T1", cell, '"gold"', ""), ("T2", "-", '"silver"', "")],
        None,
    )


def test_a_misspelt_header_is_told_the_name_meant(tmp_path):
    with pytest.raises(RuleError) as info:
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [_tier_table(header="revenu")]}))
    assert str(info.value).endswith(
        "tier!B5: unknown name revenu: not in the glossary nor an output of a decision; did you mean revenue?"
    )
    assert "double quotes" not in str(info.value)


def test_a_misspelt_name_in_a_cell_is_told_the_name_meant(tmp_path):
    with pytest.raises(RuleError, match=r"tier!B6: unknown name revenu.*; did you mean revenue\?"):
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [_tier_table(cell=">= revenu")]}))


def test_a_misspelt_value_is_told_the_allowed_value_meant(tmp_path):
    table = _tier_table(header="industry", cell='"金触"')
    with pytest.raises(
        RuleError,
        match=r'"金触" is not an allowed value of industry; did you mean 金融\? \(allowed: 金融, 政府, 其他\)',
    ):
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [table]}))


@pytest.mark.parametrize(
    "cell, same_as",
    [("＞＝1000", ">= 1000"), ("≧1000", ">= 1000"), ("［1000．．２000］", "[1000..2000]"), ("＜1000", "< 1000")],
)
def test_full_width_operators_and_brackets_read_as_ascii(tmp_path, cell, same_as):
    wide = engine.load_rules(small_model(tmp_path / "wide", {"rules.xlsx": [_tier_table(cell=cell)]}))
    plain = engine.load_rules(small_model(tmp_path / "plain", {"rules.xlsx": [_tier_table(cell=same_as)]}))
    assert wide.decision("tier").rules[0].inputs == plain.decision("tier").rules[0].inputs


def test_full_width_text_inside_quotes_is_kept(tmp_path):
    glossary = [*GLOSSARY[:2], ("industry", "clients", "行业", "string", ""), *GLOSSARY[3:]]
    table = _tier_table(header="industry", cell="“金融（集团）”、“政府”")
    rules = engine.load_rules(write_rules(tmp_path / "r", glossary, ENTITIES, {"rules.xlsx": [table]}))
    values = [t.endpoint.value for t in rules.decision("tier").rules[0].inputs[0].tests]
    assert values == ["金融（集团）", "政府"]


PERCENT_GLOSSARY = [*GLOSSARY, ("discount", "orders", "折扣率(%)", "number", "")]
DISCOUNT = (
    "discount_check",
    "orders",
    "F",
    [("input", "discount"), ("input", "amount"), ("output", "review")],
    [("D1", "> 20%", "-", "true", ""), ("D2", "-", "> 5%", "true", ""), ("D3", "-", "-", "false", "")],
    None,
)


def test_a_percent_sign_gets_the_fix_that_fits_the_column(tmp_path):
    with pytest.raises(RuleErrors) as info:
        engine.load_rules(write_rules(tmp_path / "r", PERCENT_GLOSSARY, ENTITIES, {"rules.xlsx": [DISCOUNT]}))
    text = str(info.value)
    # 折扣率(%) is in percent: drop the sign; amount is a plain number: 5 % is 0.05
    assert "discount_check!B6: write 20 without the % sign: this column is in percent already (20 means 20 %)" in text
    assert "discount_check!C7: write 0.05 for 5 %: this column holds plain numbers (its header does not say %)" in text
    assert "comma separates alternatives" not in text


def test_an_empty_row_inside_a_table_is_an_error_naming_it(tmp_path):
    rules = [("T1", ">= 1000", '"gold"', ""), (None, None, None, None), ("T2", "-", '"silver"', "")]
    with pytest.raises(RuleError) as info:
        engine.load_rules(small_model(tmp_path / "r", {"rules.xlsx": [_tier_table(rules=rules)]}))
    assert str(info.value).endswith(
        "tier!A7: row 7 is empty, but the table goes on below it (row 8): a table ends at its first empty row, "
        "so the rules below would be left out; delete the empty row"
    )
