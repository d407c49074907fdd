"""engine.model.show: S-FEEL text from parsed cells, workbooks as aligned text, and
the text as a git textconv driver."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

import engine
from engine import feel
from engine.feel import feel_text
from engine.model.show import render_text
from engine.text import display_width
from tests.workbook_factory import small_model

ROOT = Path(__file__).resolve().parent.parent

UNARY = [
    "-",
    "null",
    ">= 1000",
    "< -2.5",
    "[300..450)",
    "(1..2]",
    '"a", "b"',
    'not("a", "b")',
    'date("2026-01-31")',
    '< date("2026-01-31")',
    "true",
    "not(null)",
    "5",
    ">= x",
    '"say \\"hi\\""',
    "[1..x), null",
]
EXPRESSIONS = [
    "standard_price * 1.2",
    "a - (b - c)",
    "(a + b) * c",
    "a + b * c",
    "8 * -3",
    "-x",
    "-(a + b)",
    "2 ** 3 ** 2",
    '"x" + "y"',
    "not(a)",
    "a / (b * c)",
    "a >= 3 and b < 2 or c",
    "monthly_revenue - sla_price",
]


@pytest.mark.parametrize("cell", UNARY)
def test_unary_tests_read_back_the_same(cell):
    parsed = feel.parse_unary_tests(cell)
    assert feel.parse_unary_tests(feel_text(parsed)) == parsed


@pytest.mark.parametrize("cell", EXPRESSIONS)
def test_expressions_read_back_the_same(cell):
    parsed = feel.parse_expression(cell)
    assert feel.parse_expression(feel_text(parsed)) == parsed


def test_canonical_spelling():
    assert feel_text(feel.parse_unary_tests("≥ 1000.0")) == ">= 1000"
    assert feel_text(feel.parse_unary_tests("“金融”，“政府”")) == '"金融", "政府"'
    assert feel_text(feel.parse_unary_tests("]1..5[")) == "(1..5)"


def table_lines(text: str, first_id: str) -> list[str]:
    """The grid lines of the table whose first rule is ``first_id`` (kind row to last rule)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_id + " ")) - 2
    end = start
    while end < len(lines) and lines[end]:
        end += 1
    return lines[start:end]


def test_shipped_workbook_as_aligned_text():
    text = render_text(ROOT / "rules" / "client_tier.xlsx")
    assert text == render_text(ROOT / "rules" / "client_tier.xlsx")  # stable
    assert "== decision sheet client_tier ==" in text and "== tests sheet Tests ==" in text
    rules = engine.load_rules(ROOT / "rules" / "client_tier.xlsx")
    for table in rules.decisions:
        ids = [line.split(" ", 1)[0] for line in text.splitlines()]
        assert all(ids.count(rule.id) == 1 for rule in table.rules), table.name  # one line per rule
    grid = table_lines(text, "CT-01")
    assert grid[1].startswith("F ") and "CT-04 |" in grid[6] and ">= 450" in grid[6]
    # columns line up, Chinese included: every separator at the same screen column
    columns = {
        tuple(
            display_width(line[:i]) for i in range(len(line)) if line.startswith(" | ", i) or line.startswith(" || ", i)
        )[:7]
        for line in grid
    }
    assert len(columns) == 1
    assert "hit policy: F (first)" in text


def test_workbook_text_does_not_need_the_glossary_nor_valid_cells(tmp_path):
    folder = small_model(tmp_path / "r")
    book = load_workbook(folder / "rules.xlsx")
    book["tier"]["B6"] = ">= 1o0"  # would not load
    book.save(folder / "rules.xlsx")
    lone = tmp_path / "git-temp-copy"  # git hands textconv a temporary copy, not necessarily named .xlsx
    shutil.copy(folder / "rules.xlsx", lone)
    text = render_text(lone)
    assert "T1 | >= 1o0" in text and "hit policy: F (first)" in text


def test_loaded_rule_set_as_text(tmp_path):
    rules = engine.load_rules(small_model(tmp_path / "r"))
    text = render_text(rules)
    assert "decision: approval" in text and "== glossary ==" in text and "== entities ==" in text
    assert 'A3 | >= 100 | "gold"   || "director"' in text
    assert "tier      | clients | 等级" in text


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=kade", "-c", "user.email=kade@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_git_diff_shows_the_changed_rule_through_textconv(tmp_path):
    repo = tmp_path / "repo"
    small_model(repo / "rules")
    shutil.copy(ROOT / ".gitattributes", repo / ".gitattributes")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "rules")
    book = load_workbook(repo / "rules" / "rules.xlsx")
    book["tier"]["B6"] = ">= 1500"
    book.save(repo / "rules" / "rules.xlsx")
    show = f'{sys.executable} -c "import sys; from engine.model.show import render_text; sys.stdout.write(render_text(sys.argv[1]))"'
    diff = git(repo, "-c", f"diff.kade-rules.textconv={show}", "diff")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == [
        '-T1 | >= 1000 | "金融"   || "gold"   | large finance clients',
        '+T1 | >= 1500 | "金融"   || "gold"   | large finance clients',
    ]


def test_repository_uses_the_driver_for_rules():
    assert "rules/*.xlsx diff=kade-rules" in (ROOT / ".gitattributes").read_text().splitlines()
