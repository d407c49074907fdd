"""``kade evaluate DATA --spark MASTER``: read a register's Parquet/CSV tables with
Spark (any filesystem Spark reads: a local path, hdfs://, s3a://...), decide them
with ``engine.spark.evaluate``, write one results folder per sheet, and record
the run in the audit trail - its header, the rule files' SHA-256 and, per
partition, the row count and a digest of its input and output rows (rows are
not copied into the audit database). ``explain_row`` decides one row of such a
run again on one machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine import audit
from engine.audit.records import Origin, rule_annotations, run_header
from engine.errors import DataError, OutputError
from engine.evaluation import results
from engine.io.tables import find_tables
from engine.model import RuleSet
from engine.spark import session
from engine.spark.evaluate import BROADCAST_ROWS, SparkEvaluation, evaluate
from engine.spark.partition import ORDER, PartitionReport
from engine.text import LIST_SEPARATOR
from engine.version import __version__

FORMATS = ("parquet", "csv", "json")
ROW_BITS = 40  # ORDER = file number << 40 | row in file


@dataclass
class SparkRun:
    """One Spark evaluation as the user sees it (as ``engine.pipeline.EvaluationRun``)."""

    evaluation: SparkEvaluation
    summary: list[results.DecisionSummary]
    error_rows: int
    output: str
    run_id: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.error_rows else 0

    def summary_lines(self) -> list[str]:
        return results.summary_lines(self.summary, self.evaluation.skipped, self.error_rows)


def read_tables(spark, path: str) -> dict[str, object]:
    """Each table of a Parquet/CSV input (a file, a folder of part files, or a
    folder of tables) as a DataFrame whose rows carry their position as read:
    Parquet files in name order, rows in file order, as one machine reads them
    (CSV rows: Spark's partition order, which is the file order for one file)."""
    from pyspark.sql import functions as F

    tables = find_tables(path, _hadoop_listing(spark))
    frames: dict[str, object] = {}
    parquet = []
    for name, location in tables.items():
        if _is_csv(spark, location):
            frame = spark.read.option("header", True).option("encoding", "UTF-8").csv(location)
            first = frame.columns[0] if frame.columns else None
            if first is not None and first.startswith("\ufeff"):  # kade's CSVs have a BOM for Excel
                frame = frame.withColumnRenamed(first, first[1:])
            frames[name] = frame.withColumn(ORDER, F.monotonically_increasing_id())
        else:
            frames[name] = spark.read.parquet(location)
            parquet.append(name)
    jvm = spark.sparkContext._jvm
    for name in parquet:  # file number: the file's place in name order (the names as _metadata gives them)
        paths = [jvm.org.apache.hadoop.fs.Path(f) for f in frames[name].inputFiles()]  # type: ignore[attr-defined]
        ranked = sorted(paths, key=lambda p: p.toString())
        keys = {form: i for i, p in enumerate(ranked) for form in (p.toString(), p.toUri().toString())}
        mapping = F.create_map(*[F.lit(x) for pair in keys.items() for x in pair])
        order = F.shiftleft(mapping[F.col("_metadata.file_path")].cast("long"), ROW_BITS) + F.col("_metadata.row_index")
        frames[name] = frames[name].withColumn(ORDER, order)  # type: ignore[attr-defined]
    return frames


def _hadoop(spark, path: str):
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path, hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def _hadoop_listing(spark):
    """``find_tables``' listing through Hadoop's FileSystem (every filesystem Spark reads)."""

    def listing(path: str):
        hadoop_path, fs = _hadoop(spark, path)
        if not fs.exists(hadoop_path):
            raise DataError(f"register not found: {path}")
        if not fs.getFileStatus(hadoop_path).isDirectory():
            return None
        children = [(str(s.getPath()), bool(s.isDirectory())) for s in fs.listStatus(hadoop_path)]
        return sorted(children)

    return listing


def _is_csv(spark, location: str) -> bool:
    if location.lower().endswith(".csv"):
        return True
    listing = _hadoop_listing(spark)(location) or []
    return any(child.lower().endswith(".csv") for child, _ in listing)


def default_output(data: str) -> str:
    return data.rstrip("/").removesuffix(".parquet").removesuffix(".csv") + ".kade"


def evaluate_to_files(
    data: str | Path,
    rules: RuleSet,
    *,
    master: str | None = None,
    output: str | Path | None = None,
    fmt: str | None = None,
    audit_options=None,
    conf: dict[str, str] | None = None,
    broadcast_rows: int = BROADCAST_ROWS,
) -> SparkRun:
    """Decide every row of DATA's tables on Spark and write ``OUT/<sheet>/`` (part
    files, as Spark writes) for each evaluated sheet, as parquet (default), csv
    or json lines. ``master`` None: the session spark-submit (or an existing
    session) gives."""
    from engine.pipeline import AuditOptions, audit_store

    data = str(data)
    fmt = fmt or "parquet"
    if fmt not in FORMATS:
        raise OutputError(f"--spark writes {', '.join(FORMATS)} (a folder per sheet), not {fmt}")
    out = str(output) if output is not None else default_output(data)
    if out.rstrip("/") == data.rstrip("/"):
        raise OutputError("the output would overwrite the input; choose another -o")
    audit_options = audit_options or AuditOptions()
    spark = session(master, conf=conf)
    frames = read_tables(spark, data)
    with audit_store(audit_options) as store:
        done = evaluate(rules, frames, broadcast_rows=broadcast_rows)
        try:
            for entity, frame in done.frames.items():
                _write(frame, f"{out.rstrip('/')}/{done.sheets[entity]}", fmt)
        finally:
            done.unpersist()
        run = SparkRun(done, done.summary(), done.error_rows(), out)
        run.notes += [
            f"{n:,} {entity} row(s) repeat an earlier key (see kade.errors)"
            for entity, n in done.duplicates.items()
            if n
        ]
        if store is not None:
            master_used = spark.sparkContext.master
            run.run_id = record(store, done, data=data, master=master_used, origin_user=audit_options.user)
    return run


def _write(frame, target: str, fmt: str) -> None:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if fmt == "csv":  # a list (multi-hit output) as 'a; b', as the one-machine CSV has it
        lists = [f.name for f in frame.schema.fields if isinstance(f.dataType, T.ArrayType)]
        for name in lists:
            frame = frame.withColumn(name, F.array_join(F.col(f"`{name}`"), LIST_SEPARATOR))
        frame.write.mode("overwrite").option("header", True).csv(target)
    elif fmt == "json":
        frame.write.mode("overwrite").json(target)
    else:
        frame.write.mode("overwrite").parquet(target)


# ----------------------------------------------------------------- audit -------


def record(store, done: SparkEvaluation, *, data: str, master: str, origin_user: str | None = None) -> str:
    """The run in the audit trail: the header (who, when, the input, the rule
    files' SHA-256), one entry per partition (rows, first and last key, SHA-256
    of its input and output rows) and the end (rows, rows in error). The
    input's hash is the hash of its partitions' input digests."""
    import hashlib

    import pyarrow as pa

    from engine.audit.records import _ipc

    reports = [r for r in done.reports() if r.entity in done.frames]
    digest = hashlib.sha256("".join(r.input_sha256 for r in reports).encode("ascii")).hexdigest()
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.entity] = counts.get(r.entity, 0) + r.rows
    local = "://" not in data and not data.startswith("file:")
    origin = Origin("cli", str(Path(data).resolve()) if local else data, digest, origin_user)
    header = run_header(
        command="evaluate --spark",
        engine=f"spark {master}",
        origin=origin,
        rule_files=done.rules.sources,
        row_counts=counts,
        version=__version__,
    )
    header["annotations"] = rule_annotations(done.rules)
    header["digests"] = "per partition: SHA-256 of its input rows and of its output rows (engine.spark.partition)"
    header["joins"] = done.joins
    header["sheets"] = done.sheets
    chunks = []
    for r in reports:
        table = pa.table(
            {
                "partition": [r.partition],
                "rows": [r.rows],
                "first_key": [r.first_key],
                "last_key": [r.last_key],
                "input_sha256": [r.input_sha256],
                "output_sha256": [r.output_sha256],
                "rows_with_errors": [r.error_rows],
            }
        )
        chunks.append((r.entity, f"n={r.rows} partition {r.partition}", _ipc(table)))
    footer = {"rows": sum(counts.values()), "rows_with_errors": sum(r.error_rows for r in reports)}
    return store.append_run(header, chunks, footer)


