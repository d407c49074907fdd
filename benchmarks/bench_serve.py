#!/usr/bin/env python3
"""`kade serve` round trip: a 5,000-row client sheet, POSTed as the VBA client
sends it, until the actions are back and parsed. Target: <= 1 s.

    python benchmarks/bench_serve.py                 # 5,000 rows, 7 timed runs
    python benchmarks/bench_serve.py --rows 20000 --runs 3
    python benchmarks/bench_serve.py --write-docs    # update the numbers in docs/excel.md

The sheet is the shipped sample's 客户 sheet repeated with fresh keys
(C00001...) to the size asked, so every row is a realistic client with the
shipped rules' six client decisions. The payload is built once (in Excel the
client builds it, not kade); each timed run is one HTTP POST to a real
uvicorn process on 127.0.0.1 plus json-parsing the reply. The server is
warmed with one request first (rules are loaded at start-up anyway).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openpyxl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.excel.clients import payload_from_xlsx  # noqa: E402

SAMPLE = ROOT / "workbooks" / "key_accounts.xlsx"
DOCS = ROOT / "docs" / "excel.md"
TARGET_SECONDS = 1.0


def client_sheet(rows: int, path: Path) -> Path:
    """A workbook whose 客户 sheet has ``rows`` clients (the sample's, repeated)."""
    sample = openpyxl.load_workbook(SAMPLE, data_only=True)["客户"]
    header, *body = [list(r) for r in sample.iter_rows(values_only=True)]
    body = [r for r in body if any(v is not None for v in r)]
    key = header.index("客户编号")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "客户"
    ws.append(header)
    for i in range(rows):
        row = list(body[i % len(body)])
        row[key] = f"C{i + 1:05d}"
        ws.append(row)
    wb.save(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    script = f"from engine.excel.server import serve; serve('127.0.0.1', {port}, rules_path={str(ROOT / 'rules')!r}, log_level='warning')"
    process = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).text == "ok":
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("kade serve did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write-docs", action="store_true", help="replace the results in docs/excel.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workbook = client_sheet(args.rows, Path(tmp) / "clients.xlsx")
        body = json.dumps(payload_from_xlsx(workbook), ensure_ascii=False).encode("utf-8")
    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}/xlwings/evaluate"
    headers = {"Content-Type": "application/json"}
    try:
        with httpx.Client(timeout=120) as client:
            client.post(url, content=body, headers=headers).raise_for_status()  # warm-up
            times, reply_bytes, written = [], 0, 0
            for _ in range(args.runs):
                start = time.perf_counter()
                response = client.post(url, content=body, headers=headers)
                response.raise_for_status()
                actions = response.json()["actions"]
                times.append(time.perf_counter() - start)
                reply_bytes = len(response.content)
                written = sum(a["row_count"] - 1 for a in actions if a["func"] == "setValues")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert written == args.rows, f"the reply wrote {written} rows, expected {args.rows}"
    result = {
        "rows": args.rows,
        "runs": args.runs,
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "min_s": round(min(times), 3),
        "request_mb": round(len(body) / 1e6, 2),
        "reply_mb": round(reply_bytes / 1e6, 2),
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
        f"| rows | request | reply | round trip (median of {result['runs']}) | fastest | slowest | target |\n"
        f"|---|---|---|---|---|---|---|\n"
        f"| {result['rows']:,} | {result['request_mb']} MB | {result['reply_mb']} MB | **{result['median_s']:.3f} s** | "
        f"{result['min_s']:.3f} s | {result['max_s']:.3f} s | ≤ {result['target_s']:.0f} s |\n\n"
        f"Measured with `python benchmarks/bench_serve.py` on {result['machine']} (Linux, loopback).\n"
    )
    new, count = re.subn(
        r"(<!-- bench:start -->\n).*?(<!-- bench:end -->)", lambda m: m.group(1) + table + m.group(2), text, flags=re.S
    )
    if count != 1:
        raise SystemExit("docs/excel.md has no <!-- bench:start --> / <!-- bench:end --> markers")
    DOCS.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
