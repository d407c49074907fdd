"""kade's DMN with other tools' code and models: the exported shipped rules are
read by dmn-moddle (the parser under dmn-js and Camunda Modeler) with no
warning, seeing every table as kade wrote it; Camunda's own example models
import and give the answers Camunda's tests expect."""

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import engine
from cli import main
from engine import feel
from engine.dmn.evaluate import evaluate_dmn
from engine.dmn.export import export_dmn, write_dmn
from engine.dmn.loader import load_dmn
from engine.dmn.workbook import import_dmn

ROOT = Path(__file__).resolve().parent.parent
POLICY = {"U": "UNIQUE", "A": "ANY", "P": "PRIORITY", "F": "FIRST", "R": "RULE ORDER", "O": "OUTPUT ORDER"}


@pytest.fixture(scope="module")
def shipped():
    return engine.load_rules(ROOT / "rules")


def test_dmn_moddle_reads_every_table_of_the_exported_shipped_rules(shipped, dmn_moddle, tmp_path):
    seen = dmn_moddle(write_dmn(shipped, tmp_path / "kade.dmn"))  # the default version: DMN 1.3
    assert "error" not in seen, seen
    assert seen["warnings"] == []
    tables = {d["name"]: d for d in seen["decisions"]}
    assert sorted(tables) == sorted(t.name for t in shipped.decisions)
    for table in shipped.decisions:
        read = tables[table.name]
        policy = POLICY.get(table.hit_policy, "COLLECT")
        aggregation = {"C+": "SUM", "C<": "MIN", "C>": "MAX", "C#": "COUNT"}.get(table.hit_policy)
        assert (read["hitPolicy"], read["aggregation"]) == (policy, aggregation), table.name
        assert [i["label"] for i in read["inputs"]] == [c.label for c in table.inputs], table.name
        assert [o["name"] for o in read["outputs"]] == list(table.output_names), table.name
        assert [r["id"] for r in read["rules"]] == [r.id for r in table.rules], table.name
        assert [r["annotations"] for r in read["rules"]] == [[r.annotation] for r in table.rules], table.name
        outputs = {o for t in shipped.decisions for o in t.output_names}
        for rule, entries in zip(table.rules, read["rules"]):
            assert len(entries["inputEntries"]) == len(rule.inputs)
            assert len(entries["outputEntries"]) == len(rule.outputs)
            for test, text in zip(rule.inputs, entries["inputEntries"]):
                if not set(feel.names_in(test)) & outputs:  # other decisions' outputs are named by decision in DMN
                    assert text == feel.unary_tests_text(test), (table.name, rule.id)
    assert sum(len(d["rules"]) for d in seen["decisions"]) == sum(len(t.rules) for t in shipped.decisions)


@pytest.mark.parametrize("version", ["1.4", "1.5"])
def test_dmn_moddle_refuses_newer_versions_so_1_3_is_the_default(shipped, dmn_moddle, tmp_path, version):
    seen = dmn_moddle(write_dmn(shipped, tmp_path / "kade.dmn", dmn_version=version))
    assert "failed to parse document as <dmn:Definitions>" in seen["error"]


def test_the_check_is_real_a_broken_model_gives_warnings(shipped, dmn_moddle, tmp_path):
    path = write_dmn(shipped, tmp_path / "kade.dmn")
    path.write_text(
        path.read_text(encoding="utf-8")
        .replace("<annotationEntry>", "<annotationEntri>", 1)
        .replace("</annotationEntry>", "</annotationEntri>", 1),
        encoding="utf-8",
    )
    assert dmn_moddle(path)["warnings"] != []


# ------------------------------------------------- Camunda's example models ---
# tests/data/camunda: Camunda's own files (Apache-2.0), with the answers its tests
# (DrgDecisionTest.java, DishDecisionTest.java) expect; README.md beside them.

CAMUNDA = ROOT / "tests" / "data" / "camunda"
DINNER = [  # season, guestCount, guestsWithChildren -> beverages
    ("Spring", 10, False, ["Guiness", "Water"]),
    ("Winter", 7, True, ["Bordeaux", "Apple Juice", "Water"]),
    ("Summer", 14, False, ["Pinot Noir", "Water"]),
]
DISH = [("Spring", 4, "Dry Aged Gourmet Steak"), ("Spring", 7, "Steak"), ("Spring", 20, "Stew")]


def test_camunda_dinner_decisions_give_camundas_answers():
    """Beverages reads decision Dish by its output name desiredDish, as Camunda does."""
    model = load_dmn(CAMUNDA / "dinnerDecisions.dmn")
    for season, guests, children, beverages in DINNER:
        inputs = {"season": season, "guestCount": guests, "guestsWithChildren": children}
        outcome = evaluate_dmn(model, inputs).decisions["Beverages"]
        assert (outcome.value, outcome.error) == (beverages, None), season


