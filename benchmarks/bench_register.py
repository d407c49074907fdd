#!/usr/bin/env python3
"""The real workload: the shipped rules (rules/) over the sample register
(workbooks/generate_sample.py) generated at 100k and 1,048,575 rows per sheet.

    python benchmarks/bench_register.py                        # 100k and 1,048,575 rows per sheet
    python benchmarks/bench_register.py --sizes 100k --repeat 3 # quick
    python benchmarks/bench_register.py --write-docs           # also update docs/performance.md

Registers (``benchmarks/sample_register.py``, gitignored, built on first use):
``all sheets``: 客户, 合同, 方案申请 and SLA订单, N rows each, every decision of the
shipped rules (15); ``客户 only``: the clients sheet alone, N rows (its six decisions).

Each measurement is a fresh child process, so its peak RSS (VmHWM) is its own:

* ``pipeline``: what `kade evaluate WORKBOOK -o OUT.xlsx` does, stage by stage
  (read, bind, evaluate with reasons - and near misses when audited -, result frames,
  summary, write the results copy, record the audit run in a fresh SQLite file),
  audit off and on; peak memory after each stage.
* ``api``: ``engine.evaluate_workbook`` and ``engine.result_frame`` per sheet (the
  documented library calls), audit off.
* ``baseline``: the calamine read (``engine.read_workbook`` with ``KADE_READER=calamine``)
  plus kade's own writer (``engine.io.writers.write_xlsx``) writing the same columns the
  same way: a copy of the input with the decision columns of a kade run (loaded before the
  clock starts) appended, and the summary sheet. ``baseline_kade``: the same with kade's
  own reader (``engine/io/xlsx_read.py``), the one ``kade evaluate`` uses: the stricter
  comparison, reported beside the target's.
* ``cli``: the `kade evaluate` command itself, audit off and on (wall clock and the
  child's peak RSS from wait4; interpreter start-up and rule loading included).

Targets (issue 18): end to end at 100k rows per sheet with the audit ≤ 1.25 × baseline;
客户 at 1,048,575 rows with the audit ≤ 3 GB peak RSS and t(1M) / t(100k) ≤ 10.5.
Not a pytest test. ``--write-docs`` replaces the section between
``<!-- register:start -->`` and ``<!-- register:end -->`` in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

# kade first, as in cli.py: it sets pyarrow's allocator up (engine/__init__.py), which
# pyarrow reads when it loads - pandas loads it too
import engine  # noqa: E402, I001
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402

import sample_register  # noqa: E402  (benchmarks/sample_register.py)
from common import code_version, kade_command, machine, record_run, vm_hwm_mb, write_section  # noqa: E402

START, END = "<!-- register:start -->", "<!-- register:end -->"
LINEARITY_START, LINEARITY_END = "<!-- linearity:start -->", "<!-- linearity:end -->"
RULES = ROOT / "rules"
CLIENTS = "客户"
STAGES = ("read", "bind", "evaluate", "result_frame", "summarize", "write", "audit")
MEMORY_TARGET_MB = 3 * 1024
RATIO_TARGET = 1.25
LINEARITY_TARGET = 10.5


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


# ------------------------------------------------------------------ inputs ----


def register(rows: int, only: str | None) -> Path:
    """The register of ``rows`` rows per sheet; ``only``: that sheet alone."""
    full = sample_register.build_register(rows)
    if only is None:
        return full
    path = sample_register.DATA / f"sample_register_{rows}_{only}.xlsx"
    if not path.exists():  # that sheet of the full register, read alone
        from python_calamine import CalamineWorkbook

        from engine.io import xlsx_stream
        from engine.io.registers import frame_from_rows
        from engine.io.writers import atomic_path

        cells = CalamineWorkbook.from_path(str(full)).get_sheet_by_name(only).to_python(skip_empty_area=True)
        frame = frame_from_rows(cells)
        del cells
        with atomic_path(path) as tmp:
            xlsx_stream.write(tmp, [xlsx_stream.SheetSpec(only, frame, freeze=(1, 0))])
    return path


# -------------------------------------------------------------- the children ----


def child_pipeline(workbook: Path, out: Path, audit: bool) -> dict:
    """pipeline.evaluate_to_file, stage by stage."""
    from engine.evaluation import results
    from engine.io import writers

    rules = engine.load_rules(RULES)
    times: dict[str, float] = {}
    peaks: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str):
        nonlocal clock
        now = time.perf_counter()
        times[name] = now - clock
        peaks[name] = vm_hwm_mb()
        clock = now

    source = writers.source_for(workbook, start=False)  # indexing from the end of the scan, as kade does
    sheets = engine.read_workbook(workbook, scanned=source.start if source else None)
    stage("read")
    rows = engine.bind(rules, sheets, str(workbook))
    stage("bind")
    evaluation = engine.evaluate(rules, rows, trace=audit)
    stage("evaluate")
    frames, computed = results.sheet_results(evaluation, deferred=True)  # as kade evaluate
    stage("result_frame")
    summary = results.summarize(evaluation)
    errors = results.error_rows(evaluation)
    stage("summarize")
    origins = {s.name: s.origin for s in sheets}
    writers.write_xlsx(frames, out, results.summary_rows(summary), source, origins, computed=computed)
    stage("write")
    audit_bytes = record_run(evaluation, out.with_suffix(".sqlite"), workbook, "evaluate") if audit else 0
    stage("audit")
    return {
        "times": times,
        "peaks": peaks,
        "total": sum(times.values()),
        "peak_mb": vm_hwm_mb(),
        "rows": {e: len(r) for e, r in evaluation.rows.items() if evaluation.for_entity(e)},
        "decisions": len(evaluation.results),
        "error_rows": errors,
        "audit_bytes": audit_bytes,
    }


def child_api(workbook: Path) -> dict:
    """The documented library calls: evaluate_workbook, then result_frame per sheet."""
    rules = engine.load_rules(RULES)
    start = time.perf_counter()
    evaluation = engine.evaluate_workbook(rules, workbook)
    frames = [engine.result_frame(evaluation, e) for e in evaluation.rows if evaluation.for_entity(e)]
    total = time.perf_counter() - start
    return {"total": total, "peak_mb": vm_hwm_mb(), "cells": sum(f.size for f in frames)}


def child_baseline(workbook: Path, out: Path, reference: Path) -> dict:
    """Read the register and write the same columns kade writes, with kade's writer,
    as kade does (a copy of the input with the decision columns appended), without
    evaluating: the decision columns are those of a kade run, loaded first."""
    from engine.io import writers

    # kade's own results at 100k rows x 4 sheets unpack to over 1 GB (reasons are long): past the
    # default limit for reading a workbook, so the reference is read with a higher one
    os.environ["KADE_MAX_UNPACKED_MB"] = "8192"
    os.environ["KADE_MAX_CELLS"] = "100000000"  # and at 1M rows it has more cells than the default
    decided = {s.name: s.frame for s in engine.read_workbook(reference)}
    summary = decided.pop("kade summary")
    start = time.perf_counter()
    source = writers.source_for(workbook, start=False)  # indexing from the end of the scan, as kade does
    sheets = engine.read_workbook(workbook, scanned=source.start if source else None)
    read = time.perf_counter() - start
    frames = {}
    for sheet in sheets:
        if sheet.name in decided:  # the data as read, then the decision columns kade added
            extra = decided[sheet.name].iloc[:, len(sheet.frame.columns) :].reset_index(drop=True)
            for name in [c for c in extra.columns if str(c).endswith(".reason")]:  # Arrow text, as kade has them
                extra[name] = extra[name].astype(pd.ArrowDtype(pa.string()))
            frames[sheet.name] = pd.concat([sheet.frame.reset_index(drop=True), extra], axis=1)
            frames[sheet.name].attrs["data_columns"] = len(sheet.frame.columns)
    clock = time.perf_counter()
    summary_rows = [list(summary.columns)] + summary.to_numpy().tolist()
    writers.write_xlsx(frames, out, summary_rows, source, {s.name: s.origin for s in sheets})
    write = time.perf_counter() - clock
    return {"times": {"read": read, "write": write}, "total": read + write, "peak_mb": vm_hwm_mb()}


def spawn(*args: str, reader: str | None = None) -> dict:
    """One measurement in a fresh process; ``reader``: its KADE_READER (None: kade's default)."""
    env = dict(os.environ)
    env.pop("KADE_READER", None)
    if reader:
        env["KADE_READER"] = reader
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def time_cli(workbook: Path, out: Path, audit: bool) -> dict:
    """Wall clock and peak RSS (wait4) of `kade evaluate`; exit 0 or 1 are both fine."""
    db = out.with_suffix(".sqlite")
    args = ["--audit", str(db)] if audit else ["--no-audit"]
    cmd = kade_command() + ["evaluate", str(workbook), "--rules", str(RULES), "-o", str(out), "-q", *args]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return {"total": wall, "peak_mb": usage.ru_maxrss / 1024}


# ------------------------------------------------------------------ runs ----


def measure(rows: int, only: str | None, repeat: int, tmp: Path, with_cli: bool, with_api: bool) -> dict:
    workbook = register(rows, only)
    out = tmp / "out.xlsx"
    result: dict = {"rows_per_sheet": rows, "sheets": only or "all sheets", "runs": {}}
    kinds = (
        ["pipeline_off", "pipeline_on", "baseline", "baseline_kade"]
        + (["api"] if with_api else [])
        + (["cli_off", "cli_on"] if with_cli else [])
    )
    for kind in kinds:
        result["runs"][kind] = []
    loads = []
    for _ in range(repeat):  # interleaved: drift in the machine's load hits every kind alike
        for kind in kinds:
            loads.append(load_average()[0])
            if kind.startswith("pipeline"):
                run = spawn("pipeline", str(workbook), str(out), kind.endswith("_on") and "audit" or "-")
                if not (tmp / "reference.xlsx").exists():
                    shutil.copy(out, tmp / "reference.xlsx")
            elif kind.startswith("baseline"):  # the issue's baseline reads with calamine
                reader = "numpy" if kind == "baseline_kade" else "calamine"
                run = spawn("baseline", str(workbook), str(out), str(tmp / "reference.xlsx"), reader=reader)
            elif kind == "api":
                run = spawn("api", str(workbook))
            else:
                run = time_cli(workbook, out, kind.endswith("_on"))
            for leftover in tmp.glob("out.*"):
                leftover.unlink()
            result["runs"][kind].append(run)
            print(f"  {rows:,} {only or 'all'} {kind}: {run['total']:.1f} s, {run['peak_mb']:,.0f} MB", file=sys.stderr)
    (tmp / "reference.xlsx").unlink(missing_ok=True)
    result["load_before"] = loads
    return result


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["total"])


