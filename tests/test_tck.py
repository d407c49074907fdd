"""The DMN TCK, compliance level 2: all 116 cases pass, read straight from the
.dmn files and also after a round trip through rule workbooks (DMN -> Excel ->
DMN), and the runner reports failures with expected vs actual."""

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

import engine
from engine.dmn.export import export_dmn
from engine.dmn.loader import load_dmn
from engine.dmn.tck import TckInputError, run_tck, same
from engine.dmn.workbook import import_dmn

ROOT = Path(__file__).resolve().parent.parent
TCK = ROOT / "tests" / "data" / "dmn-tck" / "compliance-level-2"
SUITE = 116


@pytest.fixture(scope="module")
def suite() -> Path:
    assert TCK.is_dir(), f"the TCK suite is expected at {TCK} (tests/data/dmn-tck, part of the repository)"
    return TCK


def test_compliance_level_2_all_pass(suite):
    report = run_tck(suite)
    assert report.text().splitlines()[-1] == f"{SUITE} passed, 0 failed", report.text()
    assert (report.passed, report.failed) == (SUITE, 0)


def test_compliance_level_2_all_pass_after_dmn_to_workbook_to_dmn(suite, tmp_path):
    """Each model is written as a rules folder (``kade rules import``), read back by
    the rule-workbook reader, exported as DMN again and evaluated with the TCK's own
    inputs and decision names: the Excel form keeps the model's names (spaces,
    structured inputs) and meaning."""

    def round_trip(path):
        summary = import_dmn(path, tmp_path / path.stem)
        assert summary.renamed == {}, summary.renamed
        return load_dmn(export_dmn(engine.load_rules(summary.path)), name=str(path))

    report = run_tck(suite, loader=round_trip)
    assert report.summary() == f"{SUITE} passed, 0 failed", report.text()


# ------------------------------------------------------------- comparing -----


@pytest.mark.parametrize(
    "expected,actual,equal",
    [
        (Decimal("1200"), 1200.0, True),
        (Decimal("1.2E3"), 1200.0000000000002, True),
        (Decimal("0.3"), 0.1 + 0.2, True),
        (Decimal("0.00001"), 1e-05, True),
        (Decimal("2778.69354943277"), 2778.693549432746, True),  # float64 vs the TCK's 15 digits
        (Decimal("2"), 2.4, False),
        (Decimal("1"), 1.00000001, False),
        (Decimal("0"), 1e-9, False),
        (Decimal("1"), True, False),
        (Decimal("1"), "1", False),
        (None, None, True),
        (None, 0.0, False),
        ("a", "a", True),
        ("a", "A", False),
        (True, True, True),
        (False, None, False),
        (dt.date(2026, 1, 31), dt.date(2026, 1, 31), True),
        ([Decimal("1"), "x"], [1.0, "x"], True),
        ([Decimal("1")], [1.0, 2.0], False),
        ({"a": Decimal("1"), "b": None}, {"a": 1.0, "b": None}, True),
        ({"a": Decimal("1")}, {"a": 1.0, "b": 2.0}, False),
        ([{"s": "x"}], [{"s": "y"}], False),
    ],
)
def test_values_are_compared_as_the_tck_means_them(expected, actual, equal):
    assert same(expected, actual) is equal


# ------------------------------------------------------------- reporting -----


def copy_case(suite: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / "tck" / name
    shutil.copytree(suite / name, target)
    return target


def test_a_failing_case_shows_expected_and_actual(suite, tmp_path):
    case = copy_case(suite, tmp_path, "0002-input-data-number")
    test_file = case / "0002-input-data-number-test-01.xml"
    test_file.write_text(test_file.read_text().replace(">120000<", ">120001<"))
    report = run_tck(tmp_path / "tck")
    assert report.text().splitlines() == [
        "FAILED 0002-input-data-number/0002-input-data-number-test-01.xml case 001 Yearly Salary: expected 120001, actual 120000",
        "0 passed, 1 failed",
    ]


def test_a_refused_model_fails_its_cases_with_the_reason(suite, tmp_path):
    case = copy_case(suite, tmp_path, "0002-input-data-number")
    model = case / "0002-input-data-number.dmn"
    model.write_text(model.read_text().replace("12 * Monthly Salary", "if Monthly Salary > 0 then 1 else 2"))
    lines = run_tck(tmp_path / "tck").lines()
    assert "model refused" in lines[0] and "#d_YearlySalary" in lines[0] and "if … then … else" in lines[0]
    assert lines[-1] == "0 passed, 1 failed"


def test_error_results_pass_when_the_evaluation_reports_an_error(suite, tmp_path):
    case = copy_case(suite, tmp_path, "0004-simpletable-U")
    model = case / "0004-simpletable-U.dmn"
    model.write_text(
        model.read_text().replace("<text>&lt;18</text>", "<text>&lt;=18</text>")
    )  # 18 now matches two rules
    test_file = case / "0004-simpletable-U-test-01.xml"
    text = test_file.read_text().replace(
        '<resultNode name="Approval Status" type="decision">',
        '<resultNode name="Approval Status" type="decision" errorResult="true">',
    )
    test_file.write_text(text)
    report = run_tck(tmp_path / "tck")
    # case 001 (age 18) now matches two rules of a UNIQUE table: an error; 002 and 003 match one rule each
    assert [c.passed for c in report.cases] == [True, False, False]
    assert 'case 002 Approval Status: expected an error, actual "Declined"' in report.text()


def test_unreadable_input_raises(tmp_path):
    with pytest.raises(TckInputError, match="no such directory"):
        run_tck(tmp_path / "missing")
    with pytest.raises(TckInputError, match="no TCK test files"):
        run_tck(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "x-test-01.xml").write_text("<testCases><modelName>x.dmn")
    with pytest.raises(TckInputError, match="not well-formed"):
        run_tck(tmp_path)


def test_a_result_node_naming_no_decision_says_so(suite, tmp_path):
    case = copy_case(suite, tmp_path, "0002-input-data-number")
    test_file = case / "0002-input-data-number-test-01.xml"
    test_file.write_text(
        test_file.read_text().replace('resultNode name="Yearly Salary"', 'resultNode name="Yearly Pay"')
    )
    lines = run_tck(tmp_path / "tck").lines()
    assert lines[0].endswith("case 001 Yearly Pay: the model has no decision named 'Yearly Pay'"), lines
    assert "expected null" not in lines[0]


def test_compliance_level_3_cases_of_feel_details():
    """FEEL negation of non-booleans and FEEL comments (TCK 0066, 0073; the cases
    are kade's, from the models' own descriptions: tests/data/dmn-tck/README.md)."""
    report = run_tck(ROOT / "tests" / "data" / "dmn-tck" / "compliance-level-3")
    assert report.summary() == "9 passed, 0 failed", report.text()
