#!/usr/bin/env python3
"""`kade serve` round trip through xlwings' own Office Scripts client: a 5,000-row
client sheet, Evaluate pressed, until every action is applied. Target: <= 1 s median.

    python benchmarks/bench_serve.py                 # 5,000 rows, 7 timed runs
    python benchmarks/bench_serve.py --rows 20000 --runs 3
    python benchmarks/bench_serve.py --write-docs    # update the numbers in docs/excel.md

Workload: the shipped sample's 客户 sheet repeated with fresh keys (C00001...) to
the size asked, so every row is a realistic client for the shipped rules' six
client decisions. The client is js/xlwings.ts of the installed xlwings, unchanged,
run in node (tests/node/office_scripts.mjs) on a fake ExcelScript.Workbook backed
by arrays; one timed run is its whole ``runPython``: reading the sheet and building
the payload, the POST to a real uvicorn process on 127.0.0.1, kade's work,
parsing the reply, and applying every action to the fake workbook. Excel's own
time to apply the actions (its rendering, its 5 MB calls) is not in it. The
server is warmed with one run first (rules are loaded at start-up anyway). The
machine load (/proc/loadavg) is recorded before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.excel.protocol import OFFICE_SCRIPTS_CHUNK_BYTES  # noqa: E402
from tests.clients import office_scripts  # noqa: E402
from tests.clients.excel import Workbook  # noqa: E402
from tests.serve_process import Server  # noqa: E402
from tests.workbook_factory import repeated_clients  # noqa: E402

DOCS = ROOT / "docs" / "excel.md"
TARGET_SECONDS = 1.0


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write-docs", action="store_true", help="replace the results in docs/excel.md")
    args = parser.parse_args()
    problem = office_scripts.missing()
    if problem:
        raise SystemExit(f"{problem}: {office_scripts.INSTALL_HINT}")

    with tempfile.TemporaryDirectory() as tmp:
        book = Workbook.from_xlsx(repeated_clients(args.rows, Path(tmp) / "clients.xlsx"))
        server = Server(Path(tmp)).wait_ready()
        try:
            url = f"{server.url}/xlwings/evaluate"
            office_scripts.run_python(book, url)  # warm-up
            load_before = load()
            run = office_scripts.run_python(book, url, runs=args.runs)
            load_after = load()
        finally:
            server.stop()
    blocks = [c for c in run.calls if c["sheet"] == "客户" and c["rows"] > 1]
    written = sum(c["rows"] for c in blocks) - 1
    assert written == args.rows, f"the reply wrote {written} rows, expected {args.rows}"
    assert run.error and f"{args.rows:,} rows decided" in run.error, run.error
    times = [t / 1000 for t in run.times_ms]
    result = {
        "rows": args.rows,
        "runs": args.runs,
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "min_s": round(min(times), 3),
        "request_mb": round(run.request_bytes / 1e6, 2),
        "reply_mb": round(run.reply["content_length"] / 1e6, 2),
        "reply_encoding": run.reply["content_encoding"] or "none",
        "blocks": len(blocks),
        "largest_block_mb": round(max(c["escaped_bytes"] for c in blocks) / 1e6, 2),
        "block_limit_mb": round(OFFICE_SCRIPTS_CHUNK_BYTES / 1e6, 2),
        "load": f"{load_before} before, {load_after} after",
        "machine": f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs",
        "target_s": TARGET_SECONDS,
        "ok": statistics.median(times) <= TARGET_SECONDS,
    }
    print(json.dumps(result, ensure_ascii=False))
    if args.write_docs:
        write_docs(result)
    return 0 if result["ok"] else 1


def write_docs(result: dict):
    text = DOCS.read_text(encoding="utf-8")
    table = (
        f"| rows | request | reply on the wire | setValues blocks (largest, limit) | round trip (median of {result['runs']}) "
        f"| fastest | slowest | target |\n"
        f"|---|---|---|---|---|---|---|---|\n"
        f"| {result['rows']:,} | {result['request_mb']} MB | {result['reply_mb']} MB ({result['reply_encoding']}) | "
        f"{result['blocks']} ({result['largest_block_mb']} MB, {result['block_limit_mb']} MB) | "
        f"**{result['median_s']:.3f} s** | {result['min_s']:.3f} s | {result['max_s']:.3f} s | "
        f"≤ {result['target_s']:.0f} s |\n\n"
        f"Measured {dt.date.today().isoformat()} with `python benchmarks/bench_serve.py` on {result['machine']} "
        f"(Linux, loopback, node {_node_version()}); load average {result['load']}.\n"
    )
    new, count = re.subn(
        r"(<!-- bench:start -->\n).*?(<!-- bench:end -->)", lambda m: m.group(1) + table + m.group(2), text, flags=re.S
    )
    if count != 1:
        raise SystemExit("docs/excel.md has no <!-- bench:start --> / <!-- bench:end --> markers")
    DOCS.write_text(new, encoding="utf-8")


def _node_version() -> str:
    import subprocess

    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
