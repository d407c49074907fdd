#!/usr/bin/env python3
"""Start-up: how long the light commands take end to end (a desktop button starts a
Python process per click, so this is what a manager waits for).

    python benchmarks/bench_startup.py                # 10 runs of each, median and best
    python benchmarks/bench_startup.py --write-docs

* ``kade --help``: interpreter start-up, imports, click. Target ≤ 0.3 s.
* ``kade rules check`` on a 200-rule, 6-input FIRST table (``bench_check.write_rules``,
  the grid shape). Target ≤ 1 s.
* ``python -c "import engine"`` and ``python -c "import engine.pipeline"``: what the
  lazy API saves, and what an evaluating command still imports.

Each command is run ``--runs`` times in turn (wall clock of the child process); the
1-minute load average before the runs is reported. ``--write-docs`` replaces the
section between ``<!-- startup:start -->`` and ``<!-- startup:end -->`` in
docs/performance.md. Not a pytest test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

START, END = "<!-- startup:start -->", "<!-- startup:end -->"
TARGETS = {"kade --help": 0.3, "kade rules check (200 rules)": 1.0}


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    from bench_check import write_rules
    from common import code_version, kade_command, machine, write_section

    with tempfile.TemporaryDirectory() as tmp:
        rules = write_rules(Path(tmp), 200, "F")
        commands = {
            "kade --help": kade_command() + ["--help"],
            "kade rules check (200 rules)": kade_command() + ["rules", "check", str(rules)],
            'python -c "import engine"': [sys.executable, "-c", "import engine"],
            'python -c "import engine.pipeline"': [sys.executable, "-c", "import engine.pipeline"],
        }
        load = os.getloadavg()
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(wall(cmd))
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python benchmarks/bench_startup.py`; kade {code_version()}; "
        f"{machine()}; {args.runs} runs of each command in turn; load average before: "
        f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}.",
        "",
        "| command | median (s) | best (s) | target |",
        "|:---|---:|---:|:---|",
    ]
    for name, runs in times.items():
        median = statistics.median(runs)
        target = TARGETS.get(name)
        verdict = f"≤ {target} s: {'met' if median <= target else 'missed'}" if target else "–"
        lines.append(f"| `{name}` | {median:.2f} | {min(runs):.2f} | {verdict} |")
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        write_section(START, END, text)


if __name__ == "__main__":
    main()