def partition_reports(store, run_id: str) -> list[PartitionReport]:
    """The partition entries of an audited Spark run."""
    out = []
    for chunk in store.chunks(run_id):
        row = chunk.table().to_pylist()[0]
        out.append(
            PartitionReport(
                chunk.entity,
                row["partition"],
                row["rows"],
                row["first_key"],
                row["last_key"],
                row["input_sha256"],
                row["output_sha256"],
                row["rows_with_errors"],
            )
        )
    return out


def verify_outputs(store, run_id: str, output: str | Path) -> list[str]:
    """Compare each written part file (local Parquet results) with the digest its
    partition recorded: the problems found, none when the results are the run's."""
    import pyarrow.parquet as pq

    from engine.spark.partition import RowsDigest

    run = store.run(run_id)
    problems = []
    sheets = run.get("sheets", {})
    for report in partition_reports(store, run["run_id"]):
        folder = Path(output) / sheets.get(report.entity, report.entity)
        files = sorted(folder.glob(f"part-{report.partition:05d}-*"))
        if not files and report.rows == 0:  # Spark writes no file for an empty partition
            continue
        if len(files) != 1:
            problems.append(f"{report.entity} partition {report.partition}: {len(files)} part files in {folder}")
            continue
        table = pq.read_table(files[0])
        digest = RowsDigest(table.column_names)
        digest.update(table)
        if digest.hexdigest() != report.output_sha256 or table.num_rows != report.rows:
            problems.append(f"{report.entity} partition {report.partition}: {files[0].name} differs from the run")
    return problems


