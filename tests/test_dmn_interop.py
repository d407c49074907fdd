"""kade's DMN with other tools' code and models: the exported shipped rules are
read by dmn-moddle (the parser under dmn-js and Camunda Modeler) with no
warning, seeing every table as kade wrote it."""

from pathlib import Path

import pytest

import engine
from engine import feel
from engine.dmn.export import write_dmn

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
