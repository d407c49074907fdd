"""Cost of the audit trail (not a test): `kade evaluate` on the 100,000-row
benchmark workbook with --no-audit vs with the SQLite audit, best of 3, each in
a fresh process; plus audit bytes per row.

    python benchmarks/generate.py            # once: writes benchmarks/data/
    python benchmarks/bench_audit.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def run(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=HERE.parent, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(proc.stderr)
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    workbook = DATA / f"orders_{args.rows}.xlsx"
    if not workbook.exists():
        raise SystemExit(f"{workbook} missing: run python benchmarks/generate.py first")
    with tempfile.TemporaryDirectory() as tmp:
        base = ["evaluate", str(workbook), "--rules", str(DATA / "rules"), "-o", str(Path(tmp) / "out.xlsx"), "-q"]
        env = {**os.environ}
        plain = min(run(base + ["--no-audit"], env) for _ in range(args.repeat))
        audited, sizes = [], []
        for i in range(args.repeat):
            db = Path(tmp) / f"audit{i}.sqlite"
            audited.append(run(base + ["--audit", str(db)], env))
            sizes.append(db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob(db.name + "-*")))
        best = min(audited)
    print("| rows | kade evaluate --no-audit (s) | with SQLite audit (s) | overhead | audit bytes per row |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {args.rows:,} | {plain:.2f} | {best:.2f} | {100 * (best / plain - 1):.0f} % | {sizes[0] / args.rows:,.0f} |"
    )


if __name__ == "__main__":
    main()