def test_camunda_dish_decision_gives_camundas_answers():
    model = load_dmn(CAMUNDA / "dish-decision.dmn11.xml")
    assert model.version == "1.1"
    for season, guests, dish in DISH:
        assert evaluate_dmn(model, {"season": season, "guestCount": guests}).decisions["Dish"].value == dish


def test_a_camunda_decision_read_by_its_output_name_is_not_an_unrelated_input():
    model = load_dmn(CAMUNDA / "dinnerDecisions.dmn")
    assert "desiredDish" not in model.inputs
    beverages = model.rules.decision("Beverages")
    assert beverages.inputs[0].expr == feel.Name("Dish")  # Dish's value, not a null input


def register(path: Path, rows) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Guests"  # any name: the sheet with the model's input columns is used
    sheet.append(["season", "guestCount", "guestsWithChildren"])
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def test_kade_evaluate_runs_a_camunda_model_as_it_is(tmp_path):
    data = register(tmp_path / "guests.xlsx", [r[:3] for r in DINNER])
    out = tmp_path / "decided.xlsx"
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "evaluate", str(data), "--rules", str(CAMUNDA / "dinnerDecisions.dmn")]
        + ["-o", str(out), "--no-audit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "skipped" not in proc.stdout
    sheet = openpyxl.load_workbook(out, read_only=True)["Guests"]
    rows = list(sheet.iter_rows(values_only=True))
    column = rows[0].index("Beverages")
    assert [r[column] for r in rows[1:]] == ["; ".join(b) for *_, b in DINNER]


def test_kade_rules_import_writes_a_rules_folder_that_decides_as_camunda(tmp_path):
    result = CliRunner().invoke(
        main, ["rules", "import", str(CAMUNDA / "dinnerDecisions.dmn"), "-o", str(tmp_path / "dinner")]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "dinner").iterdir()) == ["Dinner_Decisions.xlsx", "glossary.xlsx"]
    rules = engine.load_rules(tmp_path / "dinner")
    assert sorted(rules.entities) == ["rows"] and [t.name for t in rules.decisions] == ["Dish", "Beverages"]
    frame = pd.DataFrame(
        [r[:3] for r in DINNER + [(s, g, False, None) for s, g, _ in DISH]],
        columns=["season", "guestCount", "guestsWithChildren"],
    )
    decided = engine.evaluate_frame(rules, frame, entity="rows")
    assert list(decided["Beverages"][:3]) == [b for *_, b in DINNER]
    assert list(decided["Dish"][3:]) == [d for *_, d in DISH]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_kade_evaluate_reads_rows_from_csv_or_json(tmp_path, kind):
    data = tmp_path / f"guests.{kind}"
    if kind == "csv":
        data.write_text(
            "season,guestCount,guestsWithChildren\n" + "".join(f"{s},{g},{str(c).lower()}\n" for s, g, c, _ in DINNER)
        )
    else:
        rows = [{"season": s, "guestCount": g, "guestsWithChildren": c} for s, g, c, _ in DINNER]
        data.write_text(json.dumps(rows))
    out = tmp_path / "decided.json"
    result = CliRunner().invoke(
        main, ["evaluate", str(data), "--rules", str(CAMUNDA / "dinnerDecisions.dmn"), "-o", str(out), "--no-audit"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["sheets"]["guests"]
    assert [r["Beverages"] for r in rows] == ["; ".join(b) for *_, b in DINNER]  # a list, as the results write it


def test_a_json_file_that_is_not_rows_is_a_clear_error(tmp_path):
    data = tmp_path / "x.json"
    data.write_text('{"season": "Spring"}')
    result = CliRunner().invoke(
        main, ["evaluate", str(data), "--rules", str(CAMUNDA / "dinnerDecisions.dmn"), "--no-audit"]
    )
    assert result.exit_code == 2 and "a list of objects, one per row" in result.output


def test_structured_inputs_come_back_as_structured_input_data(tmp_path):
    tck = ROOT / "tests" / "data" / "dmn-tck" / "compliance-level-2" / "0008-LX-arithmetic" / "0008-LX-arithmetic.dmn"
    summary = import_dmn(tck, tmp_path / "rules")
    rules = engine.load_rules(summary.path)
    assert {"loan.principal", "loan.rate", "loan.termMonths"} <= set(rules.variables)
    back = load_dmn(export_dmn(rules))
    assert [p for p, _, _ in back.inputs["loan"].paths] == [("principal",), ("rate",), ("termMonths",)]
    assert evaluate_dmn(back, {"loan": {"principal": 600000, "rate": 0.0375, "termMonths": 360}}).decisions[
        "payment"
    ].value == pytest.approx(2778.69354943277)
