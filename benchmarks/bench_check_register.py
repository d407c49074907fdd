#!/usr/bin/env python3
"""Benchmark `kade check` on big registers: time per stage and peak memory.

    python benchmarks/bench_check_register.py                      # 100k, 500k, 1,048,576 rows
    python benchmarks/bench_check_register.py --sizes 100k          # one size
    python benchmarks/bench_check_register.py --write-docs          # also update docs/performance.md

Registers: ``workbooks/generate_sample.build_frames`` scaled up (the shipped
sample's four sheets in its proportions - clients : contracts : requests : SLA
orders = 320 : 600 : 400 : 500 - with its recorded columns and their planted
violations, about 5.5 % of rows), cut to exactly N rows in total and written
with ``engine.io.xlsx_stream`` to ``benchmarks/data/check_register_<N>.xlsx``
(gitignored; kept between runs, ``--force`` rebuilds). Deterministic.

Each size is checked in a fresh child process doing what the `kade check`
command does: ``load_rules``, ``read_workbook``, ``compliance.check_sheets``
(every decision, near misses on, reasons only for the rows with a finding),
``compliance_report.write_report``, ``audit.record`` into a new SQLite file, and
the text summary. Peak memory is the child's VmHWM (/proc/self/status): its own
peak, not its parent's. Target: 1,048,576 rows within 3 GB, time linear in rows.

Not a pytest test. ``--write-docs`` replaces the ``kade check`` section of
docs/performance.md (between ``<!-- check:start -->`` and ``<!-- check:end -->``,
appended at the end the first time); the rest of that file is not touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- check:start -->", "<!-- check:end -->"
DEFAULT_SIZES = (100_000, 500_000, 1_048_576)
MEMORY_TARGET_MB = 3 * 1024
SAMPLE_ROWS_PER_CLIENT = (320 + 600 + 400 + 500) / 320  # rows of all four sheets per client in the sample

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "workbooks"))
sys.path.insert(0, str(HERE))

from common import record_run, write_section  # noqa: E402
from sample_register import size, write_register  # noqa: E402


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


# ------------------------------------------------------------ registers -------


def register_path(rows: int) -> Path:
    return DATA / f"check_register_{rows}.xlsx"


def build_register(rows: int, force: bool = False) -> Path:
    """The sample generator at scale, cut to exactly ``rows`` rows in total."""
    path = register_path(rows)
    if path.exists() and not force:
        return path
    import generate_sample as sample

    clients = max(sample.MIN_CLIENTS, int(rows / SAMPLE_ROWS_PER_CLIENT) + 1)  # a few rows too many, cut below
    frames = sample.build_frames(clients)
    excess = sum(len(f) for f in frames.values()) - rows
    last = sample.SHEET_SLA
    if excess > 0:  # the rounding of the sheet sizes: drop the last SLA orders
        frames[last] = frames[last].iloc[: len(frames[last]) - excess]
    elif excess < 0:
        raise SystemExit(f"the generator made {rows + excess:,} rows, fewer than {rows:,}")
    return write_register(frames, path, booleans_as_text=False)


# ------------------------------------------------------------- the child ------


def child(workbook: Path) -> dict:
    """What `kade check WORKBOOK --report OUT` does, stage by stage."""
    import engine
    from engine.analysis import compliance, compliance_report

    stages: dict[str, float] = {}
    memory: dict[str, float] = {}

    def stage(name: str, start: float):
        stages[name] = time.perf_counter() - start
        memory[name] = _status_mb("VmHWM")

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        rules = engine.load_rules(ROOT / "rules")
        stage("load_rules", t)
        t = time.perf_counter()
        sheets = engine.read_workbook(workbook)
        stage("read_workbook", t)
        t = time.perf_counter()
        result = compliance.check_sheets(rules, sheets, source=str(workbook), trace=True)
        stage("check", t)
        t = time.perf_counter()
        compliance_report.write_report(result, Path(tmp) / "report.xlsx")
        stage("write_report", t)
        t = time.perf_counter()
        audit_bytes = record_run(result.evaluation, Path(tmp) / "audit.sqlite", workbook, "check")
        stage("audit", t)
        t = time.perf_counter()
        result.render_text()
        stage("text", t)
        report_bytes = (Path(tmp) / "report.xlsx").stat().st_size
    totals = result.totals()
    return {
        "rows": sum(len(s.frame) for s in sheets),
        "stages": stages,
        "peak_after": memory,
        "peak_mb": _status_mb("VmHWM"),
        "findings": totals["findings"],
        "errors": totals["errors"],
        "exit_code": result.exit_code,
        "audit_bytes": audit_bytes,
        "report_bytes": report_bytes,
    }


def run_child(workbook: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(workbook)], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed on {workbook}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------- the report -----

STAGES = ("read_workbook", "check", "write_report", "audit", "text")


def render(results: list[dict]) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python benchmarks/bench_check_register.py`; "
        f"{cpu}, nproc = {os.cpu_count()}, Python {platform.python_version()}. One run per size, each in a fresh process.",
        "",
        "| rows | read (s) | check (s) | report (s) | audit (s) | total (s) | µs per row | peak memory (MB) | findings | not checked | target ≤ 3 GB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for r in results:
        s = r["stages"]
        total = sum(s[k] for k in STAGES)
        lines.append(
            f"| {r['rows']:,} | {s['read_workbook']:.1f} | {s['check']:.1f} | {s['write_report']:.1f} | {s['audit']:.1f} | "
            f"**{total:.1f}** | {1e6 * total / r['rows']:.1f} | {r['peak_mb']:,.0f} | {r['findings']:,} | {r['errors']:,} | "
            f"{'met' if r['peak_mb'] <= MEMORY_TARGET_MB else 'missed'} |"
        )
    lines += [
        "",
        "Peak memory (VmHWM, MB) reached by the end of each stage:",
        "",
        "| rows | read | check | report | audit |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        m = r["peak_after"]
        lines.append(
            f"| {r['rows']:,} | {m['read_workbook']:,.0f} | {m['check']:,.0f} | {m['write_report']:,.0f} | {m['audit']:,.0f} |"
        )
    if len(results) > 1:
        small, big = results[0], results[-1]
        per_row = [sum(r["stages"][k] for k in STAGES) / r["rows"] for r in (small, big)]
        lines += [
            "",
            f"Linearity: {big['rows'] / small['rows']:.1f}× the rows took "
            f"{sum(big['stages'][k] for k in STAGES) / sum(small['stages'][k] for k in STAGES):.1f}× the time "
            f"({1e6 * per_row[0]:.1f} → {1e6 * per_row[1]:.1f} µs per row).",
        ]
    lines += [
        "",
        "Audit: "
        + ", ".join(f"{r['rows']:,} rows {r['audit_bytes'] / r['rows']:.0f} bytes per row" for r in results)
        + "; report workbook: "
        + ", ".join(f"{r['report_bytes'] / 1e6:.1f} MB" for r in results)
        + ".",
    ]
    return "\n".join(lines)


SECTION_INTRO = """How long `kade check` takes and how much memory it needs on big registers. Run:

