"""Benchmark `engine.analysis.rules_check`: a generated 200-rule, 6-input decision table.

    python benchmarks/bench_check.py            # best of 3 per hit policy
    python benchmarks/bench_check.py --rules 400 --repeat 5

The table is written as a real rule workbook (the layout of tools/build_rules.py)
in a temporary folder and loaded with `engine.load_rules`; only
`engine.analysis.rules_check.check_ruleset` is timed. Inputs: amount (number ranges), category
(text lists and not(...), no fixed list), region (text with allowed values),
express (boolean), order_date (date ranges), score (comparisons, allowed
[0..100]). No default row, so the gap search runs over the whole table.

Two shapes, each under every hit policy asked for:
- grid: how large tables are written in practice: 10 amount bands × 5 region
  groups × express × score band = 200 rules, with about one rule in six narrowed
  by a category list or a date range (which leaves real gaps).
- random: every cell drawn at random, 40 % `-` (a stress case: thousands of
  overlapping pairs under U).
Deterministic (fixed seed). Target: ≤ 2 s.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import load_rules
from engine.analysis.rules_check import check_ruleset
from engine.model.rulebook import add_glossary_sheets

AMOUNTS = [0, 10, 50, 100, 200, 500, 1000, 2000, 5000]
CATEGORIES = ["硬件", "软件", "服务", "网络", "云", "安全", "咨询", "运维", "培训", "数据", "终端", "其他"]
REGIONS = ["华东", "华北", "华南", "西部", "东北", "海外"]
DATES = ["2024-01-01", "2024-07-01", "2025-01-01", "2025-07-01", "2026-01-01", "2026-07-01"]
SCORES = [0, 20, 40, 60, 80, 100]
GLOSSARY = [
    ("order_id", "orders", "订单编号", "string", ""),
    ("amount", "orders", "金额", "number", ""),
    ("category", "orders", "品类", "string", ""),
    ("region", "orders", "区域", "string", ", ".join(REGIONS)),
    ("express", "orders", "加急", "boolean", ""),
    ("order_date", "orders", "下单日期", "date", ""),
    ("score", "orders", "评分", "number", "[0..100]"),
    ("priority", "orders", "优先级", "string", '"P1", "P2", "P3", "P4"'),
]


def _cell(rng: random.Random, column: str) -> str:
    if rng.random() < 0.4:
        return "-"
    if column == "amount":
        lo, hi = sorted(rng.sample(AMOUNTS, 2))
        return rng.choice([f"[{lo}..{hi})", f"[{lo}..{hi}]", f"< {hi}", f">= {lo}", f"({lo}..{hi}]"])
    if column == "category":
        picks = ", ".join(f'"{c}"' for c in rng.sample(CATEGORIES, rng.randint(1, 3)))
        return f"not({picks})" if rng.random() < 0.25 else picks
    if column == "region":
        return ", ".join(f'"{r}"' for r in rng.sample(REGIONS, rng.randint(1, 2)))
    if column == "express":
        return rng.choice(["true", "false"])
    if column == "order_date":
        lo, hi = sorted(rng.sample(DATES, 2))
        return rng.choice([f'[date("{lo}")..date("{hi}"))', f'>= date("{lo}")', f'< date("{hi}")'])
    return rng.choice([f">= {s}" for s in SCORES[1:]] + [f"< {s}" for s in SCORES[1:]])


BANDS = [
    "[0..10)",
    "[10..50)",
    "[50..100)",
    "[100..200)",
    "[200..500)",
    "[500..1000)",
    "[1000..2000)",
    "[2000..5000)",
    "[5000..10000)",
    ">= 10000",
]
REGION_GROUPS = ['"华东"', '"华北"', '"华南"', '"西部", "东北"', '"海外"']


def grid_rules(rng: random.Random, n_rules: int) -> list[list[str]]:
    """amount band × region group × express × score band, some narrowed further."""
    rows = []
    for band in BANDS:
        for region in REGION_GROUPS:
            for express in ("true", "false"):
                for score in ("< 60", ">= 60"):
                    category, date = "-", "-"
                    if rng.random() < 0.1:
                        category = ", ".join(f'"{c}"' for c in rng.sample(CATEGORIES, 3))
                    if rng.random() < 0.07:
                        date = f'>= date("{rng.choice(DATES)}")'
                    rows.append([band, category, region, express, date, score])
    return rows[:n_rules]


def random_rules(rng: random.Random, n_rules: int) -> list[list[str]]:
    columns = ["amount", "category", "region", "express", "order_date", "score"]
    return [[_cell(rng, c) for c in columns] for _ in range(n_rules)]


def write_rules(folder: Path, n_rules: int, hit_policy: str, shape: str = "grid", seed: int = 7) -> Path:
    rng = random.Random(seed)
    book = Workbook()
    book.remove(book.active)
    add_glossary_sheets(book, GLOSSARY, [("orders", "订单", "order_id", "", "")])
    book.save(folder / "glossary.xlsx")
    inputs = ["amount", "category", "region", "express", "order_date", "score"]
    book = Workbook()
    sheet = book.active
    sheet.title = "order_priority"
    for row in (
        ["decision", "order_priority"],
        ["rows", "orders"],
        [],
        [None, *["input"] * len(inputs), "output", "annotation"],
        [hit_policy, *inputs, "points" if hit_policy.startswith("C") else "priority", "annotation"],
    ):
        sheet.append(row)
    cells = grid_rules(rng, n_rules) if shape == "grid" else random_rules(rng, n_rules)
    for i, row in enumerate(cells):
        result = str(rng.randint(1, 9)) if hit_policy.startswith("C") else f'"P{rng.randint(1, 4)}"'
        sheet.append([f"R{i + 1:03d}", *row, result, "generated"])
    book.save(folder / "order_priority.xlsx")
    return folder


def run(shape: str, policy: str, args):
    """Build one table, check it ``args.repeat`` times, print the best time."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = load_rules(write_rules(Path(tmp), args.rules, policy, shape))
    times, report = [], None
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = check_ruleset(rules, glossary=False)
        times.append(time.perf_counter() - start)
    kinds: dict[str, int] = {}
    for finding in report.findings:
        kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
    found = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"
    print(f"  {shape:<6} hit policy {policy:<3} {min(times):6.3f} s   findings: {found}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--policies", default="U,F,P,C+")
    parser.add_argument("--shapes", default="grid,random")
    args = parser.parse_args(argv)
    print(f"check of one {args.rules}-rule, 6-input table (best of {args.repeat}; target ≤ 2 s)")
    for shape in args.shapes.split(","):
        for policy in args.policies.split(","):
            run(shape, policy, args)


if __name__ == "__main__":
    main()
