"""Loading .dmn files: what compliance level 2 needs is read into kade's model
and evaluated with DMN semantics; everything beyond it is refused at load with
the element id and what is unsupported; unsafe XML is refused."""

import datetime as dt

import pytest

from engine.dmn.errors import DmnError, DmnXmlError, UnsupportedDmnError
from engine.dmn.evaluate import evaluate_dmn
from engine.dmn.loader import load_dmn
from engine.errors import RuleErrors

NS = {
    "1.1": "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "1.2": "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "1.3": "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "1.4": "https://www.omg.org/spec/DMN/20211108/MODEL/",
    "1.5": "https://www.omg.org/spec/DMN/20230324/MODEL/",
}


def dmn(body: str, version: str = "1.5") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="{NS[version]}" '
        f'xmlns:feel="http://www.omg.org/spec/FEEL/20140401" id="defs" name="test" namespace="urn:test">'
        f"{body}</definitions>"
    ).encode()


def input_data(name: str, type_ref: str | None = "number", ident: str | None = None) -> str:
    ident = ident or "i_" + name.replace(" ", "_")
    typed = f' typeRef="{type_ref}"' if type_ref else ""
    return f'<inputData id="{ident}" name="{name}"><variable name="{name}"{typed}/></inputData>'


def requires(*ids: str, decisions: tuple = (), knowledge: tuple = ()) -> str:
    out = "".join(f'<informationRequirement><requiredInput href="#{i}"/></informationRequirement>' for i in ids)
    out += "".join(
        f'<informationRequirement><requiredDecision href="#{i}"/></informationRequirement>' for i in decisions
    )
    out += "".join(f'<knowledgeRequirement><requiredKnowledge href="#{i}"/></knowledgeRequirement>' for i in knowledge)
    return out


def literal_decision(
    name: str, text: str, reqs: str = "", type_ref: str | None = None, ident: str | None = None
) -> str:
    ident = ident or "d_" + name.replace(" ", "_")
    typed = f' typeRef="{type_ref}"' if type_ref else ""
    return (
        f'<decision id="{ident}" name="{name}"><variable name="{name}"{typed}/>{reqs}'
        f'<literalExpression id="{ident}_le"><text>{text}</text></literalExpression></decision>'
    )


def value(model, inputs=None, decision=None):
    outcomes = evaluate_dmn(model, inputs or {}).decisions
    return outcomes[decision or next(iter(outcomes))].value


# ------------------------------------------------------------- features ------


@pytest.mark.parametrize("version", sorted(NS))
def test_every_dmn_version_from_1_1_to_1_5_loads(version):
    type_ref = "feel:number" if version == "1.1" else "number"
    model = load_dmn(
        dmn(
            input_data("Monthly Salary", type_ref)
            + literal_decision("Yearly Salary", "12 * Monthly Salary", requires("i_Monthly_Salary"), type_ref),
            version,
        )
    )
    assert model.version == version
    assert value(model, {"Monthly Salary": 100}) == 1200


def test_names_with_spaces_qualified_names_and_structures():
    body = (
        """
    <itemDefinition name="tLoan">
      <itemComponent name="amount"><typeRef>number</typeRef></itemComponent>
      <itemComponent name="annual rate"><typeRef>number</typeRef></itemComponent>
    </itemDefinition>"""
        + input_data("Applicant Loan", "tLoan")
        + literal_decision(
            "Monthly Interest", "Applicant Loan.amount * Applicant Loan.annual rate / 12", requires("i_Applicant_Loan")
        )
    )
    model = load_dmn(dmn(body))
    assert set(model.rules.variables) == {"Applicant Loan.amount", "Applicant Loan.annual rate"}
    assert value(model, {"Applicant Loan": {"amount": 1200, "annual rate": 0.05}}) == pytest.approx(5.0)
    assert value(model, {"Applicant Loan": None}) is None


