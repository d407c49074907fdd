#!/usr/bin/env python3
"""What the look inside a workbook before reading it costs (engine/io/xlsx_scan.py).

    python benchmarks/generate.py --sizes 100k,1M && python benchmarks/bench_scan.py --write-docs

For the shipped sample register and the benchmark registers of 100,000 and
1,048,575 rows: ``scan_workbook`` alone, and ``read_workbook`` (which runs the
scan, then calamine) against the same read without the scan, each in a fresh
child process, runs interleaved, best and median of 5 (of 2 for 1M rows). The
peak RSS of the children is reported too: the scan reads the sheets in chunks
of 8 MB and should add nothing to it. ``--write-docs`` replaces the section
between ``<!-- scan:start -->`` and ``<!-- scan:end -->`` of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- scan:start -->", "<!-- scan:end -->"

CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from engine.io import registers, xlsx_scan
path, what = {path!r}, {what!r}
if what == "read without the scan":
    registers.scan_workbook = lambda p: []
start = time.perf_counter()
if what == "scan":
    xlsx_scan.scan_workbook(path)
else:
    registers.read_workbook(path)
seconds = time.perf_counter() - start
peak = [int(l.split()[1]) / 1024 for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:")]
print(json.dumps({{"seconds": seconds, "peak_mb": peak[0] if peak else None}}))
"""

WHAT = ("scan", "read (scan + calamine)", "read without the scan")


def child(path: Path, what: str) -> dict:
    code = CHILD.format(root=str(ROOT), path=str(path), what=what)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def measure(path: Path, repeats: int) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {w: [] for w in WHAT}
    for _ in range(repeats):
        for what in WHAT:
            runs[what].append(child(path, what))
    return runs


def report(results: dict[str, dict[str, list[dict]]], load_before, load_after) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python benchmarks/bench_scan.py` on "
        f"{platform.processor() or platform.machine()}, nproc = {os.cpu_count()}, Python {platform.python_version()}; "
        f"load average {load_before} before / {load_after} after (a shared machine: other work competed).",
        "",
        "| register | unpacked XML | scan (s) | read with the scan (s) | read without (s) | scan's share of the read | "
        "peak RSS with / without (MB) |",
        "|:---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (runs, unpacked) in results.items():
        best = {w: min(r["seconds"] for r in runs[w]) for w in WHAT}
        median = {w: statistics.median(r["seconds"] for r in runs[w]) for w in WHAT}
        peak = {w: max(r["peak_mb"] or 0 for r in runs[w]) for w in WHAT}
        with_scan, without = best["read (scan + calamine)"], best["read without the scan"]
        lines.append(
            f"| {name} | {unpacked / 2**20:,.0f} MB | {best['scan']:.3f} | {with_scan:.3f} (median "
            f"{median['read (scan + calamine)']:.3f}) | {without:.3f} (median {median['read without the scan']:.3f}) | "
            f"{(with_scan / without - 1) * 100:+.0f} % | {peak['read (scan + calamine)']:,.0f} / "
            f"{peak['read without the scan']:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    import zipfile

    registers = {
        "sample (1,820 rows, 4 sheets)": (ROOT / "workbooks" / "key_accounts.xlsx", 5),
        "100,000 rows × 8": (HERE / "data" / "orders_100000.xlsx", 5),
        "1,048,575 rows × 8": (HERE / "data" / "orders_1048575.xlsx", 3),
    }
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    results = {}
    for name, (path, repeats) in registers.items():
        if not path.exists():
            print(f"skipped {name}: {path} missing (python benchmarks/generate.py)", file=sys.stderr)
            continue
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
        results[name] = (measure(path, repeats), unpacked)
    load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(results, load_before, load_after)
    print(text)
    if args.write_docs:
        doc = DOCS.read_text(encoding="utf-8")
        if START not in doc:
            doc = (
                doc.rstrip("\n") + "\n\n## The look inside a workbook before reading it\n\n" + START + "\n" + END + "\n"
            )
        head, rest = doc.split(START, 1)
        DOCS.write_text(head + START + "\n" + text + "\n" + END + rest.split(END, 1)[1], encoding="utf-8")
        print(f"wrote {DOCS}", file=sys.stderr)


if __name__ == "__main__":
    main()