# ---------------------------------------------------------------- report ----


def render(results: list[dict]) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python benchmarks/bench_register.py`; kade {code_version()}; "
        f"{machine()}. Every figure is the best of the interleaved runs of its kind (each a fresh process); "
        "the 1-minute load average before each run is listed under the tables.",
        "",
        "**(1) `kade evaluate` stage by stage** (the library calls `engine.pipeline.evaluate_to_file` makes; "
        "audit on = near misses computed and the run recorded in a fresh SQLite file):",
        "",
        "| register | audit | " + " | ".join(f"{s} (s)" for s in STAGES) + " | total (s) | peak RSS (MB) |",
        "|:---|:---|" + "---:|" * (len(STAGES) + 2),
    ]
    for r in results:
        for kind in ("pipeline_off", "pipeline_on"):
            run = best(r["runs"][kind])
            cells = " | ".join(f"{run['times'][s]:.2f}" for s in STAGES)
            lines.append(
                f"| {r['rows_per_sheet']:,} rows × {r['sheets']} | {'on' if kind.endswith('on') else 'off'} | {cells} | "
                f"**{run['total']:.1f}** | {run['peak_mb']:,.0f} |"
            )
    lines += [
        "",
        "Peak RSS (MB) reached by the end of each stage, audit on:",
        "",
        "| register | " + " | ".join(STAGES) + " |",
        "|:---|" + "---:|" * len(STAGES),
    ]
    for r in results:
        run = best(r["runs"]["pipeline_on"])
        lines.append(
            f"| {r['rows_per_sheet']:,} rows × {r['sheets']} | "
            + " | ".join(f"{run['peaks'][s]:,.0f}" for s in STAGES)
            + " |"
        )
    lines += [
        "",
        "**(2) Against reading and writing alone, the API and the command** (seconds; baseline = calamine read "
        "(`KADE_READER=calamine`) + kade's writer writing the same columns the same way, a copy of the input with "
        "the decision columns appended, as the target is set; kade's read + write = the same with kade's own "
        "reader, which `kade evaluate` uses):",
        "",
        "| register | baseline | pipeline, audit off | pipeline, audit on | ratio, audit on (target ≤ 1.25) | "
        "kade's read + write | ratio to it, audit on | "
        "`engine.evaluate_workbook` + `result_frame` | `kade evaluate --no-audit` | `kade evaluate --audit` |",
        "|:---|---:|---:|---:|:---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        runs = r["runs"]
        base, on = best(runs["baseline"]), best(runs["pipeline_on"])
        ratio = on["total"] / base["total"]
        median = statistics.median(x["total"] for x in runs["pipeline_on"]) / statistics.median(
            x["total"] for x in runs["baseline"]
        )

        def cell(kind: str, runs: dict = runs) -> str:
            if kind not in runs:
                return "–"
            run = best(runs[kind])
            return f"{run['total']:.1f} ({run['peak_mb']:,.0f} MB)"

        own = best(runs["baseline_kade"])
        own_median = statistics.median(x["total"] for x in runs["pipeline_on"]) / statistics.median(
            x["total"] for x in runs["baseline_kade"]
        )
        lines.append(
            f"| {r['rows_per_sheet']:,} rows × {r['sheets']} | {base['total']:.1f} | {best(runs['pipeline_off'])['total']:.1f} | "
            f"{on['total']:.1f} | **{ratio:.2f}** (median {median:.2f}): {'met' if ratio <= RATIO_TARGET else 'missed'} | "
            f"{own['total']:.1f} | {on['total'] / own['total']:.2f} (median {own_median:.2f}) | "
            f"{cell('api')} | {cell('cli_off')} | {cell('cli_on')} |"
        )
    clients = {r["rows_per_sheet"]: r for r in results if r["sheets"] == CLIENTS}
    if len(clients) >= 2:
        small, big = (clients[k] for k in sorted(clients)[:: len(clients) - 1])
        on_small, on_big = best(small["runs"]["pipeline_on"]), best(big["runs"]["pipeline_on"])
        growth = on_big["total"] / on_small["total"]
        lines += [
            "",
            f"**(3) 客户 at scale, audit on**: {big['rows_per_sheet']:,} rows took {on_big['total']:.1f} s, "
            f"{growth:.1f}× the {small['rows_per_sheet']:,}-row time (target ≤ {LINEARITY_TARGET}: "
            f"{'met' if growth <= LINEARITY_TARGET else 'missed'}); peak RSS {on_big['peak_mb']:,.0f} MB "
            f"(target ≤ {MEMORY_TARGET_MB:,} MB: {'met' if on_big['peak_mb'] <= MEMORY_TARGET_MB else 'missed'}); "
            f"audit off: {best(big['runs']['pipeline_off'])['total']:.1f} s, {best(big['runs']['pipeline_off'])['peak_mb']:,.0f} MB.",
        ]
    lines += ["", "Load average (1 min) before each run, in run order:", ""]
    for r in results:
        shown = ", ".join(f"{x:.2f}" for x in r["load_before"])
        lines.append(f"- {r['rows_per_sheet']:,} rows × {r['sheets']}: {shown}")
    audit_sizes = [
        f"{r['rows_per_sheet']:,} × {r['sheets']}: {best(r['runs']['pipeline_on'])['audit_bytes'] / 1e6:,.0f} MB"
        for r in results
    ]
    lines += ["", "Audit database size: " + "; ".join(audit_sizes) + "."]
    return "\n".join(lines)


def measure_linearity(runs: int, tmp: Path) -> dict:
    """客户 at 100,000 and at 1,048,575 rows, audit on, the two sizes taking turns, so
    that the machine's drift hits both sides of the ratio alike."""
    sizes = {"small": 100_000, "big": sample_register.EXCEL_MAX_DATA_ROWS}
    workbooks = {key: register(rows, CLIENTS) for key, rows in sizes.items()}
    out = tmp / "out.xlsx"
    totals: dict[str, list[float]] = {key: [] for key in sizes}
    stages: dict[str, list[dict]] = {key: [] for key in sizes}
    loads = []
    for _ in range(runs):
        for key, workbook in workbooks.items():
            loads.append(load_average()[0])
            run = spawn("pipeline", str(workbook), str(out), "audit")
            totals[key].append(run["total"])
            stages[key].append(run["times"])
            for leftover in tmp.glob("out.*"):
                leftover.unlink()
            print(f"  linearity {sizes[key]:,} 客户: {run['total']:.1f} s", file=sys.stderr)
    return {"sizes": sizes, "totals": totals, "stages": stages, "load_before": loads}


def render_linearity(m: dict) -> str:
    small, big = m["totals"]["small"], m["totals"]["big"]
    best_ratio = min(big) / min(small)
    median_ratio = statistics.median(big) / statistics.median(small)
    verdict = "met" if best_ratio <= LINEARITY_TARGET else "missed"
    # each stage's median at both sizes, and its ratio: where the time over linear goes
    medians = {
        key: {st: statistics.median(run[st] for run in m["stages"][key]) for st in STAGES} for key in m["stages"]
    }
    by_stage = ", ".join(
        f"{st} {medians['small'][st]:.2f} / {medians['big'][st]:.2f} s ({medians['big'][st] / medians['small'][st]:.1f}×)"
        for st in STAGES
        if medians["small"][st] >= 0.05
    )
    return "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python benchmarks/bench_register.py --linearity "
            f"{len(small)}`; kade {code_version()}; {machine()}. 客户 with the shipped rules, audit on (the "
            "library calls of `kade evaluate`, as in (1) above), the two sizes taking turns in fresh processes.",
            "",
            "| rows | every run's total (s) | best (s) | median (s) |",
            "|---:|:---|---:|---:|",
            f"| {m['sizes']['small']:,} | {', '.join(f'{t:.1f}' for t in small)} | {min(small):.1f} | "
            f"{statistics.median(small):.1f} |",
            f"| {m['sizes']['big']:,} | {', '.join(f'{t:.1f}' for t in big)} | {min(big):.1f} | "
            f"{statistics.median(big):.1f} |",
            "",
            f"t(1M) / t(100k): **{best_ratio:.1f}** best against best, {median_ratio:.1f} median against median "
            f"(target ≤ {LINEARITY_TARGET}: {verdict}). Load average (1 min) before each run: "
            + ", ".join(f"{x:.2f}" for x in m["load_before"])
            + ".",
            "",
            f"Stage by stage, the median of each size's runs (100,000 / 1,048,575 rows): {by_stage}.",
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=f"100k,{sample_register.EXCEL_MAX_DATA_ROWS}", help="rows per sheet")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind at sizes up to 100k rows")
    parser.add_argument("--large-repeat", type=int, default=1, help="runs of each kind above 100k rows")
    parser.add_argument("--registers", default="clients,all", help="clients (客户 only), all (four sheets)")
    parser.add_argument(
        "--large-registers", default="clients", help="registers above 100k rows per sheet (all: 4 × 1M rows, slow)"
    )
    parser.add_argument(
        "--linearity", type=int, metavar="RUNS", help="only t(1M)/t(100k) for 客户, the sizes taking turns RUNS times"
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "pipeline":
            result = child_pipeline(Path(rest[0]), Path(rest[1]), rest[2] == "audit")
        elif kind == "baseline":
            result = child_baseline(Path(rest[0]), Path(rest[1]), Path(rest[2]))
        else:
            result = child_api(Path(rest[0]))
        print("RESULT " + json.dumps(result))
        return
    sample_register.DATA.mkdir(parents=True, exist_ok=True)
    if args.linearity:
        with tempfile.TemporaryDirectory(dir=sample_register.DATA) as tmp:
            text = render_linearity(measure_linearity(args.linearity, Path(tmp)))
        print(text)
        if args.write_docs:
            write_section(LINEARITY_START, LINEARITY_END, text)
        return
    results = []
    with tempfile.TemporaryDirectory(dir=sample_register.DATA) as tmp:
        for rows in [sample_register.size(s) for s in args.sizes.split(",")]:
            small = rows <= 100_000
            for which in (args.registers if small else args.large_registers).split(","):
                only = CLIENTS if which == "clients" else None
                results.append(
                    measure(
                        rows,
                        only,
                        args.repeat if small else args.large_repeat,
                        Path(tmp),
                        with_cli=small,
                        with_api=small,
                    )
                )
    text = render(results)
    print(text)
    if args.output:
        args.output.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    if args.write_docs:
        write_section(START, END, text)


if __name__ == "__main__":
    main()