def test_business_knowledge_model_invocation_positional_named_and_boxed():
    bkm = """
    <businessKnowledgeModel id="b_fee" name="Fee">
      <encapsulatedLogic>
        <formalParameter name="base" typeRef="number"/><formalParameter name="rate" typeRef="number"/>
        <literalExpression><text>base * rate + 1</text></literalExpression>
      </encapsulatedLogic>
    </businessKnowledgeModel>"""
    reqs = requires("i_x", knowledge=("b_fee",))
    boxed = f"""<decision id="d_boxed" name="Boxed"><variable name="Boxed"/>{reqs}
      <invocation><literalExpression><text>Fee</text></literalExpression>
        <binding><parameter name="rate"/><literalExpression><text>0.5</text></literalExpression></binding>
        <binding><parameter name="base"/><literalExpression><text>x</text></literalExpression></binding>
      </invocation></decision>"""
    model = load_dmn(
        dmn(
            bkm
            + input_data("x")
            + literal_decision("Positional", "Fee(x, 2)", reqs)
            + literal_decision("Named", "Fee(rate: 3, base: x)", reqs)
            + boxed
        )
    )
    outcomes = evaluate_dmn(model, {"x": 10}).decisions
    assert (outcomes["Positional"].value, outcomes["Named"].value, outcomes["Boxed"].value) == (21, 31, 6)
    # an argument that does not conform to its parameter's type is null
    assert evaluate_dmn(model, {"x": "ten"}).decisions["Positional"].value is None


def test_business_knowledge_model_with_a_decision_table_body():
    bkm = """
    <businessKnowledgeModel id="b_band" name="band">
      <encapsulatedLogic>
        <formalParameter name="age" typeRef="number"/>
        <decisionTable hitPolicy="FIRST">
          <input><inputExpression typeRef="number"><text>age</text></inputExpression></input>
          <output/>
          <rule><inputEntry><text>&lt; 18</text></inputEntry><outputEntry><text>"minor"</text></outputEntry></rule>
          <rule><inputEntry><text>-</text></inputEntry><outputEntry><text>"adult"</text></outputEntry></rule>
        </decisionTable>
      </encapsulatedLogic>
    </businessKnowledgeModel>"""
    model = load_dmn(
        dmn(
            bkm
            + input_data("Age")
            + literal_decision("Band", 'band(Age) + "!"', requires("i_Age", knowledge=("b_band",)))
        )
    )
    assert value(model, {"Age": 12}) == "minor!"
    assert value(model, {"Age": 40}) == "adult!"


def test_decision_chain_with_structured_result_and_allowed_values():
    body = (
        """
    <itemDefinition name="tGrade"><typeRef>string</typeRef><allowedValues><text>"A", "B", "C"</text></allowedValues></itemDefinition>
    """
        + input_data("Score")
        + """
    <decision id="d_g" name="Grading"><variable name="Grading"/>"""
        + requires("i_Score")
        + """
      <decisionTable hitPolicy="UNIQUE">
        <input><inputExpression typeRef="number"><text>Score</text></inputExpression></input>
        <output name="Grade" typeRef="tGrade"/><output name="Pass" typeRef="boolean"/>
        <rule><inputEntry><text>&gt;= 50</text></inputEntry><outputEntry><text>"A"</text></outputEntry><outputEntry><text>true</text></outputEntry></rule>
        <rule><inputEntry><text>[0..50)</text></inputEntry><outputEntry><text>"Z"</text></outputEntry><outputEntry><text>false</text></outputEntry></rule>
      </decisionTable></decision>"""
        + literal_decision("Message", 'Grading.Grade + " / " + Grading.Score', "")
    )
    with pytest.raises(DmnError, match="not an input, decision"):
        load_dmn(dmn(body))  # Message does not require Grading: no name is in scope
    body = body.replace(
        literal_decision("Message", 'Grading.Grade + " / " + Grading.Score', ""),
        literal_decision("Message", 'if Grading.Pass then "yes" else "no"', requires(decisions=("d_g",))),
    )
    with pytest.raises(UnsupportedDmnError, match="if … then … else"):
        load_dmn(dmn(body))
    body = body.replace('if Grading.Pass then "yes" else "no"', 'Grading.Grade + "!"')
    model = load_dmn(dmn(body))
    assert evaluate_dmn(model, {"Score": 70}).decisions["Grading"].value == {"Grade": "A", "Pass": True}
    low = evaluate_dmn(model, {"Score": 10}).decisions
    # "Z" is outside tGrade's allowed values: the decision's result does not conform, so it is null
    assert low["Grading"].value is None and "does not conform" in low["Grading"].error
    assert low["Message"].value is None
    assert evaluate_dmn(model, {"Score": -1}).decisions["Grading"].value == {
        "Grade": None,
        "Pass": None,
    }  # no rule: null


