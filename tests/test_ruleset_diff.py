"""engine.analysis.rules_diff: rule-level changes, rows whose decision changes, and rule
sets read from git revisions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

import engine
from engine.analysis.rules_diff import decision_changes, diff_rulesets, load_rules_spec, render_impact
from engine.errors import RuleError
from tests.workbook_factory import APPROVAL, ENTITIES, GLOSSARY, TIER, small_data, small_model, write_rules


def edit(folder: Path, sheet: str, cells: dict, file: str = "rules.xlsx") -> Path:
    book = load_workbook(folder / file)
    for cell, value in cells.items():
        book[sheet][cell] = value
    book.save(folder / file)
    return folder


def changes(old: Path, new: Path):
    return diff_rulesets(engine.load_rules(old), engine.load_rules(new)).changes


def test_same_rules_no_changes(tmp_path):
    folder = small_model(tmp_path / "a")
    diff = diff_rulesets(engine.load_rules(folder), engine.load_rules(folder))
    assert not diff and diff.render_text() == "no changes in the rules\n"


def test_threshold_change_is_named_as_such(tmp_path):
    old = small_model(tmp_path / "a")
    new = edit(small_model(tmp_path / "b"), "tier", {"B6": ">= 1500"})
    [change] = changes(old, new)
    assert (change.kind, change.decision, change.rule, change.field) == ("entry", "tier", "T1", "revenue")
    assert (change.old, change.new, change.note) == (">= 1000", ">= 1500", "threshold 1000 → 1500")
    assert change.where.endswith("rules.xlsx!tier!B6")
    text = diff_rulesets(engine.load_rules(old), engine.load_rules(new)).render_text()
    assert text == "decision tier\n  ~ T1  revenue: >= 1000 → >= 1500   (threshold 1000 → 1500)\n"


def test_changed_comparison_is_an_entry_change_not_a_threshold(tmp_path):
    old = small_model(tmp_path / "a")
    new = edit(small_model(tmp_path / "b"), "tier", {"B6": "> 1000", "C6": '"金融", "政府"'})
    assert [(c.field, c.old, c.new, c.note) for c in changes(old, new)] == [
        ("revenue", ">= 1000", "> 1000", ""),
        ("industry", '"金融"', '"金融", "政府"', ""),
    ]


def test_rules_added_removed_moved_and_hit_policy(tmp_path):
    old = small_model(tmp_path / "a")
    tier = (
        "tier",
        "clients",
        "U",
        TIER[3],
        [
            ("T0", ">= 5000", "-", '"gold"', "very large"),
            ("T2", "-", "-", '"silver"', "everyone else"),
            ("T1", ">= 1000", '"金融"', '"gold"', "large finance clients, reviewed"),
        ],
        None,
    )
    approval = ("approval", "orders", "U", APPROVAL[3], [r for r in APPROVAL[4] if r[0] != "A2"], None)
    new = small_model(tmp_path / "b", {"rules.xlsx": [tier, approval]})
    found = {(c.kind, c.decision, c.rule, c.field) for c in changes(old, new)}
    assert found == {
        ("decision", "tier", None, "hit policy"),
        ("rule_added", "tier", "T0", None),
        ("annotation", "tier", "T1", "annotation"),
        ("rule_moved", "tier", "T2", "order"),
        ("rule_removed", "approval", "A2", None),
    }
    text = diff_rulesets(engine.load_rules(old), engine.load_rules(new)).render_text()
    assert "  ~ hit policy: F → U" in text
    assert '  + T0  added: revenue: >= 5000 → tier "gold"' in text
    assert "  ~ T2  moved, now first   (order matters under hit policy U)" not in text  # U: order does not matter
    assert "  ~ T2  moved, now first" in text
    assert '  - A2  removed: amount: >= 100; tier: "silver" → approver "manager"' in text


def test_glossary_and_columns(tmp_path):
    old = small_model(tmp_path / "a")
    glossary = [
        g if g[0] != "industry" else ("industry", "clients", "行业", "string", "金融, 政府, 其他, 制造")
        for g in GLOSSARY
    ]
    glossary += [("region", "clients", "区域", "string", "")]
    tier = (
        "tier",
        "clients",
        "F",
        [("input", "revenue"), ("input", "industry"), ("input", "region"), ("output", "tier")],
        [
            ("T1", ">= 1000", '"金融"', "-", '"gold"', "large finance clients"),
            ("T2", "-", "-", '"华东"', '"silver"', "everyone else"),
        ],
        None,
    )
    new = write_rules(tmp_path / "b", glossary, ENTITIES, {"rules.xlsx": [tier, APPROVAL]})
    found = {(c.kind, c.field, c.old, c.new) for c in changes(old, new)}
    assert ("variable", "industry allowed values", '"金融", "政府", "其他"', '"金融", "政府", "其他", "制造"') in found
    assert ("variable_added", "region", None, "string, clients") in found
    assert ("column_added", "region", None, None) in found
    assert ("entry", "region", "(no column)", '"华东"') in found  # T2 now tests the new column; T1 leaves it at "-"
    assert not any(c[0] == "entry" and c[2] == "(no column)" and c[3] == "-" for c in found)


def test_rows_whose_decision_changes(tmp_path):
    old = engine.load_rules(small_model(tmp_path / "a"))
    new = engine.load_rules(edit(small_model(tmp_path / "b"), "tier", {"B6": ">= 3000"}))
    impacts = {i.decision: i for i in decision_changes(old, new, small_data(tmp_path / "data.xlsx"))}
    [client] = impacts["tier"].changed
    assert (client.key, client.row, client.before, client.after) == ("C1", 2, {"tier": "gold"}, {"tier": "silver"})
    assert (client.rule_before, client.rule_after) == ("T1", "T2")
    [order] = impacts["approval"].changed  # O1 belongs to C1
    assert (order.key, order.before, order.after, order.rule_before, order.rule_after) == (
        "O1",
        {"approver": "director"},
        {"approver": "manager"},
        "A3",
        "A2",
    )
    text = render_impact(list(impacts.values()))
    assert "tier: 1 of 3 rows change (sheet 客户)\n  C1: gold (T1) → silver (T2)" in text
    assert "  O1: director (A3) → manager (A2)" in text and text.endswith("2 row decision(s) change\n")


def test_row_changes_of_sums_and_lists(tmp_path):
    def tables(points_from: int, big_from: int):
        points = (
            "points",
            "orders",
            "C+",
            [("input", "amount"), ("output", "points")],
            [("P1", ">= 100", "2", ""), ("P2", f">= {points_from}", "3", "")],
            ("default", "0"),
        )
        flags = (
            "flags",
            "orders",
            "C",
            [("input", "amount"), ("input", "urgent"), ("output", "flag")],
            [("F1", f">= {big_from}", "-", '"big"', ""), ("F2", "-", "true", '"rush"', "")],
            ("default", '"none"'),
        )
        return {"rules.xlsx": [TIER, points, flags]}

    old = engine.load_rules(small_model(tmp_path / "a", tables(300, 100)))
    new = engine.load_rules(small_model(tmp_path / "b", tables(600, 400)))
    impacts = {i.decision: i for i in decision_changes(old, new, small_data(tmp_path / "data.xlsx"))}
    assert [(c.key, c.before, c.after) for c in impacts["points"].changed] == [
        ("O1", {"points": 5}, {"points": 2}),
        ("O4", {"points": 5}, {"points": 2}),
    ]  # O3's unreadable amount: an error both times
    assert [(c.key, c.before, c.after) for c in impacts["flags"].changed] == [
        ("O4", {"flag": ["big"]}, {"flag": ["none"]}),
        ("O5", {"flag": ["big"]}, {"flag": ["none"]}),
    ]
    assert impacts["tier"].changed == [] and impacts["tier"].other_rule == 0


def git(repo: Path, *args: str):
    subprocess.run(
        ["git", "-c", "user.name=kade", "-c", "user.email=kade@example.com", *args],
        cwd=repo,
        capture_output=True,
        check=True,
    )


def test_rules_from_a_git_revision(tmp_path):
    repo = tmp_path / "repo"
    small_model(repo / "rules")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    edit(repo / "rules", "tier", {"B6": ">= 1500"})
    git(repo, "commit", "-q", "-am", "raise the gold threshold")

    one = load_rules_spec("HEAD~1:rules/rules.xlsx", repo=repo)  # the glossary of that revision comes along
    assert one.sources == ["HEAD~1:rules/rules.xlsx"]
    assert str(one.decision("tier").rules[0].cells[0]) == "HEAD~1:rules/rules.xlsx!tier!B6"
    folder = load_rules_spec("HEAD~1:rules", repo=repo)
    assert [t.name for t in folder.decisions] == ["tier", "approval"] and "revenue" in folder.variables
    [change] = diff_rulesets(one, load_rules_spec(repo / "rules" / "rules.xlsx")).changes
    assert (change.old, change.new) == (">= 1000", ">= 1500")
    with pytest.raises(RuleError, match="invalid object name"):
        load_rules_spec("HEAD~5:rules", repo=repo)
