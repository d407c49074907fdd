#!/usr/bin/env python3
"""kade on Spark (local[2]) vs single-process kade on the same Parquet register.

The workload is the shipped rules (rules/) over the sample register
(workbooks/key_accounts.xlsx: 客户 320, 合同 600, 方案申请 400, SLA订单 500 rows,
with its deliberate bad cells) tiled to 1M and 10M rows: copy k of every row
gets '-k' appended to its ids and links (C0001 -> C0001-17), so every copy is
its own set of clients with their contracts, requests and orders. Written once
to benchmarks/data/register_<rows>/ (gitignored) as one Parquet file per sheet.

Each run is a fresh child process, timed from inside (interpreter start-up and
imports are left out; a SparkSession's start is timed apart):

* one machine: ``engine.pipeline.evaluate_to_file`` (what ``kade evaluate REG
  --format parquet`` calls): read, bind, evaluate with reasons, write Parquet;
  peak RSS from the child's rusage.
* Spark: ``engine.spark.job.evaluate_to_files`` (what ``kade evaluate REG --spark
  local[2]`` calls) with spark.driver.memory (in local mode the one executor's
  heap) set by --driver-memory; Spark's own executor metrics (REST API on
  127.0.0.1, process-tree RSS polled every second) give the JVM heap peak and
  the RSS of the JVM and of the Python workers.

No audit in either (both would record; the Spark audit is digests only). The
machine's load average is printed before and after each run: other work on the
machine slows both sides.

Usage::

    python benchmarks/bench_spark.py --sizes 1M,10M [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
DOC = ROOT / "docs" / "scale-out.md"
SAMPLE = ROOT / "workbooks" / "key_accounts.xlsx"
ID_COLUMNS = {
    "客户": ["客户编号"],
    "合同": ["合同编号", "客户编号"],
    "方案申请": ["申请编号", "客户编号"],
    "SLA订单": ["订单编号", "客户编号"],
}
SIZES = {"1M": 1_000_000, "10M": 10_000_000}


def register(rows: int) -> Path:
    """The tiled sample register with about ``rows`` rows (whole copies of the sample)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT))
    from engine.io.registers import read_workbook
    from engine.io.tables import arrow_table

    folder = DATA / f"register_{rows}"
    if folder.is_dir() and len(list(folder.glob("*.parquet"))) == 4:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    sheets = {s.name: arrow_table(s.frame) for s in read_workbook(SAMPLE)}
    sample_rows = sum(t.num_rows for t in sheets.values())
    copies = max(1, round(rows / sample_rows))
    for name, table in sheets.items():
        writer = None
        step = max(1, 2_000_000 // table.num_rows)  # copies written per row group batch
        for start in range(0, copies, step):
            ks = np.arange(start, min(copies, start + step))
            tiled = pa.concat_tables([table] * len(ks))
            suffix = pa.array(np.repeat(np.char.add("-", ks.astype(str)), table.num_rows))
            for column in ID_COLUMNS[name]:
                i = tiled.schema.get_field_index(column)
                tiled = tiled.set_column(i, column, pc.binary_join_element_wise(tiled[column], suffix, ""))
            if writer is None:
                writer = pq.ParquetWriter(folder / f"{name}.parquet", tiled.schema)
            writer.write_table(tiled, row_group_size=1_000_000)
        assert writer is not None
        writer.close()
    return folder


# ------------------------------------------------------------- children --------

ONE_MACHINE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import engine
from engine import pipeline
rules = engine.load_rules(sys.argv[2])
t1 = time.perf_counter()
run = pipeline.evaluate_to_file(sys.argv[1], rules, output=sys.argv[3], fmt="parquet", audit_options=pipeline.NO_AUDIT)
t2 = time.perf_counter()
rows = sum(len(r) for r in run.evaluation.rows.values())
print(json.dumps({"rows": rows, "seconds": t2 - t1, "startup": t1 - t0, "error_rows": run.error_rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SPARK = r"""
import json, sys, time, urllib.request
t0 = time.perf_counter()
import engine
from engine.spark import session
from engine.spark.job import evaluate_to_files
from engine.pipeline import NO_AUDIT
rules = engine.load_rules(sys.argv[2])
conf = json.loads(sys.argv[4])
spark = session("local[2]", conf=conf)
t1 = time.perf_counter()
run = evaluate_to_files(sys.argv[1], rules, master="local[2]", output=sys.argv[3], audit_options=NO_AUDIT, conf=conf)
t2 = time.perf_counter()
rows = sum(r.rows for r in run.evaluation.reports() if r.entity in run.evaluation.frames)
time.sleep(2.5)  # one more metrics poll
app = spark.sparkContext.applicationId
with urllib.request.urlopen(f"{spark.sparkContext.uiWebUrl}/api/v1/applications/{app}/executors", timeout=30) as r:
    executors = json.load(r)
peak = executors[0].get("peakMemoryMetrics", {})
print(json.dumps({"rows": rows, "seconds": t2 - t1, "startup": t1 - t0, "error_rows": run.error_rows,
                  "joins": run.evaluation.joins, "partitions": len(run.evaluation.reports()),
                  "heap_peak_mb": peak.get("JVMHeapMemory", 0) / 2**20,
                  "jvm_rss_peak_mb": peak.get("ProcessTreeJVMRSSMemory", 0) / 2**20,
                  "python_rss_peak_mb": peak.get("ProcessTreePythonRSSMemory", 0) / 2**20,
                  "max_heap_mb": spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory() / 2**20}))
spark.stop()
"""


def child(code: str, *args: str) -> dict:
    load = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=6 * 3600
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_before"], result["load_after"] = load, os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10M")
    parser.add_argument("--driver-memory", default="3g", help="spark.driver.memory (local mode: the executor heap)")
    parser.add_argument("--skip-one-machine", default="", help="sizes whose single-process run is skipped")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the Measured section of {DOC.name}")
    args = parser.parse_args()
    conf = {
        "spark.driver.memory": args.driver_memory,
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.ui.enabled": "true",  # the REST API the metrics are read from, on loopback only
        "spark.executor.processTreeMetrics.enabled": "true",
        "spark.executor.metrics.pollingInterval": "1s",
    }
    rows_out = []
    for label in args.sizes.split(","):
        folder = register(SIZES[label])
        with tempfile.TemporaryDirectory(dir=DATA) as tmp:
            one = None
            if label not in args.skip_one_machine.split(","):
                one = child(ONE_MACHINE, str(folder), str(ROOT / "rules"), f"{tmp}/one")
                print(f"{label} one machine: {json.dumps(one)}", file=sys.stderr)
            spark = child(SPARK, str(folder), str(ROOT / "rules"), f"{tmp}/spark", json.dumps(conf))
            print(f"{label} spark: {json.dumps(spark)}", file=sys.stderr)
        rows_out.append((label, folder, one, spark))
    report = render(rows_out, args.driver_memory)
    print(report)
    if args.write_docs:
        text = DOC.read_text(encoding="utf-8")
        start = text.index("## Measured")
        end = text.find("\n## ", start + 3)
        DOC.write_text(text[:start] + report + (text[end:] if end != -1 else ""), encoding="utf-8")


def render(results, driver_memory: str) -> str:
    lines = [
        "## Measured",
        "",
        f"`python benchmarks/bench_spark.py --sizes {','.join(r[0] for r in results)}` on {time.strftime('%Y-%m-%d')}: "
        f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {sys.version.split()[0]}, spark.driver.memory {driver_memory}. The machine is shared with other work: "
        "its 1-minute load average before and after each run is given.",
        "",
        "| rows | engine | seconds | rows/s | peak memory | load before → after | notes |",
        "|---:|---|---:|---:|---|---|---|",
    ]
    for _label, _folder, one, spark in results:
        if one:
            lines.append(
                f"| {one['rows']:,} | one process | {one['seconds']:.1f} | {one['rows'] / one['seconds']:,.0f} | "
                f"RSS {one['peak_rss_mb']:,.0f} MB | {one['load_before']:.1f} → {one['load_after']:.1f} | "
                f"{one['error_rows']:,} rows in error |"
            )
        lines.append(
            f"| {spark['rows']:,} | Spark local[2] | {spark['seconds']:.1f} | {spark['rows'] / spark['seconds']:,.0f} | "
            f"JVM heap {spark['heap_peak_mb']:,.0f} of {spark['max_heap_mb']:,.0f} MB; RSS JVM "
            f"{spark['jvm_rss_peak_mb']:,.0f} MB, Python workers {spark['python_rss_peak_mb']:,.0f} MB | "
            f"{spark['load_before']:.1f} → {spark['load_after']:.1f} | {spark['partitions']} partitions, "
            f"parents joined: {', '.join(sorted(set(spark['joins'].values())))}; session start {spark['startup']:.0f} s |"
        )
        if one:
            lines.append(f"| | ratio | {spark['seconds'] / one['seconds']:.2f} × the one-process time | | | | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