def test_inputs_that_do_not_conform_are_null():
    body = """<itemDefinition name="tStatus"><typeRef>string</typeRef><allowedValues><text>"ON", "OFF"</text></allowedValues></itemDefinition>"""
    model = load_dmn(
        dmn(body + input_data("Status", "tStatus") + literal_decision("Out", "Status = null", requires("i_Status")))
    )
    run = evaluate_dmn(model, {"Status": "MAYBE"})
    assert run.decisions["Out"].value is True and "MAYBE" in run.input_problems[0]
    assert evaluate_dmn(model, {"Status": "ON"}).decisions["Out"].value is False


def test_hit_policy_violation_is_null_with_an_error():
    body = (
        input_data("x")
        + """<decision id="d" name="D"><variable name="D"/>"""
        + requires("i_x")
        + """
      <decisionTable><input><inputExpression><text>x</text></inputExpression></input><output/>
        <rule><inputEntry><text>&gt; 1</text></inputEntry><outputEntry><text>1</text></outputEntry></rule>
        <rule><inputEntry><text>&gt; 2</text></inputEntry><outputEntry><text>2</text></outputEntry></rule>
      </decisionTable></decision>"""
    )
    outcome = evaluate_dmn(load_dmn(dmn(body)), {"x": 5}).decisions["D"]
    assert outcome.value is None and "unique" in outcome.error


def test_input_and_output_values_constrain_the_table():
    body = (
        input_data("x")
        + """<decision id="d" name="D"><variable name="D"/>"""
        + requires("i_x")
        + """
      <decisionTable><input><inputExpression><text>x</text></inputExpression><inputValues><text>[0..10]</text></inputValues></input>
        <output><outputValues><text>"low", "mid"</text></outputValues></output>
        <rule><inputEntry><text>&lt; 5</text></inputEntry><outputEntry><text>"low"</text></outputEntry></rule>
        <rule><inputEntry><text>&gt;= 5</text></inputEntry><outputEntry><text>"high"</text></outputEntry></rule>
        <rule><inputEntry><text>null</text></inputEntry><outputEntry><text>"mid"</text></outputEntry></rule>
      </decisionTable></decision>"""
    )
    model = load_dmn(dmn(body))
    run = lambda x: evaluate_dmn(model, {"x": x}).decisions["D"]
    assert run(3).value == "low"
    assert run(None).value == "mid"  # null is not outside the input values
    assert run(20).value is None and "not among its input values" in run(20).error
    assert run(7).value is None and "not among its output values" in run(7).error


def test_undeclared_variables_are_implicit_inputs_as_in_camunda_models(tmp_path):
    """Camunda's modeller writes tables over process variables without input data."""
    body = """<decision id="dish" name="Dish"><decisionTable id="dt" hitPolicy="FIRST">
        <input id="in1" label="Season"><inputExpression typeRef="string"><text>season</text></inputExpression></input>
        <input id="in2" label="Guests"><inputExpression typeRef="integer"><text>guestCount</text></inputExpression></input>
        <output id="out" name="dish" typeRef="string"/>
        <rule><inputEntry><text>"Winter"</text></inputEntry><inputEntry><text>&lt;= 8</text></inputEntry><outputEntry><text>"Roastbeef"</text></outputEntry></rule>
        <rule><inputEntry><text>-</text></inputEntry><inputEntry><text>-</text></inputEntry><outputEntry><text>"Stew"</text></outputEntry></rule>
      </decisionTable></decision>"""
    model = load_dmn(dmn(body, "1.3"))
    assert model.notes == [
        "season is not declared as input data: it is read as an input of type string",
        "guestCount is not declared as input data: it is read as an input of type number",
    ]
    assert value(model, {"season": "Winter", "guestCount": 4}) == "Roastbeef"
    assert value(model, {"season": "Winter", "guestCount": "four"}) == "Stew"  # not a number: null
    import engine
    from engine.dmn.workbook import write_rule_workbook

    rules = engine.load_rules(write_rule_workbook(model, tmp_path / "dish.xlsx").path)
    assert rules.variables["season"].type == "string" and rules.decision("Dish").hit_policy == "F"
    # a name that the model does declare must be required; a typed input has no fields
    with pytest.raises(DmnError, match="unknown name 'x'"):
        load_dmn(dmn(input_data("x") + literal_decision("D", "x + 1")))
    with pytest.raises(DmnError, match="unknown name 'x.y'"):
        load_dmn(dmn(input_data("x") + literal_decision("D", "x.y + 1", requires("i_x"))))


