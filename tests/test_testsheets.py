"""engine.analysis.testsheets: Tests sheets in rule workbooks, run through the library's
evaluators; failures, given vs computed decision outputs, coverage, engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from engine.analysis import testsheets
from engine.analysis.testsheets import register_engine, resolve_engines, run_tests
from engine.evaluation.decisions import evaluate_table
from tests.workbook_factory import APPROVAL, TIER, small_model

ROOT = Path(__file__).resolve().parent.parent


def add_tests(path: Path, rows: list[list], title: str = "Tests") -> Path:
    book = load_workbook(path)
    sheet = book.create_sheet(title)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def model(tmp_path, tests: list[list], tables=None, title="Tests") -> Path:
    folder = small_model(tmp_path / "rules", tables)
    add_tests(folder / "rules.xlsx", tests, title)
    return folder


def test_shipped_test_sheets_pass_and_hit_every_rule():
    run = run_tests(ROOT / "rules")
    book_rows = 0
    for file in sorted((ROOT / "rules").glob("*.xlsx")):
        book = load_workbook(file, read_only=True)
        if "Tests" in book.sheetnames:
            book_rows += sum(1 for row in book["Tests"].iter_rows(min_row=2, values_only=True) if any(row))
        book.close()
    assert run.problems == [] and run.failed == 0
    assert run.passed == len(run.results) == book_rows and len(run.sheets) == 4
    assert run.uncovered == {}
    assert run.render_text(coverage=True).endswith(f"every rule is hit by a test case\n{book_rows} passed, 0 failed\n")


def test_failures_show_expected_actual_and_why(tmp_path):
    folder = model(
        tmp_path,
        [
            ["case", "年收入", "行业", "expected tier", "expected rule"],
            ["big finance", 2000, "金融", "gold", "T1"],
            ["small", 50, "金融", "gold", "T1"],
        ],
    )
    run = run_tests(folder)
    assert (run.passed, run.failed, run.summary(), run.exit_code) == (1, 1, "1 passed, 1 failed", 1)
    [failure] = [r for r in run.results if not r.passed]
    assert failure.where.endswith("rules.xlsx!Tests!A3") and failure.case == "small"
    assert {(c.what, c.expected, c.actual) for c in failure.checks if not c.passed} == {
        ("tier", "gold", "silver"),
        ("rule", "T1", "T2"),
    }
    text = run.render_text()
    assert "FAIL  " in text and "tier: expected gold, got silver" in text and "tier.rule: expected T1, got T2" in text
    assert "because: " in text and text.endswith("1 passed, 1 failed\n")
    assert json.loads(json.dumps(run.to_dict(), ensure_ascii=False))["failed"] == 1


def test_given_decision_outputs_replace_computed_ones_per_case(tmp_path):
    folder = model(
        tmp_path,
        [
            ["case", "年收入", "行业", "tier", "金额", "expected approver", "expected rule"],
            ["tier computed from the client", 2000, "金融", None, 500, "director", "A3"],
            ["tier given", 2000, "金融", "silver", 500, "manager", "A2"],
            ["small order", None, None, None, 50, "clerk", "A1"],
        ],
    )
    run = run_tests(folder)
    assert run.failed == 0 and run.passed == 3 and run.problems == []
    assert run.uncovered == {"tier": ["T1", "T2"]}  # tier is computed but no case checks it


def test_rule_columns_per_decision_and_the_decision_column(tmp_path):
    folder = model(
        tmp_path,
        [
            [
                "case",
                "decision",
                "年收入",
                "行业",
                "金额",
                "tier",
                "expected tier",
                "expected approver",
                "expected tier.rule",
                "expected rule",
            ],
            ["both", None, 2000, "金融", 50, None, "gold", "clerk", "T1", None],
            ["approval only", "approval", None, None, 500, "gold", "silver", "director", None, "A3"],
        ],
    )
    run = run_tests(folder)
    assert run.problems == [] and run.failed == 0
    second = next(r for r in run.results if r.case == "approval only")
    assert {(c.decision, c.what) for c in second.checks} == {
        ("approval", "approver"),
        ("approval", "rule"),
    }  # tier not checked


def test_plain_rule_column_needs_one_decision_per_case(tmp_path):
    folder = model(
        tmp_path,
        [
            ["年收入", "行业", "金额", "expected tier", "expected approver", "expected rule"],
            [2000, "金融", 50, "gold", "clerk", "T1"],
        ],
    )
    run = run_tests(folder)
    assert len(run.problems) == 1 and "checks 2 decisions" in run.problems[0] and run.exit_code == 1


def test_sheet_problems_are_reported_with_cells(tmp_path):
    folder = model(
        tmp_path,
        [
            ["case", "年收入", "colour", "expected tier", "expected bonus"],
            ["a", 2000, "red", "silver", 1],
            ["nothing to check", 5],
        ],
        title="测试",
    )
    run = run_tests(folder)
    problems = "\n".join(run.problems)
    assert "rules.xlsx!测试!C1: column 'colour'" in problems
    assert "rules.xlsx!测试!E1: 'expected bonus': bonus is not the output of any decision" in problems
    assert "rules.xlsx!测试!A3: case nothing to check checks nothing" in problems
    assert run.passed == 1 and run.exit_code == 1


def test_unreadable_cells_and_expected_values_fail_the_case(tmp_path):
    folder = model(
        tmp_path,
        [["年收入", "行业", "expected tier"], ["12O0", "金融", "gold"]],
        tables={"rules.xlsx": [TIER, APPROVAL]},
    )
    [result] = run_tests(folder).results
    [check] = result.checks
    assert not check.passed and check.error == "年收入: cannot read '12O0' as a number"
    numbers = model(
        tmp_path / "n",
        [["年收入", "金额", "tier", "expected approver"], [1, 5, "gold", "clerk"]],
        tables={
            "rules.xlsx": [
                TIER,
                (
                    "points",
                    "orders",
                    "U",
                    [("input", "amount"), ("output", "approver")],
                    [("P1", "-", "amount * 2", "")],
                    None,
                ),
            ]
        },
    )
    add_tests(numbers / "rules.xlsx", [["金额", "expected approver"], [5, "ten"], [5, "10"]], title="Other")
    [result] = run_tests(numbers).results
    assert not result.passed and "cannot read 'clerk' as a number" in result.checks[0].error


COLLECT = (
    "flags",
    "orders",
    "C",
    [("input", "amount"), ("input", "urgent"), ("output", "flag")],
    [("F1", ">= 100", "-", '"big"', ""), ("F2", "-", "true", '"rush"', "")],
    ("default", '"none"'),
)


def test_collect_results_are_lists_in_any_order(tmp_path):
    folder = model(
        tmp_path,
        [
            ["金额", "加急", "expected flag", "expected rule"],
            [500, "是", "rush, big", "F2, F1"],
            [500, "否", "big", "F1"],
            [5, "否", "none", "default"],
            [500, "是", "big", None],
        ],
        tables={"rules.xlsx": [TIER, COLLECT]},
    )
    run = run_tests(folder)
    assert [r.passed for r in run.results] == [True, True, True, False]
    assert "flag: expected big, got big; rush" in run.render_text()
    assert "flags" not in run.uncovered


def test_engines_are_pluggable_by_name_or_mapping(tmp_path, monkeypatch):
    folder = model(tmp_path, [["年收入", "行业", "expected tier"], [2000, "金融", "gold"], [1, "金融", "silver"]])

    def always_silver(table, env, n, **options):
        result = evaluate_table(table, env, n, **options)
        if table.name == "tier":
            result.outputs["tier"].values[:] = "silver"
        return result

    run = run_tests(folder, engines={"vectorized": evaluate_table, "always_silver": always_silver})
    assert run.engines == ["vectorized", "always_silver"]
    assert [(r.engine, r.passed) for r in run.results] == [
        ("vectorized", True),
        ("vectorized", True),
        ("always_silver", False),
        ("always_silver", True),
    ]
    assert "[always_silver]" in run.render_text()
    monkeypatch.setattr(testsheets, "ENGINES", dict(testsheets.ENGINES))
    register_engine("durable", always_silver)
    assert list(resolve_engines("all")) == ["vectorized", "durable"]
    assert resolve_engines(["durable"]) == {"durable": always_silver}
    with pytest.raises(ValueError, match="engine nope is not available"):
        resolve_engines(("nope",))


def test_workbook_without_tests_sheet(tmp_path):
    run = run_tests(small_model(tmp_path / "r"))
    assert (run.passed, run.failed, run.sheets) == (0, 0, [])
    assert run.uncovered == {"tier": ["T1", "T2"], "approval": ["A1", "A2", "A3"]}
    assert run.render_text(coverage=True) == (
        "no Tests sheet found\nrules no test case hits:\n  tier: T1, T2\n  approval: A1, A2, A3\n0 passed, 0 failed\n"
    )