```sh
python benchmarks/bench_check_register.py --write-docs
```

The registers are `workbooks/generate_sample.py` scaled up: the sample's four sheets in its
proportions (clients : contracts : requests : SLA orders = 320 : 600 : 400 : 500), with the
recorded columns and their planted violations (about 5 % of rows), cut to exactly N rows in all
and kept in `benchmarks/data/` (building the 1M-row one takes about three minutes). Each size
runs once in a fresh process doing what the command does: read, check (every decision, no
reasons; reasons and near misses only for the rows with a finding), write the report workbook,
record the audit run in a new SQLite file, print the text. Peak memory is the process's own
VmHWM. Target: 1,048,576 rows within 3 GB, time linear in rows. Results (replaced by
`--write-docs`):"""


def write_docs(text: str):
    """Replace (or append) only the kade check section of docs/performance.md."""
    write_section(START, END, text, "## kade check\n\n" + SECTION_INTRO + "\n\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="total rows, e.g. 100k,500k,1048576"
    )
    parser.add_argument("--force", action="store_true", help="rebuild the registers")
    parser.add_argument(
        "--write-docs", action="store_true", help="update the kade check section of docs/performance.md"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return
    results = []
    for rows in [size(s) for s in args.sizes.split(",")]:
        workbook = build_register(rows, args.force)
        results.append(run_child(workbook))
        print(
            f"{rows:,} rows: {sum(results[-1]['stages'][k] for k in STAGES):.1f} s, "
            f"peak {results[-1]['peak_mb']:,.0f} MB",
            file=sys.stderr,
        )
    text = render(results)
    print(text)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