def test_dotted_names_are_fields_of_structured_inputs_as_in_camunda_models():
    """``claim.amountOfDamage``: field amountOfDamage of the process variable claim;
    ``Location.location``: field location of the untyped input data Location."""
    body = (
        input_data("Location", type_ref=None)
        + literal_decision("Payout", "claim.amountOfDamage * 2")
        + literal_decision("Where", 'Location.location + "!"', requires("i_Location"))
    )
    model = load_dmn(dmn(body, "1.3"))
    assert [p for p, _, _ in model.inputs["claim"].paths] == [("amountOfDamage",)]
    assert [p for p, _, _ in model.inputs["Location"].paths] == [(), ("location",)]
    inputs = {"claim": {"amountOfDamage": 100, "other": "x"}, "Location": {"location": "Berlin"}}
    assert value(model, inputs, "Payout") == 200
    assert value(model, inputs, "Where") == "Berlin!"
    assert value(model, {}, "Payout") is None
    assert "claim.amountOfDamage is not declared as input data: it is read as field amountOfDamage" in model.notes[-2]


def test_dates_and_strings():
    model = load_dmn(
        dmn(input_data("Start", "date") + literal_decision("Days", 'date("2026-02-01") - Start', requires("i_Start")))
    )
    assert value(model, {"Start": dt.date(2026, 1, 1)}) == 31


# ------------------------------------------------------------- refusals -----


def refusal(body: str) -> str:
    with pytest.raises(UnsupportedDmnError) as caught:
        load_dmn(dmn(body))
    return str(caught.value)


@pytest.mark.parametrize(
    "text,what",
    [
        ("if x &gt; 1 then 1 else 2", "if … then … else"),
        ("for i in [1, 2] return i", "for … in … return"),
        ("some i in [1] satisfies i &gt; 0", "quantified"),
        ("[1, 2, 3]", "lists"),
        ("{a: 1}", "contexts"),
        ("sum(x, 1)", "built-in functions"),
        ("string length(x)", "beyond S-FEEL"),
        ('time("10:00:00")', "time() values"),
        ('date and time("2026-01-01T10:00:00")', "date and time() values"),
        ("x between 1 and 2", "between"),
        ("x instance of number", "instance of"),
    ],
)
def test_full_feel_in_a_literal_expression_is_refused_with_the_element_id(text, what):
    message = refusal(input_data("x") + literal_decision("D", text, requires("i_x"), ident="d_feel"))
    assert "#d_feel_le" in message and what in message


@pytest.mark.parametrize(
    "element,what",
    [
        (
            '<context id="ctx1"><contextEntry><variable name="a"/><literalExpression><text>1</text></literalExpression></contextEntry></context>',
            "boxed contexts",
        ),
        ('<relation id="ctx1"/>', "boxed relations"),
        ('<list id="ctx1"/>', "boxed lists"),
        ('<conditional id="ctx1"/>', "boxed conditionals"),
        ('<functionDefinition id="ctx1"/>', "boxed function definitions"),
    ],
)
def test_boxed_expressions_other_than_tables_literals_and_invocations_are_refused(element, what):
    message = refusal(f'<decision id="d1" name="D"><variable name="D"/>{element}</decision>')
    assert "#ctx1" in message and what in message


def test_unary_test_expressions_with_question_mark_are_refused():
    body = (
        input_data("x")
        + """<decision id="d" name="D"><variable name="D"/>"""
        + requires("i_x")
        + """
      <decisionTable><input><inputExpression><text>x</text></inputExpression></input><output/>
        <rule id="r1"><inputEntry id="e1"><text>? &gt; 5</text></inputEntry><outputEntry><text>1</text></outputEntry></rule>
      </decisionTable></decision>"""
    )
    message = refusal(body)
    assert "#e1" in message and "'?'" in message


