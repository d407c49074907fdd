#!/usr/bin/env python3
"""Reading the register: kade's numpy reader against python-calamine (issue 18).

    python benchmarks/bench_reader.py                  # 客户 at 100k and 1,048,575 rows, 3 turns
    python benchmarks/bench_reader.py --check --runs 1 # also compare every cell at 100k

``engine.read_workbook`` as kade calls it (the safety scan, then each sheet in the
usual form read with numpy by ``engine.io.xlsx_read``), and the same call with
``KADE_READER=calamine`` (the scan, then python-calamine and a frame of its rows,
as kade read every sheet before). Each run is a fresh process, the two readers
and the two sizes taking turns; the time and peak memory are the read's alone.
``--check`` compares the two frames cell for cell (value and type) at 100,000 rows.
Registers as in bench_register.py (``benchmarks/sample_register.py``). Not a pytest
test; docs/performance.md ("Linearity: around the target") reports a run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402, I001  (first: it sets the allocators up, as in cli.py)

import sample_register  # noqa: E402
from bench_register import register  # noqa: E402
from common import code_version, machine, vm_hwm_mb  # noqa: E402

CLIENTS = "客户"
SIZES = {"100k": 100_000, "1M": sample_register.EXCEL_MAX_DATA_ROWS}
READERS = ("numpy", "calamine")


def differing_cells(path: Path, frame) -> int:
    """Cells where ``frame`` and python-calamine's frame of the same sheet disagree."""
    os.environ["KADE_READER"] = "calamine"
    theirs = engine.read_workbook(path)[0].frame
    if list(frame.columns) != list(theirs.columns):
        return max(frame.size, theirs.size)
    differing = abs(len(frame) - len(theirs)) * len(frame.columns)
    for name in frame.columns:
        differing += sum(
            not (x == y and type(x) is type(y)) for x, y in zip(frame[name].tolist(), theirs[name].tolist())
        )
    return differing


def child(reader: str, path: str, check: bool) -> dict:
    os.environ["KADE_READER"] = reader
    clock = time.perf_counter()
    sheet = engine.read_workbook(path)[0]
    result = {"seconds": time.perf_counter() - clock, "peak_mb": vm_hwm_mb(), "rows": len(sheet.frame)}
    if check:
        result["differing_cells"] = differing_cells(Path(path), sheet.frame)
    return result


def spawn(reader: str, path: Path, check: bool) -> dict:
    args = [sys.executable, __file__, "--child", reader, str(path)] + (["--check"] if check else [])
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{reader} on {path.name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="turns of each reader at each size (default 3)")
    parser.add_argument("--check", action="store_true", help="compare every cell of the two readers at 100k")
    parser.add_argument("--child", nargs=2, metavar=("READER", "WORKBOOK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.check)))
        return
    books = {size: register(rows, CLIENTS) for size, rows in SIZES.items()}
    seconds: dict[tuple[str, str], list[float]] = {}
    peaks: dict[tuple[str, str], float] = {}
    for turn in range(args.runs):
        for size, book in books.items():
            for reader in READERS:
                check = args.check and turn == 0 and size == "100k" and reader == "numpy"
                run = spawn(reader, book, check)
                seconds.setdefault((reader, size), []).append(run["seconds"])
                peaks[(reader, size)] = max(peaks.get((reader, size), 0.0), run["peak_mb"])
                if check:
                    print(
                        f"numpy reader against python-calamine, {run['rows']:,} rows: {run['differing_cells']} cells differ"
                    )
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, kade {code_version()}, {machine()}; 客户, {args.runs} turns")
    print("| reader | 100,000 rows (s) | 1,048,575 rows (s) | t(1M) / t(100k), best (median) | peak RSS 1M (MB) |")
    print("|:---|:---|:---|---:|---:|")
    for reader in READERS:
        small, big = seconds[(reader, "100k")], seconds[(reader, "1M")]
        shown = [", ".join(f"{x:.2f}" for x in s) for s in (small, big)]
        ratio = min(big) / min(small)
        median = statistics.median(big) / statistics.median(small)
        print(f"| {reader} | {shown[0]} | {shown[1]} | {ratio:.1f} ({median:.1f}) | {peaks[(reader, '1M')]:,.0f} |")


if __name__ == "__main__":
    main()
