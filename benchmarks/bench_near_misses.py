#!/usr/bin/env python3
"""Cost of the near misses (not a test): the shipped rules over the sample register
scaled up (benchmarks/data/check_register_<N>.xlsx, built by bench_check_register.py),
evaluated with near misses off and on, and the audit rows made from them.

Each mode runs in a fresh child process: load_rules, read_workbook and bind first
(not timed), then ``evaluate(trace=...)`` (timed), then with --audit
``engine.audit.records.row_chunks`` (timed: the Arrow IPC chunks the audit
stores). Peak memory is the child's VmHWM. Best of --repeat runs.

    python benchmarks/bench_check_register.py --sizes 100k   # once: builds the register
    python benchmarks/bench_near_misses.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(register: str, mode: str) -> dict:
    sys.path.insert(0, str(ROOT))
    import engine.evaluation.decisions as decisions
    from engine.audit import records
    from engine.evaluation.bind import bind
    from engine.evaluation.decisions import evaluate
    from engine.io.registers import read_workbook
    from engine.model.rulebook import load_rules

    spent = [0.0]  # seconds inside the near-miss ranking itself
    ranking = decisions.near_misses

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return ranking(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    decisions.near_misses = timed
    rules = load_rules(ROOT / "rules")
    rows = bind(rules, read_workbook(register), register)
    before = _hwm_mb()
    start = time.perf_counter()
    evaluation = evaluate(rules, rows, trace=mode != "off")
    evaluated = time.perf_counter() - start
    start = time.perf_counter()
    chunks = records.row_chunks(evaluation) if mode == "audit" else []
    recorded = time.perf_counter() - start
    return {
        "evaluate_s": evaluated,
        "near_misses_s": spent[0],
        "audit_rows_s": recorded,
        "audit_bytes": sum(len(c[2]) for c in chunks),
        "peak_mb": _hwm_mb(),
        "peak_before_mb": before,
        "rows": sum(len(r) for r in rows.values()),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    register = HERE / "data" / f"check_register_{args.rows}.xlsx"
    if not register.exists():
        raise SystemExit(f"{register} missing: python benchmarks/bench_check_register.py --sizes {args.rows}")
    results = {}
    for mode in ("off", "on", "audit"):
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(register), mode],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ},
            )
            runs.append(json.loads(out.stdout))
        results[mode] = min(runs, key=lambda r: r["evaluate_s"])
    off, on, rec = results["off"], results["on"], results["audit"]
    print(f"register {register.name}: {off['rows']:,} rows; best of {args.repeat}; load {os.getloadavg()[0]:.1f}")
    print(
        "| near misses | evaluate (s) | of which ranking (s) | audit rows (s) | peak memory (MB) | audit bytes per row |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| off | {off['evaluate_s']:.2f} | – | – | {off['peak_mb']:.0f} | – |")
    print(f"| on | {on['evaluate_s']:.2f} | {on['near_misses_s']:.2f} | – | {on['peak_mb']:.0f} | – |")
    print(
        f"| on, with the audit rows | {rec['evaluate_s']:.2f} | {rec['near_misses_s']:.2f} | {rec['audit_rows_s']:.2f} "
        f"| {rec['peak_mb']:.0f} | {rec['audit_bytes'] / rec['rows']:.0f} |"
    )
    print(
        f"near misses cost {on['evaluate_s'] - off['evaluate_s']:+.2f} s "
        f"({100 * (on['evaluate_s'] / off['evaluate_s'] - 1):+.0f} %) and {on['peak_mb'] - off['peak_mb']:+.0f} MB"
    )


if __name__ == "__main__":
    main()
