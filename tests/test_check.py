"""engine.analysis.rules_check: every finding kind, per hit policy, with witnesses that the real
evaluator confirms; the shipped rules; and a property test against brute force."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

from helpers import env, run, table
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.analysis.rules_check import ANY, check_path, check_ruleset, check_table
from engine.evaluation.decisions import match_matrix
from tests.workbook_factory import ENTITIES, GLOSSARY, small_model, write_rules

ROOT = Path(__file__).resolve().parent.parent


def kinds(findings):
    return sorted(f.kind for f in findings)


def witness_env(finding, tbl):
    """The finding's example row as a one-row env, typed like the table's inputs."""
    columns = {}
    for clause, (label, value) in zip(tbl.inputs, finding.witness):
        assert label == clause.label
        columns[clause.expr.name] = (clause.type, [None if value == ANY else value])
    return columns


# ---------------------------------------------------------- per hit policy ----


def test_unique_overlap_names_both_rules_and_a_row_that_shows_it():
    t = table(
        hit_policy="U",
        inputs=[("x", "number"), ("s", "string")],
        outputs=[("o", None, ())],
        rules=[
            ("R1", ["[0..10]", '"a", "b"'], ['"p"']),
            ("R2", ["(5..20)", 'not("b")'], ['"q"']),
            ("R3", ["> 20", "-"], ['"r"']),
        ],
        default=['"z"'],
    )
    [overlap] = check_table(t)
    assert (overlap.kind, overlap.severity, overlap.rules) == ("overlap", "error", ("R1", "R2"))
    assert "x: (5..10]" in overlap.message and 's: "a"' in overlap.message
    result = run(t, **witness_env(overlap, t))
    assert "hit policy U" in result.errors[0] and "R1, R2" in result.errors[0]


def test_any_conflict_only_when_results_differ_and_redundant_rule():
    t = table(
        hit_policy="A",
        inputs=[("x", "number")],
        outputs=[("o", None, ())],
        rules=[("R1", ["[0..10]"], ['"p"']), ("R2", ["[5..6]"], ['"p"']), ("R3", ["[8..12]"], ['"q"'])],
        default=['"z"'],
    )
    findings = check_table(t)
    assert kinds(findings) == ["conflict", "redundant"]
    conflict = next(f for f in findings if f.kind == "conflict")
    assert conflict.rules == ("R1", "R3") and '"p" and "q"' in conflict.message
    assert "hit policy A" in run(t, **witness_env(conflict, t)).errors[0]
    redundant = next(f for f in findings if f.kind == "redundant")
    assert redundant.rules == ("R2", "R1")


def test_first_never_fires_when_earlier_rules_cover_it_together():
    t = table(
        hit_policy="F",
        inputs=[("x", "number"), ("b", "boolean")],
        outputs=[("o", None, ())],
        rules=[
            ("R1", ["< 10", "true"], ['"p"']),
            ("R2", [">= 10", "-"], ['"q"']),
            ("R3", ["[3..20]", "true"], ['"r"']),
            ("R4", ["-", "-"], ['"z"']),
        ],
    )
    [hidden] = check_table(t)
    assert hidden.kind == "never_fires" and hidden.rules[0] == "R3" and set(hidden.rules) == {"R1", "R2", "R3"}
    assert run(t, **witness_env(hidden, t)).rules[0] in ("R1", "R2")  # the example row is decided earlier


def test_first_redundant_only_if_nothing_in_between_decides_differently():
    rules = [("R1", ["< 5", "false"], ['"s"']), ("R2", ["-", "false"], ['"s"']), ("R3", ["-", "-"], ['"z"'])]
    t = table(hit_policy="F", inputs=[("x", "number"), ("b", "boolean")], outputs=[("o", None, ())], rules=rules)
    assert [(f.kind, f.rules) for f in check_table(t)] == [("redundant", ("R1", "R2"))]
    between = [rules[0], ("R1b", ["[1..2]", "-"], ['"other"']), *rules[1:]]
    t = table(hit_policy="F", inputs=[("x", "number"), ("b", "boolean")], outputs=[("o", None, ())], rules=between)
    assert check_table(t) == []  # deleting R1 would hand x in [1..2] to R1b


def test_priority_rule_masked_by_higher_priority_rules():
    t = table(
        hit_policy="P",
        inputs=[("x", "number")],
        outputs=[("level", "string", ("high", "low"))],
        rules=[
            ("R1", ["< 10"], ['"low"']),
            ("R2", ["[0..5]"], ['"high"']),
            ("R3", ["[1..4]"], ['"low"']),
            ("R4", ["-"], ['"low"']),
        ],
    )
    found = {(f.kind, f.rules[0]) for f in check_table(t)}
    assert ("never_fires", "R3") in found  # R2 (high) wins wherever R3 (low) matches
    assert ("never_fires", "R1") not in found  # R1 wins below 0 and in (5..10)


def test_gaps_with_examples_the_evaluator_cannot_decide():
    t = table(
        hit_policy="U",
        inputs=[("x", "number"), ("s", "string")],
        outputs=[("o", None, ())],
        rules=[("R1", ["[0..10]", '"a", "b"'], ['"p"']), ("R2", ["(10..20)", 'not("b")'], ['"q"'])],
    )
    gaps = [f for f in check_table(t) if f.kind == "gap"]
    assert gaps and all(f.severity == "warning" for f in gaps)
    descriptions = " | ".join(f.message for f in gaps)
    assert "x: < 0, >= 20, null" in descriptions  # merged into one region
    assert 's: "b"' in descriptions
    for gap in gaps:
        result = run(t, **witness_env(gap, t))
        assert "no rule of T matches" in result.errors[0]


def test_a_gap_between_two_bands_names_the_rules_whose_bounds_meet_there(tmp_path):
    bands = (
        "tier",
        "clients",
        "F",
        [("input", "revenue"), ("output", "tier")],
        [("T1", ">= 460", '"gold"', ""), ("T2", "[0..450)", '"silver"', ""), ("T3", "< 0", '"silver"', "")],
        None,
    )
    report = check_path(small_model(tmp_path / "r", {"r.xlsx": [bands]}))
    gap = next(f for f in report.findings if f.kind == "gap" and "[450..460)" in f.message)
    assert "revenue: [450..460), null; the gap in revenue lies between T2 ([0..450)) and T1 (>= 460);" in gap.message
    assert gap.rules == ("T2", "T1")
    assert [c.rsplit("!", 1)[1] for c in gap.cells] == ["B7", "B6"]  # the two cells to move, not the header


def test_an_empty_row_inside_a_table_is_found_by_rules_check(tmp_path):
    rules = [("T1", ">= 1000", '"gold"', ""), (None, None, None, None), ("T2", "-", '"silver"', "")]
    table = ("tier", "clients", "F", [("input", "revenue"), ("output", "tier")], rules, None)
    report = check_path(small_model(tmp_path / "r", {"r.xlsx": [table]}))
    [finding] = report.findings
    assert finding.kind == "rule_error" and finding.cells[0].endswith("r.xlsx!tier!A7")
    assert "row 7 is empty, but the table goes on below it (row 8)" in finding.message


def test_default_row_means_no_gaps():
    t = table(
        hit_policy="U",
        inputs=[("x", "number")],
        outputs=[("o", None, ())],
        rules=[("R1", ["> 0"], ['"p"'])],
        default=['"z"'],
    )
    assert check_table(t) == []


def test_dates_booleans_and_null_tests():
    t = table(
        hit_policy="U",
        inputs=[("d", "date"), ("b", "boolean")],
        outputs=[("o", None, ())],
        rules=[
            ("R1", ['< date("2026-01-01")', "true"], ['"old"']),
            ("R2", ['[date("2026-01-02")..date("2026-12-31")]', "-"], ['"new"']),
            ("R3", ["null", "-"], ['"none"']),
            ("R4", ['< date("2026-01-01")', "false, null"], ['"old"']),
        ],
    )
    [gap] = check_table(t)
    # 2026-01-01 itself and everything after 2026-12-31; nothing between two consecutive days
    assert 'd: date("2026-01-01"), > date("2026-12-31")' in gap.message
    assert dict(gap.witness)["d"].isoformat() == "2026-01-01"


def test_collect_sum_duplicate_and_never_matching_rule():
    t = table(
        hit_policy="C+",
        inputs=[("x", "number")],
        outputs=[("o", None, ())],
        rules=[("R1", ["[5..3]"], ["1"]), ("R2", ["> 0"], ["2"]), ("R3", ["> 1"], ["2"])],
        default=["0"],
    )
    findings = check_table(t)
    assert kinds(findings) == ["never_matches", "redundant"]
    assert "added twice" in next(f.message for f in findings if f.kind == "redundant")


def test_cells_comparing_with_other_columns_are_left_out_not_guessed():
    t = table(
        hit_policy="U",
        inputs=[("x", "number")],
        outputs=[("o", None, ())],
        rules=[("R1", ["< y"], ["1"]), ("R2", ["> 0"], ["2"])],
    )
    [note] = check_table(t)
    assert note.kind == "not_analysed" and note.severity == "info" and "compares with y" in note.message


# ---------------------------------------------------------- glossary aware -----


def test_allowed_values_and_upstream_outputs_narrow_the_domain(tmp_path):
    glossary = GLOSSARY + [("rate", "clients", "比率", "number", "[0..100]"), ("band", "clients", "档", "string", "")]
    band = (
        "band",
        "clients",
        "U",
        [("input", "rate"), ("output", "band")],
        [("B1", "[0..50)", '"low"', ""), ("B2", "[50..100]", '"high"', ""), ("B3", "null", '"low"', "")],
        None,
    )
    use = (
        "use",
        "clients",
        "U",
        [("input", "band"), ("output", "tier")],
        [("U1", '"low"', '"silver"', ""), ("U2", '"high"', '"gold"', "")],
        None,
    )
    rules = engine.load_rules(write_rules(tmp_path / "r", glossary, ENTITIES, {"r.xlsx": [band, use]}))
    # rates outside [0..100] never reach the table; band is only ever "low" or "high", never empty
    assert check_ruleset(rules, glossary=False).findings == []


def test_result_outside_allowed_values(tmp_path):
    glossary = GLOSSARY + [("pct", "clients", "百分比", "number", "[0..100]")]
    t = (
        "pct",
        "clients",
        "F",
        [("input", "revenue"), ("output", "pct")],
        [("P1", "> 10", "60 * 2", ""), ("P2", "-", "50", "")],
        None,
    )
    rules = engine.load_rules(write_rules(tmp_path / "r", glossary, ENTITIES, {"r.xlsx": [t]}))
    [finding] = [f for f in check_ruleset(rules, glossary=False).findings if f.kind == "outside_allowed"]
    assert finding.severity == "error" and "pct 120" in finding.message and finding.cells[0].endswith("r.xlsx!pct!C6")


def test_unused_glossary_entries_and_inputs_without_an_entry(tmp_path):
    extra = (
        "score",
        "clients",
        "F",
        [("input", "revenue"), ("output", "points")],
        [("S1", ">= 0", "1", ""), ("S2", "< 0", "0", ""), ("S3", "null", "0", "")],
        None,
    )
    reads = (
        "bonus",
        "clients",
        "F",
        [("input", "points"), ("output", "tier")],
        [("B1", ">= 1", '"gold"', ""), ("B2", "-", '"silver"', "")],
        None,
    )
    rules = engine.load_rules(small_model(tmp_path / "r", {"r.xlsx": [extra, reads]}))
    findings = check_ruleset(rules).findings
    missing = [f for f in findings if f.kind == "missing_glossary"]
    assert len(missing) == 1 and "points" in missing[0].message and missing[0].cells[0].endswith("r.xlsx!bonus!B5")
    unused = {f.message.split()[2] for f in findings if f.kind == "unused_glossary"}
    assert unused == {"industry", "amount", "urgent", "due"}  # keys (client_id, order_id) count as used


# ---------------------------------------------------------- files --------------


def test_shipped_rules():
    report = check_path(ROOT / "rules")
    assert report.exit_code == 0 and report.count("error") == report.count("warning") == 0
    assert len(report.tables) == len(engine.load_rules(ROOT / "rules").decisions) == 18
    assert {f.kind for f in report.findings} == {"unused_glossary"}
    assert any("employees" in f.message for f in report.findings)
    text = report.render_text()
    assert text.rstrip().endswith("0 errors, 0 warnings, 6 notes in 18 tables")
    payload = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert payload["counts"] == {"error": 0, "warning": 0, "info": 6}


def test_gaps_are_looked_for_inside_the_declared_domains_only():
    """The shipped tables are complete for the values the glossary allows; drop a
    domain and the required flag, and the check finds the rows they exclude."""
    rules = engine.load_rules(ROOT / "rules")
    for name in ("amount", "backup_circuit"):
        rules.variables[name] = dataclasses.replace(
            rules.variables[name], allowed=None, allowed_values=(), required=False
        )
    findings = check_ruleset(rules, glossary=False).findings
    gaps = {f.decision: f for f in findings if f.kind == "gap"}
    assert set(gaps) == {"required_approver", "sla_tier"} and len(findings) == 2
    assert "amount: < 0, null;" in gaps["required_approver"].message  # negative or empty: outside the domain
    assert dict(gaps["required_approver"].witness)["amount"] == -1
    assert (
        "backup_circuit: null;" in gaps["sla_tier"].message and dict(gaps["sla_tier"].witness)["backup_circuit"] is None
    )


def test_load_errors_are_findings_and_a_missing_path_is_unreadable(tmp_path):
    bad = ("tier", "clients", "F", [("input", "revenue"), ("output", "tier")], [("T1", ">= 1o0", '"gold"', "")], None)
    report = check_path(small_model(tmp_path / "r", {"r.xlsx": [bad]}))
    [finding] = report.findings
    assert (finding.kind, report.exit_code) == ("rule_error", 2) and finding.cells[0].endswith("r.xlsx!tier!B6")
    assert "1 problem stops the rules from loading" in report.render_text()
    missing = check_path(tmp_path / "nowhere")
    assert missing.exit_code == 2 and "not found" in missing.unreadable
    assert "cannot check" in missing.render_text()


def test_single_workbook_does_not_report_glossary_entries_other_files_use(tmp_path):
    folder = small_model(tmp_path / "r")
    assert not [f for f in check_path(folder / "rules.xlsx").findings if f.kind == "unused_glossary"]


# ---------------------------------------------------------- brute force -------

POINTS = [0, 5, 10]


@st.composite
def small_tables(draw):
    """Two or three inputs (number, text, boolean), up to six rules."""

    def number_cell():
        a, b = sorted(draw(st.lists(st.sampled_from(POINTS), min_size=2, max_size=2)))
        return draw(
            st.sampled_from(
                ["-", f"< {a}", f">= {b}", f"[{a}..{b}]", f"({a}..{b}]", f"[{a}..{b})", f"{a}", "null", f"not({a})"]
            )
        )

    def text_cell():
        return draw(st.sampled_from(["-", '"a"', '"a", "b"', 'not("a")', 'not("a", "b")', "null", "not(null)"]))

    def bool_cell():
        return draw(st.sampled_from(["-", "true", "false", "null", "true, null"]))

    columns = draw(st.sampled_from([("x", "s"), ("x", "b"), ("x", "s", "b")]))
    makers = {"x": number_cell, "s": text_cell, "b": bool_cell}
    types = {"x": "number", "s": "string", "b": "boolean"}
    rules = [
        (f"R{i}", [makers[c]() for c in columns], [f'"o{draw(st.integers(0, 2))}"'])
        for i in range(draw(st.integers(1, 6)))
    ]
    policy = draw(st.sampled_from(["U", "F"]))
    return table(hit_policy=policy, inputs=[(c, types[c]) for c in columns], outputs=[("o", "string", ())], rules=rules)


SAMPLES = {"x": [-1, 0, 2.5, 5, 7.5, 10, 11, None], "s": ["a", "b", "c", None], "b": [True, False, None]}


@settings(max_examples=150, deadline=None)
@given(small_tables())
def test_agrees_with_evaluating_every_kind_of_row(t):
    names = [c.expr.name for c in t.inputs]
    grid = list(itertools.product(*(SAMPLES[n] for n in names)))
    columns = {n: [row[k] for row in grid] for k, n in enumerate(names)}
    matches = match_matrix(t, [env(**{n: columns[n]})[n] for n in names], {}, len(grid))
    findings = check_table(t)
    unmatched = ~matches.any(axis=0)
    gaps = [f for f in findings if f.kind == "gap"]
    assert bool(gaps) == bool(unmatched.any())
    for gap in gaps:
        assert run(t, **witness_env(gap, t), _strict=True).errors[0] is not None
    if t.hit_policy == "U":
        brute = {
            (t.rules[i].id, t.rules[j].id)
            for i, j in itertools.combinations(range(len(t.rules)), 2)
            if (matches[i] & matches[j]).any()
        }
        assert {f.rules for f in findings if f.kind == "overlap"} == brute
    else:
        first = matches.argmax(axis=0)[matches.any(axis=0)]
        never = {t.rules[i].id for i in range(len(t.rules)) if matches[i].any() and i not in set(first)}
        assert {f.rules[0] for f in findings if f.kind == "never_fires"} == never
    empty = {t.rules[i].id for i in range(len(t.rules)) if not matches[i].any()}
    assert {f.rules[0] for f in findings if f.kind == "never_matches"} == empty
