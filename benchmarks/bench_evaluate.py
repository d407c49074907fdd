#!/usr/bin/env python3
"""kade benchmarks: evaluation throughput and end-to-end cost of `kade evaluate`.

    python benchmarks/generate.py && python benchmarks/bench_evaluate.py --write-docs
    python benchmarks/bench_evaluate.py --quick                  # 10k rows, one repeat
    python benchmarks/bench_evaluate.py --sizes 10k,100k         # skip the 1M-row run

(a) Evaluation alone: the typed columns are built once (``engine.bind``),
    then ``engine.evaluate(rules, rows, reasons=False/True)`` is timed, best of
    3. The per-column factorisation cache (``Column._factorized``) is cleared
    before every run, so each run pays what one ``kade evaluate`` pays.
    Target: >= 2,000,000 rows/s with reasons off (outputs + the .rule column).
(b) End to end: the library calls ``kade evaluate`` makes (source_for,
    read_workbook, bind, evaluate with reasons, result_frame, summarize,
    write_xlsx with the summary sheet, error_rows; results as a copy of the
    input, and again with --new-workbook) versus reading the same workbook
    (engine.read_workbook) and writing it back unchanged
    (engine.io.writers.write_xlsx). Five runs of each, interleaved; each run is a
    fresh child process, so its peak RSS (/proc VmHWM, and getrusage ru_maxrss)
    is its own; these children run before (a), while this process is small.
    Target: ratio <= 1.25 (best totals; the median ratio is reported too). The `kade evaluate` command itself is also timed
    (wall clock, includes interpreter start-up, imports and load_rules).

The script is not a pytest test. ``--write-docs`` replaces the results section
of docs/performance.md (between the ``<!-- results:start/end -->`` markers).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402  (benchmarks/generate.py)

OUT = generate.DATA / "out"
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
EVAL_TARGET = 2_000_000  # rows/s, evaluation alone, reasons off
RATIO_TARGET = 1.25


def _peak_rss_mb() -> float:
    """This process's peak RSS, MB: getrusage ru_maxrss (KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vm_hwm_mb() -> float | None:
    """Peak RSS of the current address space (/proc/self/status VmHWM). Unlike
    ru_maxrss it starts afresh at exec: Linux carries the *parent's* RSS at the
    fork/exec into the child's ru_maxrss, so a child spawned by a big parent
    would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


# --------------------------------------------------------------- child runs ----


def run_pipeline(workbook: Path, rules_path: Path, out: Path, copy: bool = True) -> dict:
    """What `kade evaluate WORKBOOK --rules RULES -o OUT` does, stage by stage
    (``copy=False``: with --new-workbook)."""
    import engine
    from engine.evaluation import results
    from engine.io import writers

    times = {}
    t = time.perf_counter()
    rules = engine.load_rules(rules_path)
    times["load_rules"] = time.perf_counter() - t
    t0 = time.perf_counter()
    # indexes the input's sheet XML in a background thread, from the end of the read's scan on
    source = writers.source_for(workbook, start=False) if copy else None
    sheets = engine.read_workbook(workbook, scanned=source.start if source else None)
    t1 = time.perf_counter()
    rows = engine.bind(rules, sheets, str(workbook))
    t2 = time.perf_counter()
    evaluation = engine.evaluate(rules, rows, progress=lambda _name: None)
    t3 = time.perf_counter()
    frames, computed = results.sheet_results(evaluation, deferred=True)  # as kade evaluate
    t4 = time.perf_counter()
    summary = results.summarize(evaluation)
    t5 = time.perf_counter()
    layout = writers.write_xlsx(
        frames,
        out,
        results.summary_rows(summary),
        source=source,
        origins={s.name: s.origin for s in sheets},
        computed=computed,
    )
    t6 = time.perf_counter()
    errors = results.error_rows(evaluation)
    t7 = time.perf_counter()
    times.update(
        read=t1 - t0,
        bind=t2 - t1,
        evaluate=t3 - t2,
        result_frame=t4 - t3,
        summarize=t5 - t4,
        write=t6 - t5,
        error_rows=t7 - t6,
        total=t7 - t0,
    )
    times["error_count"] = errors
    times["layout"] = layout
    return times


def run_baseline(workbook: Path, out: Path) -> dict:
    """Read the workbook and write it back unchanged."""
    import engine
    from engine.io import writers

    t0 = time.perf_counter()
    sheets = engine.read_workbook(workbook)
    t1 = time.perf_counter()
    writers.write_xlsx({s.name: s.frame for s in sheets}, out)
    t2 = time.perf_counter()
    return {"read": t1 - t0, "write": t2 - t1, "total": t2 - t0}


def child_main(kind: str, workbook: Path, out: Path, rules_path: Path):
    import engine  # noqa: F401  imports are not timed

    if kind == "baseline":
        result = run_baseline(workbook, out)
    else:
        result = run_pipeline(workbook, rules_path, out, copy=kind == "pipeline")
    result["ru_maxrss_mb"] = _peak_rss_mb()
    hwm = _vm_hwm_mb()
    result["peak_rss_mb"] = hwm if hwm is not None else result["ru_maxrss_mb"]
    out.unlink(missing_ok=True)
    print("RESULT " + json.dumps(result))


def spawn(kind: str, workbook: Path, rules_path: Path) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"{kind}_{workbook.stem}.xlsx"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--workbook",
        str(workbook),
        "--out",
        str(out),
        "--rules",
        str(rules_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child failed ({proc.returncode}):\n{proc.stderr}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def _kade_command() -> list[str]:
    kade = shutil.which("kade")
    return [kade] if kade else [sys.executable, str(ROOT / "cli.py")]


def cli_variants() -> dict[str, list[str]]:
    """`kade evaluate` option sets to time. The audit trail (when the CLI has one)
    never goes to its default location outside the repository: either off, or a
    fresh SQLite file under benchmarks/data/out/."""
    help_text = subprocess.run(
        _kade_command() + ["evaluate", "--help"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    if "--no-audit" not in help_text:
        return {"kade evaluate": []}
    return {
        "kade evaluate --no-audit": ["--no-audit"],
        "kade evaluate (audit to a fresh SQLite file)": ["--audit", "{audit}"],
    }


def time_cli(workbook: Path, rules_path: Path, extra: list[str]) -> float:
    """Wall clock of the real command (exit 0 or 1 are both fine)."""
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"cli_{workbook.stem}.xlsx"
    audit_db = OUT / f"audit_{workbook.stem}.sqlite"
    audit_db.unlink(missing_ok=True)
    cmd = _kade_command() + [
        "evaluate",
        str(workbook),
        "--rules",
        str(rules_path),
        "-o",
        str(out),
        "-q",
        "--no-progress",
    ]
    cmd += [a.replace("{audit}", str(audit_db)) for a in extra]
    env = {**os.environ, "KADE_AUDIT": str(audit_db)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    out.unlink(missing_ok=True)
    audit_db.unlink(missing_ok=True)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall


def code_fingerprint() -> str:
    """Hash of the engine sources and cli.py: others edit the engine while
    benchmarks run, and a run that spans an edit mixes two versions."""
    import contextlib
    import hashlib

    h = hashlib.sha256()
    for f in sorted((ROOT / "engine").glob("*.py")) + [ROOT / "cli.py"]:
        with contextlib.suppress(OSError):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:12]


def code_version() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "engine", "cli.py"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        return (
            f"commit {head}" + (" with uncommitted changes in engine/ or cli.py" if dirty else "")
            if head
            else "unknown"
        )
    except OSError:
        return "unknown"


# ----------------------------------------------------------- measurements ------


def ensure_inputs(sizes: list[int]):
    if not (generate.RULES / "glossary.xlsx").exists() or not (generate.RULES / "order_priority.xlsx").exists():
        generate.write_rules()
    for n in sizes:
        if not generate.data_path(n).exists():
            print(f"generating {generate.data_path(n).name} ...", file=sys.stderr)
            generate.write_data(n)


def bench_eval(n: int, repeats: int) -> dict:
    """Evaluation alone on n rows: bind once, evaluate best-of-`repeats`."""
    import engine

    rules = engine.load_rules(generate.RULES)
    path = generate.data_path(n)
    t0 = time.perf_counter()
    sheets = engine.read_workbook(path)
    t1 = time.perf_counter()
    rows = engine.bind(rules, sheets, str(path))
    t2 = time.perf_counter()
    assert len(rows["orders"]) == n, (len(rows["orders"]), n)
    result = {"rows": n, "read": t1 - t0, "bind": t2 - t1}
    for reasons in (False, True):
        best = float("inf")
        for _ in range(repeats):
            for entity_rows in rows.values():
                for col in entity_rows.columns.values():
                    col._factorized = None  # what a fresh run pays
            gc.collect()
            t = time.perf_counter()
            evaluation = engine.evaluate(rules, rows, reasons=reasons)
            best = min(best, time.perf_counter() - t)
            del evaluation
        result["reasons_on" if reasons else "reasons_off"] = best
    del rows, sheets
    gc.collect()
    return result


def bench_e2e(n: int, repeats: int, cli_runs: int, new_workbook: bool = True) -> dict:
    path = generate.data_path(n)
    kinds = ["pipeline", "baseline"] + (["pipeline_new"] if new_workbook else [])
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for _ in range(repeats):  # interleaved, so drift hits all alike
        for kind in kinds:
            runs[kind].append(spawn(kind, path, generate.RULES))
    best = {k: min(v, key=lambda r: r["total"]) for k, v in runs.items()}
    median = {k: statistics.median(r["total"] for r in v) for k, v in runs.items()}
    cli = {}
    if cli_runs:
        for label, extra in cli_variants().items():
            cli[label] = min(time_cli(path, generate.RULES, extra) for _ in range(cli_runs))
    out = {
        "rows": n,
        "pipeline": best["pipeline"],
        "baseline": best["baseline"],
        "ratio": best["pipeline"]["total"] / best["baseline"]["total"],
        "median_ratio": median["pipeline"] / median["baseline"],
        "medians": median,
        "totals": {k: [r["total"] for r in v] for k, v in runs.items()},
        "cli": cli,
        "cli_runs": cli_runs,
        "repeats": repeats,
    }
    if new_workbook:
        out["pipeline_new"] = best["pipeline_new"]
        out["ratio_new"] = best["pipeline_new"]["total"] / best["baseline"]["total"]
    return out


def profile_e2e(n: int, top: int = 18) -> list[tuple]:
    """cProfile of the pipeline in this process; top functions by own time."""
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"profile_{n}.xlsx"
    import engine  # noqa: F401  warm imports

    prof = cProfile.Profile()
    prof.enable()
    run_pipeline(generate.data_path(n), generate.RULES, out)
    prof.disable()
    out.unlink(missing_ok=True)
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values())  # sum of tottime = profiled wall
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append((tt, ct, nc, _where(file, line, func)))
    rows.sort(reverse=True)
    own = [(tt, ct, nc, where, tt / total) for tt, ct, nc, where in rows[:top]]
    mine = [(ct, tt, nc, where) for tt, ct, nc, where in rows if where.startswith(("engine/", "cli.py", "benchmarks/"))]
    mine.sort(reverse=True)
    cumulative = [
        (tt, ct, nc, where, ct / total)
        for ct, tt, nc, where in mine[:top]
        if not where.endswith((" run_pipeline", " <lambda>"))
    ]
    return own, cumulative, total


def _where(file: str, line: int, func: str) -> str:
    if file == "~":
        return func  # built-in / C function
    p = Path(file)
    try:
        rel = p.resolve().relative_to(ROOT)
        return f"{rel}:{line} {func}"
    except ValueError:
        parts = p.parts
        if "site-packages" in parts:
            return f"{'/'.join(parts[parts.index('site-packages') + 1 :])}:{line} {func}"
        return f"{p.name}:{line} {func}"


# --------------------------------------------------------------- reporting -----


def machine() -> list[str]:
    import numpy
    import pandas

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(
            next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
        )
        mem = f"{kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    versions = []
    for mod in ("python_calamine", "pyarrow", "xlsxwriter", "openpyxl"):
        try:
            from importlib.metadata import version

            versions.append(f"{mod.replace('_', '-')} {version(mod.replace('_', '-'))}")
        except Exception:
            pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- CPU: {cpu}, nproc = {nproc}" + (f", {mem}" if mem else ""),
        f"- {platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- numpy {numpy.__version__}, pandas {pandas.__version__}, " + ", ".join(versions),
    ]


def fmt_rate(n: int, s: float) -> str:
    return f"{n / s:,.0f}"


def render(evals: list[dict], e2e: dict | None, large: dict | None, prof, args) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python benchmarks/bench_evaluate.py"
        + (f" --sizes {args.sizes_text}" if args.sizes_text else "")
        + (" --quick" if args.quick else "")
        + "`.",
        "",
    ]
    load = (
        ", ".join(f"{a:.2f}" for a in args.load_before)
        + " before / "
        + ", ".join(f"{a:.2f}" for a in os.getloadavg())
        + " after"
    )
    changed = code_fingerprint() != args.fingerprint
    version = (
        code_version()
        + f", sources {args.fingerprint}"
        + (
            " — **the engine sources changed during this run: the numbers mix two versions; run again**"
            if changed
            else ""
        )
    )
    lines += (
        ["Machine:", ""]
        + machine()
        + [
            f"- kade {version}",
            f"- load average (1, 5, 15 min): {load} (the machine is shared; a load above ~0.5 before the run means other work competed for the 2 cores)",
            "",
        ]
    )
    lines += [
        "Rule set: `benchmarks/data/rules/` — one entity `orders` (8 columns), one FIRST table "
        "`order_priority` with 20 rules over amount (ranges), category (lists) and express (boolean), plus a default row.",
        "",
    ]
    if evals:
        lines += [
            f"### (a) Evaluation alone (`engine.evaluate` on bound columns, best of {args.repeats})",
            "",
            "| rows | read_workbook (s) | bind (s) | evaluate, reasons off (s) | rows/s, reasons off | evaluate, reasons on (s) | rows/s, reasons on | target ≥ 2,000,000 rows/s (reasons off) |",
            "|---:|---:|---:|---:|---:|---:|---:|:---|",
        ]
        for r in evals:
            rate = r["rows"] / r["reasons_off"]
            verdict = "met" if rate >= EVAL_TARGET else f"**missed** ({rate / EVAL_TARGET:.2f}× of target)"
            lines.append(
                f"| {r['rows']:,} | {r['read']:.2f} | {r['bind']:.3f} | {r['reasons_off']:.4f} | {fmt_rate(r['rows'], r['reasons_off'])} "
                f"| {r['reasons_on']:.4f} | {fmt_rate(r['rows'], r['reasons_on'])} | {verdict} |"
            )
        lines.append("")
    for label, res in (("(b) End to end", e2e), ("(c) End to end, largest size", large)):
        if res is None:
            continue
        p, b = res["pipeline"], res["baseline"]
        ok = (
            "met"
            if res["ratio"] <= RATIO_TARGET
            else f"**missed** (by {(res['ratio'] / RATIO_TARGET - 1) * 100:.0f} %)"
        )
        rows = [("kade evaluate (library calls; results as a copy of the input)", p)]
        if "pipeline_new" in res:
            rows.append(("kade evaluate --new-workbook (library calls)", res["pipeline_new"]))
        how = f"best of {res['repeats']}, runs interleaved" if res["repeats"] > 1 else "one run"
        lines += [
            f"### {label}: {res['rows']:,} rows ({how}, fresh process each run)",
            "",
            "| | read (s) | bind (s) | evaluate (s) | result_frame (s) | summarize (s) | write_xlsx (s) | error_rows (s) | total (s) | peak RSS (MB) | ru_maxrss (MB) |",
            "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {name} | {r['read']:.2f} | {r['bind']:.2f} | {r['evaluate']:.2f} | {r['result_frame']:.2f} "
            f"| {r['summarize']:.2f} | {r['write']:.2f} | {r['error_rows']:.2f} | **{r['total']:.2f}** | {r['peak_rss_mb']:,.0f} | {r['ru_maxrss_mb']:,.0f} |"
            for name, r in rows
        ]
        lines += [
            f"| read + write back unchanged | {b['read']:.2f} | | | | | {b['write']:.2f} | | **{b['total']:.2f}** | {b['peak_rss_mb']:,.0f} | {b['ru_maxrss_mb']:,.0f} |",
            "",
            f"Ratio kade / read+write: **{res['ratio']:.2f}** (target ≤ {RATIO_TARGET}: {ok})"
            + (f"; median of the {res['repeats']} runs {res['median_ratio']:.2f}" if res["repeats"] > 1 else "")
            + ". "
            + (f"With --new-workbook: {res['ratio_new']:.2f}. " if "ratio_new" in res else "")
            + f"load_rules adds {p['load_rules']:.2f} s (not in either total).",
        ]
        if res["repeats"] > 1:
            lines += [
                "",
                "Every run's total (s): "
                + "; ".join(
                    f"{k.replace('pipeline_new', '--new-workbook').replace('pipeline', 'kade').replace('baseline', 'read+write')} "
                    + ", ".join(f"{t:.2f}" for t in v)
                    for k, v in res["totals"].items()
                ),
            ]
        if res.get("cli"):
            lines += [
                "",
                f"The command itself (wall clock, best of {res['cli_runs']}; interpreter start-up, imports and load_rules included):",
                "",
            ]
            lines += [f"- `{label}`: {wall:.2f} s" for label, wall in res["cli"].items()]
        lines.append("")
    if prof:
        own, cumulative, total = prof
        lines += [
            f"### cProfile of the end-to-end run ({args.profile_rows:,} rows, {total:.1f} s under the profiler)",
            "",
            "kade's own functions by cumulative time (share of the profiled total):",
            "",
            "| cumulative (s) | share | own time (s) | calls | function |",
            "|---:|---:|---:|---:|:---|",
        ]
        for tt, ct, nc, where, share in cumulative:
            lines.append(f"| {ct:.2f} | {share * 100:.1f} % | {tt:.2f} | {nc:,} | `{where}` |")
        lines += [
            "",
            "All functions by own time:",
            "",
            "| own time (s) | share | cumulative (s) | calls | function |",
            "|---:|---:|---:|---:|:---|",
        ]
        for tt, ct, nc, where, share in own:
            lines.append(f"| {tt:.2f} | {share * 100:.1f} % | {ct:.2f} | {nc:,} | `{where}` |")
        lines.append("")
    return "\n".join(lines)


def write_docs(section: str):
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    block = f"{START}\n{section.rstrip()}\n{END}"
    if DOCS.exists():
        text = DOCS.read_text(encoding="utf-8")
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            text = head + block + tail
        else:
            text = text.rstrip() + "\n\n## Results\n\n" + block + "\n"
    else:
        text = "# Performance\n\n## Results\n\n" + block + "\n"
    DOCS.write_text(text, encoding="utf-8")
    print(f"updated {DOCS.relative_to(ROOT)}", file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=None,
        help="comma-separated row counts for (a): 10k,100k,max (default all three; 10k with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one repeat, 10k rows unless --sizes, no profile unless --profile"
    )
    parser.add_argument(
        "--e2e-size",
        type=generate.parse_size,
        default=None,
        help="rows for the end-to-end ratio (default 100k if in --sizes, else the smallest size)",
    )
    parser.add_argument(
        "--profile", dest="profile", action="store_true", default=None, help="cProfile the end-to-end run"
    )
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--write-docs", action="store_true", help="replace the results section of docs/performance.md")
    parser.add_argument("--child", choices=("pipeline", "pipeline_new", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--workbook", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rules", type=Path, default=generate.RULES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child, args.workbook, args.out, args.rules)

    args.sizes_text = args.sizes
    args.load_before = os.getloadavg()
    args.fingerprint = code_fingerprint()
    sizes = (
        generate.parse_sizes(args.sizes) if args.sizes else ([10_000] if args.quick else list(generate.DEFAULT_SIZES))
    )
    sizes = sorted(set(sizes))
    args.repeats = 1 if args.quick else 3
    e2e_size = args.e2e_size or (100_000 if 100_000 in sizes else sizes[0])
    large_size = max(sizes) if max(sizes) > e2e_size else None
    profile = args.profile if args.profile is not None else not args.quick
    args.profile_rows = e2e_size
    ensure_inputs(sorted(set(sizes) | {e2e_size}))

    # end to end first, while this parent process is still small (see _vm_hwm_mb)
    print(f"(b) end to end {e2e_size:,} rows ...", file=sys.stderr, flush=True)
    args.e2e_repeats = 1 if args.quick else 5
    e2e = bench_e2e(e2e_size, args.e2e_repeats, 1 if args.quick else 2)
    print(f"    ratio {e2e['ratio']:.2f}", file=sys.stderr, flush=True)
    large = None
    if large_size:
        print(f"(c) end to end {large_size:,} rows ...", file=sys.stderr, flush=True)
        large = bench_e2e(large_size, 1, 0, new_workbook=False)
        print(f"    total {large['pipeline']['total']:.1f} s, ratio {large['ratio']:.2f}", file=sys.stderr, flush=True)
    evals = []
    for n in sizes:
        print(f"(a) evaluate {n:,} rows ...", file=sys.stderr, flush=True)
        evals.append(bench_eval(n, args.repeats))
        r = evals[-1]
        print(
            f"    reasons off {r['reasons_off']:.4f} s = {fmt_rate(n, r['reasons_off'])} rows/s; "
            f"reasons on {r['reasons_on']:.4f} s = {fmt_rate(n, r['reasons_on'])} rows/s",
            file=sys.stderr,
            flush=True,
        )
    print(render(evals, e2e, large, None, args), file=sys.stderr, flush=True)  # in case profiling fails
    prof = None
    if profile:
        print(f"profiling end to end {e2e_size:,} rows ...", file=sys.stderr, flush=True)
        try:
            prof = profile_e2e(e2e_size)
        except Exception as exc:
            print(f"profile failed: {exc!r}", file=sys.stderr)
    section = render(evals, e2e, large, prof, args)
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