# --------------------------------------------------------------- explain -------


def explain_row(run: dict, data: str | Path, key: str, rules_path=None) -> tuple[str, list[tuple[str, dict]], RuleSet]:
    """Decide again, on one machine, the rows of a Spark run's input whose key is
    ``key`` (with their parent rows): (where the answer comes from, audited-row
    records, the rules). The rules are the run's rule files when their
    SHA-256 is unchanged; otherwise the current rules, and the answer says so."""
    from engine.evaluation.bind import bind
    from engine.evaluation.decisions import evaluate as evaluate_rows
    from engine.model.rulebook import default_rules_path, load_rules

    files = [f["path"] for f in run["rule_files"]]
    same = all(Path(f).is_file() and audit.sha256_file(f) == h["sha256"] for f, h in zip(files, run["rule_files"]))
    if same and files:
        folder = Path(files[0]).parent
        rules = load_rules(folder if len(files) > 1 else files[0])
        rules_note = "the run's rule files (unchanged)"
    else:
        rules = load_rules(rules_path if rules_path is not None else default_rules_path())
        rules_note = "the current rules: the run's rule files have changed since"
    sheets = _rows_with_key(rules, Path(data), key)
    evaluation = evaluate_rows(rules, bind(rules, sheets, str(data)), trace=True)
    records = [
        (entity, row)
        for entity in evaluation.rows
        if evaluation.for_entity(entity)
        for row in audit.row_table(evaluation, entity).to_pylist()
        if row["key"] == key
    ]
    source = (
        f"Spark run {run['run_id']} of {run['time']} by {run['user']} ({run['engine']}): "
        f"the row decided again on one machine with {rules_note}"
    )
    return source, records, rules


def _rows_with_key(rules: RuleSet, data: Path, key: str):
    """The rows of each table whose key is ``key``, and the parent rows they link
    to (Parquet is read with a filter: only matching rows are loaded)."""
    import pandas as pd

    from engine.evaluation.bind import find_column, variable_column
    from engine.io.registers import Sheet, find_sheet
    from engine.io.tables import table_paths

    tables = table_paths(data)
    headers = {name: _columns(location) for name, location in tables.items()}
    sheets = [Sheet(name, pd.DataFrame(columns=columns, dtype=object)) for name, columns in headers.items()]
    keys: dict[str, str] = {}  # sheet -> its key column
    links: dict[str, tuple[str, str]] = {}  # sheet -> (link column, parent sheet)
    for entity_name, entity in rules.entities.items():
        sheet = find_sheet(sheets, entity.sheets + (entity_name,))
        column = variable_column(rules.variables[entity.key], headers[sheet.name]) if sheet is not None else None
        if sheet is None or column is None:
            continue
        keys[sheet.name] = column
        parent = rules.entities.get(entity.parent or "")
        parent_sheet = find_sheet(sheets, parent.sheets + (parent.name,)) if parent is not None else None
        link = find_column(headers[sheet.name], entity.link or ())
        if parent_sheet is not None and link is not None:
            links[sheet.name] = (link, parent_sheet.name)
    found = {name: _matching(tables[name], column, {key}) for name, column in keys.items()}
    for name, (link, parent_name) in links.items():  # the parents of the rows found
        wanted = {str(v).strip() for v in found[name][link].dropna()}
        if wanted and parent_name in keys:
            more = _matching(tables[parent_name], keys[parent_name], wanted)
            found[parent_name] = pd.concat([found[parent_name], more], ignore_index=True).drop_duplicates()
    return [Sheet(sheet.name, found.get(sheet.name, sheet.frame)) for sheet in sheets]


def _columns(location: Path) -> list[str]:
    import pyarrow.parquet as pq

    if _is_csv_table(location):
        return list(_csv_rows(location).columns)
    files = [location] if location.is_file() else sorted(location.glob("*.parquet"))
    return list(pq.read_schema(files[0]).names)


def _is_csv_table(location: Path) -> bool:
    return location.suffix.lower() == ".csv" or (location.is_dir() and any(location.glob("*.csv")))


def _csv_rows(location: Path):
    from engine.io.tables import read_tables

    return read_tables(location)[0].frame


def _matching(location: Path, column: str, values: set[str]):
    """Rows whose ``column`` holds one of ``values`` (compared as trimmed text)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from engine.io.tables import cell_frame

    if _is_csv_table(location):  # CSV cells are text; a register in CSV is read whole
        rows = _csv_rows(location)
        return rows[rows[column].astype(str).str.strip().isin(values)].reset_index(drop=True)
    text = pc.utf8_trim_whitespace(ds.field(column).cast(pa.string()))
    table = ds.dataset(location, format="parquet").to_table(filter=pc.is_in(text, value_set=pa.array(sorted(values))))
    return cell_frame(table.to_pandas())
