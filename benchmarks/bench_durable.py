"""Benchmark the two evaluators (not a test): batch rows/s, single-row latency,
and memory over many rule reloads with durable-rules.

    python benchmarks/bench_durable.py            # full run, prints a markdown report
    python benchmarks/bench_durable.py --quick    # small sizes

Results are copied into docs/engines.md by hand with the date and machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.evaluation.decisions import evaluate_table, match_matrix
from engine.evaluation.durable import DurableMatcher
from tests.helpers import env, table


def first_table(threshold: int = 0):
    """A 20-rule FIRST table over an amount range, a category list and a flag."""
    rules = []
    cats = ['"A"', '"B"', '"C"', '"A", "B"', "-"]
    for i in range(19):
        lo = i * 50 + threshold
        rules.append((f"R{i + 1}", [f"[{lo}..{lo + 50})", cats[i % 5], ["true", "false", "-"][i % 3]], [f'"p{i % 4}"']))
    rules.append(("R20", ["-", "-", "-"], ['"p0"']))
    return table(
        inputs=[("amount", "number"), ("category", "string"), ("express", "boolean")],
        outputs=[("priority", "string", ())],
        rules=rules,
        hit_policy="F",
    )


def columns(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    return env(
        amount=("number", rng.uniform(0, 1000, n).round(0).tolist()),
        category=("string", rng.choice(["A", "B", "C", "D"], n).tolist()),
        express=("boolean", rng.choice([True, False], n).tolist()),
    )


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def batch(n: int, matcher, repeats: int) -> float:
    tbl, cols = first_table(), columns(n)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        evaluate_table(tbl, cols, n, reasons=False, matcher=matcher)
        times.append(time.perf_counter() - start)
    return n / min(times)


def latency(matcher, calls: int) -> tuple[float, float]:
    tbl, cols = first_table(), columns(1)
    evaluate_table(tbl, cols, 1, matcher=matcher)  # warm: compile + load
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        evaluate_table(tbl, cols, 1, matcher=matcher)
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99) - 1] * 1e3


def reloads(count: int, durable: DurableMatcher) -> list[tuple[int, int, int]]:
    """(reload, main RSS KB, worker RSS KB) every 100 reloads of a changed table."""
    cols = columns(10)
    out = []
    for version in range(1, count + 1):
        tbl = first_table(threshold=version)  # a new rule version each time
        durable(tbl, [cols["amount"], cols["category"], cols["express"]], cols, 10)
        if version % 100 == 0:
            out.append((version, rss_kb(os.getpid()), rss_kb(durable.worker_pid())))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    durable = DurableMatcher()
    print("## Batch (20-rule FIRST table, reasons off), rows/s\n")
    print("| rows | vectorized | durable-rules |\n|---:|---:|---:|")
    for n in sizes:
        vec = batch(n, match_matrix, 3)
        dur = batch(n, durable, 1 if n >= 100_000 else 2)
        print(f"| {n:,} | {vec:,.0f} | {dur:,.0f} |")
    print("\n## Single-row latency (evaluate_table on 1 row, reasons on), ms\n")
    print("| engine | median | p99 |\n|---|---:|---:|")
    for name, matcher in (("vectorized", match_matrix), ("durable-rules", durable)):
        med, p99 = latency(matcher, 200 if args.quick else 2000)
        print(f"| {name} | {med:.3f} | {p99:.3f} |")
    count = 200 if args.quick else 1000
    print(
        f"\n## Memory over {count:,} rule reloads (durable-rules; worker replaced every {durable.worker_loads} versions)\n"
    )
    print("| reloads | main process RSS MB | worker RSS MB |\n|---:|---:|---:|")
    for version, main_kb, worker_kb in reloads(count, durable):
        print(f"| {version:,} | {main_kb / 1024:.1f} | {worker_kb / 1024:.1f} |")
    print(f"\nworker restarts: {durable.restarts}")
    durable.close()


if __name__ == "__main__":
    main()
