"""kade on a real local Spark (local[2], pyspark from the test extra): the sample
register decided on Spark equals the one-machine run cell by cell - errors and
client links included - whatever the partitions hold; duplicate keys over
partitions; the audit's partition digests; explain on a Spark run."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import engine
from cli import main
from engine.audit import open_store
from engine.errors import MissingColumnError
from engine.evaluation.bind import bind
from engine.evaluation.decisions import evaluate
from engine.evaluation.results import result_frame
from engine.io.tables import read_register
from engine.spark.evaluate import evaluate as spark_evaluate
from engine.spark.job import partition_reports, read_tables, verify_outputs
from tests.helpers import SAMPLE, SAMPLE_KEYS, assert_same_cells, sample_as_parquet

ROOT = SAMPLE.parent.parent
RULES = ROOT / "rules"


@pytest.fixture(scope="module")
def rules():
    return engine.load_rules(RULES)


def small_row_groups(folder):
    """Rewrite each table with 64-row groups: Spark then splits it over partitions."""
    for file in folder.glob("*.parquet"):
        pq.write_table(pq.read_table(file), file, row_group_size=64)
    return folder


def one_machine(rules, folder) -> dict[str, pd.DataFrame]:
    evaluation = evaluate(rules, bind(rules, read_register(folder)))
    return {evaluation.rows[e].sheet: result_frame(evaluation, e) for e in evaluation.rows if evaluation.for_entity(e)}


def test_kade_evaluate_spark_equals_one_machine(spark, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reg = small_row_groups(sample_as_parquet(tmp_path / "reg"))
    one = CliRunner().invoke(main, ["evaluate", str(reg), "--rules", str(RULES), "-o", str(tmp_path / "one.parquet")])
    assert one.exit_code == 1, one.output
    done = CliRunner().invoke(
        main, ["evaluate", str(reg), "--rules", str(RULES), "--spark", "local[2]", "-o", str(tmp_path / "spark")]
    )
    assert done.exit_code == 1, done.output  # the sample's three bad rows, as on one machine
    assert done.output.split("wrote")[0] == one.output.split("wrote")[0]  # the same summary, line for line
    for sheet, key in SAMPLE_KEYS.items():
        expected = pq.read_table(tmp_path / "one.parquet" / f"{sheet}.parquet").to_pandas()
        got = pq.read_table(tmp_path / "spark" / sheet).to_pandas()
        assert_same_cells(expected, got, [key])
    contracts = pq.read_table(tmp_path / "spark" / "合同").to_pandas().set_index("合同编号")
    errors = contracts["kade.errors"].dropna()
    assert errors.str.contains("'1,2O0'").sum() == 1 and errors.str.contains("C9999 not found in sheet 客户").sum() == 1
    # the audit holds the header and one digest per partition; the written results match them
    store = open_store()
    run = store.runs()[-1]
    assert run["engine"] == "spark local[2]" and run["rows"]["contracts"] == 600
    assert all(f["sha256"] for f in run["rule_files"])
    reports = partition_reports(store, run["run_id"])
    for entity in ("clients", "contracts"):
        assert len([r for r in reports if r.entity == entity]) > 1  # spread over partitions, still joined
    assert sum(r.rows for r in reports) == 1820
    assert verify_outputs(store, run["run_id"], tmp_path / "spark") == []
    assert store.verify().ok
    # kade explain on the Spark run decides that row again
    why = CliRunner().invoke(main, ["explain", str(reg), "--row", "HT2026-0008", "--decision", "required_approver"])
    assert why.exit_code == 0, why.output
    assert "From Spark run" in why.output and "required_approver = bg_gm" in why.output
    # a changed result file no longer matches its partition's digest
    part = next((tmp_path / "spark" / "合同").glob("part-00000-*"))
    table = pq.read_table(part)
    changed = table.set_column(
        table.schema.get_field_index("required_approver"),
        "required_approver",
        pa.array(["bg_gm"] * table.num_rows),
    )
    pq.write_table(changed, part)
    assert any("differs from the run" in p for p in verify_outputs(store, run["run_id"], tmp_path / "spark"))
    store.close()


def test_duplicates_and_shuffle_joins_over_partitions(spark, rules, tmp_path):
    """Clients in three part files, the last repeating C0001 with other figures;
    contracts in many partitions. Nothing is broadcast: the clients' decisions
    reach the contracts through a shuffle join, and the later C0001 is the
    duplicate, as on one machine."""
    reg = small_row_groups(sample_as_parquet(tmp_path / "reg"))
    clients = pq.read_table(reg / "客户.parquet")
    (reg / "客户.parquet").unlink()
    (reg / "客户").mkdir()
    repeated = clients.slice(0, 1).to_pandas()
    repeated["年收入(百万元)"] = "12"
    parts = [clients.slice(0, 150), clients.slice(150), pa.Table.from_pandas(repeated, preserve_index=False)]
    for i, part in enumerate(parts):
        pq.write_table(part.cast(clients.schema), reg / "客户" / f"part-{i:05d}.parquet", row_group_size=64)
    frames = read_tables(spark, str(reg))
    done = spark_evaluate(rules, frames, broadcast_rows=0)
    assert done.joins == {"contracts": "shuffle", "solution_requests": "shuffle", "sla_orders": "shuffle"}
    assert done.duplicates["clients"] == 1
    expected = one_machine(rules, reg)
    for entity, frame in done.frames.items():
        sheet = done.sheets[entity]
        assert_same_cells(expected[sheet], frame.toPandas(), list(expected[sheet].columns[:2]))
    clients_out = expected["客户"]
    repeated_errors = clients_out[clients_out["客户编号"] == "C0001"]["kade.errors"].tolist()
    assert repeated_errors[0] is None and "appears more than once" in repeated_errors[1]
    done.unpersist()


def test_missing_column_fails_before_any_job(spark, rules, tmp_path):
    reg = sample_as_parquet(tmp_path / "reg")
    pq.write_table(pq.read_table(reg / "合同.parquet").drop_columns(["毛利率(%)"]), reg / "合同.parquet")
    with pytest.raises(MissingColumnError) as one:
        bind(rules, read_register(reg))
    frames = {name: spark.read.parquet(str(reg / f"{name}.parquet")) for name in SAMPLE_KEYS}
    jobs = spark.sparkContext.statusTracker().getJobIdsForGroup()
    with pytest.raises(MissingColumnError) as on_spark:
        spark_evaluate(rules, frames)
    assert on_spark.value.message == one.value.message
    assert spark.sparkContext.statusTracker().getJobIdsForGroup() == jobs


def test_spark_option_refuses_what_it_cannot_do(tmp_path):
    for extra in (["--format", "xlsx"], ["--in-place"], ["--engine", "durable"]):
        result = CliRunner().invoke(
            main, ["evaluate", str(tmp_path), "--rules", str(RULES), "--spark", "local[2]", *extra]
        )
        assert result.exit_code == 2, result.output
