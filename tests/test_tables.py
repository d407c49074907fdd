"""Registers that are not Excel: Parquet and CSV tables in, Parquet out, on one
machine - the same decisions as the workbook, bad inputs named."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import engine
from cli import main
from engine.errors import DataError, MissingColumnError
from engine.evaluation.bind import bind
from engine.evaluation.decisions import evaluate
from engine.evaluation.results import result_columns
from engine.io.registers import read_workbook
from engine.io.tables import read_register, read_tables, table_paths
from engine.io.writers import write_csv
from tests.helpers import SAMPLE, SAMPLE_KEYS, assert_same_cells, sample_as_parquet

ROOT = SAMPLE.parent.parent


@pytest.fixture(scope="module")
def rules():
    return engine.load_rules(ROOT / "rules")


def decisions(rules, sheets) -> dict[str, pd.DataFrame]:
    evaluation = evaluate(rules, bind(rules, sheets))
    return {e: result_columns(evaluation, e) for e in evaluation.rows if evaluation.for_entity(e)}


def test_parquet_and_csv_registers_decide_as_the_workbook(rules, tmp_path):
    parquet = sample_as_parquet(tmp_path / "parquet")
    assert sorted(table_paths(parquet)) == sorted(SAMPLE_KEYS)
    write_csv({s.name: s.frame for s in read_workbook(SAMPLE)}, tmp_path / "csv")
    expected = decisions(rules, read_workbook(SAMPLE))
    for folder in (parquet, tmp_path / "csv"):
        got = decisions(rules, read_register(folder))
        assert got.keys() == expected.keys()
        for entity, frame in expected.items():
            assert_same_cells(frame, got[entity], list(frame.columns[:3]))
    # the deliberate bad cells of the sample are reported from Parquet as from Excel
    errors = got["contracts"]["kade.errors"].dropna().tolist()
    assert any("'1,2O0'" in e for e in errors) and any("C9999 not found in sheet 客户" in e for e in errors)


def test_one_file_per_entity_and_a_spark_style_folder(rules, tmp_path):
    frame = pd.DataFrame({"客户编号": ["C1", "C2", "C2"], "客户名称": ["甲", "乙", "丙"]})
    (tmp_path / "客户").mkdir()
    pq.write_table(pa.Table.from_pandas(frame.iloc[:2], preserve_index=False), tmp_path / "客户" / "part-00000.parquet")
    pq.write_table(pa.Table.from_pandas(frame.iloc[2:], preserve_index=False), tmp_path / "客户" / "part-00001.parquet")
    (tmp_path / "客户" / "_SUCCESS").write_bytes(b"")
    (sheet,) = read_tables(tmp_path / "客户")
    assert sheet.name == "客户" and sheet.frame["客户名称"].tolist() == ["甲", "乙", "丙"]  # part files in name order
    (single,) = read_tables(tmp_path / "客户" / "part-00001.parquet")
    assert single.name == "part-00001" and len(single.frame) == 1


def test_cells_are_cells_as_in_a_sheet(tmp_path):
    table = pa.table(
        {
            "id": pa.array([1, None, 3], pa.int64()),
            "text": pa.array(["a", "", None]),
            "day": pa.array([pd.Timestamp("2026-01-31").date(), None, None], pa.date32()),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    (sheet,) = read_tables(tmp_path / "t.parquet")
    assert sheet.frame["id"].tolist()[0] == 1 and sheet.frame["id"].tolist()[1] is None
    assert sheet.frame["text"].tolist() == ["a", None, None]  # empty text is an empty cell
    (tmp_path / "c.csv").write_text("客户编号,年收入(百万元)\nC1, 1,200 \nC2,\n", encoding="utf-8")
    with pytest.raises(DataError):  # a row longer than the header: pandas' own message, named
        read_tables(tmp_path / "c.csv")
    (tmp_path / "c.csv").write_text('客户编号,年收入(百万元)\nC1," 1,200 "\nC2,\n', encoding="utf-8")
    (sheet,) = read_tables(tmp_path / "c.csv")
    assert sheet.frame["年收入(百万元)"].tolist() == [" 1,200 ", None]  # text, typed later by the glossary


def test_bad_table_inputs_say_what_is_wrong(tmp_path):
    with pytest.raises(DataError, match="register not found"):
        read_tables(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no \.parquet or \.csv tables"):
        read_tables(tmp_path / "empty")
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "客户.csv").write_text("客户编号\nC1\n", encoding="utf-8")
    pq.write_table(pa.table({"客户编号": ["C1"]}), tmp_path / "two" / "客户.parquet")
    with pytest.raises(DataError, match="two tables named '客户'"):
        read_tables(tmp_path / "two")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "客户.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"broken/客户\.parquet.*cannot read table"):
        read_tables(tmp_path / "broken")


def test_missing_column_in_a_table_names_it(rules, tmp_path):
    sample_as_parquet(tmp_path / "reg")
    clients = pq.read_table(tmp_path / "reg" / "客户.parquet").drop_columns(["欠费率(%)"])
    pq.write_table(clients, tmp_path / "reg" / "客户.parquet")
    with pytest.raises(MissingColumnError, match=r"sheet '客户' has no column 欠费率\(%\)"):
        bind(rules, read_register(tmp_path / "reg"))


def test_kade_evaluate_a_parquet_folder(tmp_path):
    reg = sample_as_parquet(tmp_path / "reg")
    rules = str(ROOT / "rules")
    result = CliRunner().invoke(main, ["evaluate", str(reg), "--rules", rules])
    assert result.exit_code == 1, result.output  # the sample's three bad rows
    out = tmp_path / "reg.kade"  # tables in, tables out: a Parquet folder beside the input
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.parquet" for name in SAMPLE_KEYS)
    contracts = pq.read_table(out / "合同.parquet").to_pandas()
    assert contracts["required_approver"].notna().sum() == 597
    assert pq.read_table(out / "合同.parquet").schema.field("legal_review").type == pa.bool_()
    escalation = pq.read_table(out / "方案申请.parquet").schema.field("escalation").type
    assert escalation == pa.list_(pa.string())  # a collect table's lists stay lists
    result = CliRunner().invoke(main, ["evaluate", str(reg), "--rules", rules, "-o", str(tmp_path / "d.json")])
    doc = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert len(doc["sheets"]["客户"]) == 320
    # audited with the hash of the tables; explain finds the run by the folder
    result = CliRunner().invoke(main, ["explain", str(reg), "--row", "HT2026-0008", "--decision", "required_approver"])
    assert result.exit_code == 0, result.output
    assert "From audited run" in result.output and "required_approver = bg_gm" in result.output


def test_kade_check_and_rules_learn_read_a_parquet_folder_as_the_workbook(tmp_path):
    reg = sample_as_parquet(tmp_path / "reg")
    rules = str(ROOT / "rules")
    from_tables = CliRunner().invoke(main, ["check", str(reg), "--rules", rules, "--no-audit"])
    from_book = CliRunner().invoke(main, ["check", str(SAMPLE), "--rules", rules, "--no-audit"])
    assert from_tables.exit_code == from_book.exit_code == 1
    assert "143 findings" in from_tables.output and from_tables.output == from_book.output
    learned = CliRunner().invoke(
        main, ["rules", "learn", str(reg), "--decision", "required_approver", "-o", str(tmp_path / "l.xlsx")]
    )
    assert learned.exit_code == 0, learned.output
    assert "from 591 rows of column '审批人级别'" in learned.output and (tmp_path / "l.xlsx").exists()


def test_spark_without_the_extra_says_how_to_install_it(monkeypatch):
    """pyspark is the kade[spark] extra, not a dependency of every install."""
    import sys

    from engine.errors import KadeError
    from engine.spark import require_pyspark

    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if not installed: importing it fails
    with pytest.raises(KadeError, match=r"pip install 'kade\[spark\]'"):
        require_pyspark()