def test_unsupported_types_services_imports_and_languages_are_refused():
    assert "date and time" in refusal(
        input_data("When", "date and time", ident="i_when") + literal_decision("D", "When", requires("i_when"))
    )
    assert "decision service" in refusal('<decisionService id="ds1" name="S"/>')
    assert "imports" in refusal(
        '<import id="imp" namespace="urn:x" locationURI="x.dmn" importType="https://www.omg.org/spec/DMN/20230324/MODEL/"/>'
    )
    assert "not FEEL" in refusal(
        input_data("x")
        + '<decision id="d" name="D"><variable name="D"/>'
        + requires("i_x")
        + '<literalExpression id="le" expressionLanguage="http://www.java.com/java"><text>x</text></literalExpression></decision>'
    )


def test_every_problem_of_a_model_is_reported_at_once():
    body = (
        input_data("x")
        + literal_decision("A", "if x then 1 else 2", requires("i_x"), ident="d_a")
        + literal_decision("B", "sum(x)", requires("i_x"), ident="d_b")
    )
    with pytest.raises(RuleErrors) as caught:
        load_dmn(dmn(body))
    assert [e.position.cell for e in caught.value.errors] == ["#d_a_le", "#d_b_le"]


def test_syntax_errors_give_the_element_and_offset():
    with pytest.raises(DmnError) as caught:
        load_dmn(dmn(input_data("x") + literal_decision("D", "x + * 2", requires("i_x"), ident="d_s")))
    assert caught.value.position.cell == "#d_s_le" and caught.value.position.offset == 4
    assert not isinstance(caught.value, UnsupportedDmnError)


# ------------------------------------------------------------- hardened XML ---


def test_entity_expansion_is_refused():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
    <definitions xmlns="https://www.omg.org/spec/DMN/20230324/MODEL/" name="x" namespace="urn:x">&lol2;</definitions>"""
    with pytest.raises(DmnXmlError, match="DTD or entities"):
        load_dmn(bomb)


def test_external_entities_are_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    xxe = f"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret}">]>
    <definitions xmlns="https://www.omg.org/spec/DMN/20230324/MODEL/" name="x" namespace="urn:x">&xxe;</definitions>""".encode()
    with pytest.raises(DmnXmlError):
        load_dmn(xxe)


def test_not_well_formed_and_not_dmn(tmp_path):
    with pytest.raises(DmnXmlError, match="line 1"):
        load_dmn(b"<definitions")
    with pytest.raises(DmnError, match="not a DMN"):
        load_dmn(b'<definitions xmlns="urn:other"/>')
    with pytest.raises(DmnXmlError, match="cannot read"):
        load_dmn(tmp_path / "missing.dmn")


def test_an_invalid_date_makes_its_decision_null_with_an_error_not_the_model_refused():
    body = literal_decision("Bad", 'date("2017-13-10")') + literal_decision("Good", 'date("2017-12-10")')
    outcomes = evaluate_dmn(load_dmn(dmn(body)), {}).decisions
    assert outcomes["Bad"].value is None and "2017-13-10" in outcomes["Bad"].error
    assert (outcomes["Good"].value, outcomes["Good"].error) == (dt.date(2017, 12, 10), None)


def test_not_of_a_number_or_string_is_null_with_an_error():
    body = (
        literal_decision("N", "not(0)") + literal_decision("S", 'not("true")') + literal_decision("O", "not(0) or true")
    )
    outcomes = evaluate_dmn(load_dmn(dmn(body)), {}).decisions
    assert (outcomes["N"].value, outcomes["N"].error) == (None, "not(0): not() takes a boolean")
    assert outcomes["S"].error == 'not("true"): not() takes a boolean'
    assert (outcomes["O"].value, outcomes["O"].error) == (True, None)  # FEEL: null or true is true


def test_comments_are_not_screened_as_feel():
    body = literal_decision("D", "1 + 1 // some time(") + literal_decision("E", 'time("10:00") /* x */')
    with pytest.raises(UnsupportedDmnError) as info:
        load_dmn(dmn(body))
    assert "#d_E" in str(info.value) and "#d_D" not in str(info.value)
    assert info.value.position.offset == 0
