#!/usr/bin/env python3
"""Generate the benchmark inputs in ``benchmarks/data/`` (gitignored).

* ``benchmarks/data/rules/``: a rules folder in kade's layout (see
  ``engine/rulebook.py`` and ``tools/build_rules.py``):
  ``glossary.xlsx`` (sheets Glossary + Entities, one entity ``orders`` read from
  sheet ``orders``, 8 data columns + the decision output) and
  ``order_priority.xlsx`` (one 20-rule FIRST table over amount / category /
  express, with ranges and lists, plus a default row). Written with openpyxl.
* ``benchmarks/data/orders_<N>.xlsx``: one sheet ``orders`` with N data rows,
  written with XlsxWriter in constant_memory mode. Deterministic (fixed seed).
  Default sizes: 10,000, 100,000 and 1,048,575 (Excel's 1,048,576 rows minus
  the header row).

Usage::

    python benchmarks/generate.py                 # rules + all three sizes
    python benchmarks/generate.py --sizes 10k     # just one size
    python benchmarks/generate.py --force         # regenerate existing files

Existing data workbooks are kept (generating the 1M-row one takes a while)
unless ``--force``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RULES = DATA / "rules"
EXCEL_MAX_DATA_ROWS = 1_048_575  # 1,048,576 sheet rows minus the header
DEFAULT_SIZES = (10_000, 100_000, EXCEL_MAX_DATA_ROWS)
SHEET = "orders"
SEED = 20240611
CHUNK = 65_536  # rows generated per numpy batch

# ------------------------------------------------------------------ rules ------

ENTITIES = [("orders", SHEET, "order_id", "", "")]

CATEGORIES = ["electronics", "machinery", "furniture", "clothing", "grocery", "books", "toys", "other"]
CATEGORY_WEIGHTS = [0.18, 0.10, 0.12, 0.16, 0.18, 0.10, 0.10, 0.06]

GLOSSARY = [
    # variable, entity, column header(s), type, allowed values, label, description
    ("order_id", "orders", "Order ID | 订单编号", "string", "", "order id", "key"),
    ("order_date", "orders", "Order date | 下单日期", "date", "", "order date", ""),
    ("category", "orders", "Category | 品类", "string", "", "category", "product category"),
    ("quantity", "orders", "Quantity | 数量", "number", "", "quantity", "units"),
    ("unit_price", "orders", "Unit price | 单价", "number", "", "unit price", "CNY"),
    ("amount", "orders", "Amount | 金额", "number", "", "amount", "CNY, quantity x unit price"),
    ("discount", "orders", "Discount (%) | 折扣率(%)", "number", "", "discount %", ""),
    ("express", "orders", "Express | 加急", "boolean", "", "express", "express delivery requested"),
    (
        "priority",
        "orders",
        "Priority | 优先级",
        "string",
        '"P1", "P2", "P3", "P4", "P5"',
        "priority",
        "decision output",
    ),
]

# 5 amount bands x 4 category groups = 20 rules; FIRST hit policy.
BANDS = [
    (">= 50000", "≥ 50k"),
    ("[20000..50000)", "20k–50k"),
    ("[5000..20000)", "5k–20k"),
    ("[1000..5000)", "1k–5k"),
    ("< 1000", "< 1k"),
]
GROUPS = [
    ('"electronics", "machinery"', "-", "high-value goods"),
    ('"furniture", "clothing"', "-", "bulky / seasonal goods"),
    ('"grocery", "books"', "-", "staples"),
    ("-", "true", "any category, express requested"),
]
PRIORITY = [
    ["P1", "P1", "P2", "P1"],
    ["P1", "P2", "P3", "P2"],
    ["P2", "P3", "P3", "P2"],
    ["P3", "P4", "P4", "P3"],
    ["P4", "P5", "P5", "P4"],
]
DEFAULT_PRIORITY = '"P5"'  # toys / other without express, or no amount


def rule_rows() -> list[tuple]:
    rows = []
    for b, (band, band_text) in enumerate(BANDS):
        for g, (cats, express, group_text) in enumerate(GROUPS):
            rid = f"PR-{len(rows) + 1:02d}"
            rows.append((rid, band, cats, express, f'"{PRIORITY[b][g]}"', f"amount {band_text}, {group_text}"))
    return rows


TABLE = (
    "order_priority",
    "订单优先级 Order priority",
    "orders",
    "F",
    [("input", "amount"), ("input", "category"), ("input", "express"), ("output", "priority")],
)


def write_rules(folder: Path = RULES) -> list[Path]:
    """The benchmark rules folder (openpyxl, the layout of tools/build_rules.py)."""
    from openpyxl import Workbook

    from engine.model.rulebook import add_decision_sheet, add_glossary_sheets

    folder.mkdir(parents=True, exist_ok=True)
    glossary = folder / "glossary.xlsx"
    wb = Workbook()
    wb.remove(wb.active)
    add_glossary_sheets(wb, GLOSSARY, ENTITIES)
    wb.save(glossary)

    table_file = folder / "order_priority.xlsx"
    name, title, entity, hit, columns = TABLE
    rules = rule_rows()
    assert len(rules) == 20
    wb = Workbook()
    wb.remove(wb.active)
    add_decision_sheet(wb, name, entity, hit, columns, rules, ("default", DEFAULT_PRIORITY, "no rule matched"), title)
    wb.save(table_file)
    return [glossary, table_file]


# ------------------------------------------------------------------ data -------

HEADERS = ["Order ID", "Order date", "Category", "Quantity", "Unit price", "Amount", "Discount (%)", "Express"]
EXCEL_EPOCH = np.datetime64("1899-12-30")


def data_path(n: int) -> Path:
    return DATA / f"orders_{n}.xlsx"


def parse_size(text: str) -> int:
    t = text.strip().lower().replace(",", "").replace("_", "")
    if t in ("max", "1m", "excel"):
        return EXCEL_MAX_DATA_ROWS
    mult = 1
    if t.endswith("k"):
        t, mult = t[:-1], 1_000
    elif t.endswith("m"):
        t, mult = t[:-1], 1_000_000
    n = int(float(t) * mult)
    if not 1 <= n <= EXCEL_MAX_DATA_ROWS:
        raise argparse.ArgumentTypeError(f"size must be 1..{EXCEL_MAX_DATA_ROWS:,}, got {text}")
    return n


def parse_sizes(text: str) -> list[int]:
    return [parse_size(s) for s in text.split(",") if s.strip()]


def _chunk(rng: np.random.Generator, start: int, size: int):
    """Columns for rows start..start+size as Python lists (what XlsxWriter takes)."""
    ids = [f"ORD-{i:07d}" for i in range(start + 1, start + size + 1)]
    days = (np.datetime64("2023-01-01") + rng.integers(0, 730, size)).astype("datetime64[D]")
    serial = (days - EXCEL_EPOCH).astype("int64").astype(float).tolist()  # Excel date serials
    category = np.asarray(CATEGORIES, dtype=object)[rng.choice(len(CATEGORIES), size, p=CATEGORY_WEIGHTS)].tolist()
    quantity = rng.integers(1, 200, size)
    # log-uniform unit prices so amounts spread over every band of the table
    unit_price = np.round(np.exp(rng.uniform(np.log(2.0), np.log(2_000.0), size)), 2)
    amount = np.round(quantity * unit_price, 2)
    amount_list = amount.tolist()
    blank = rng.random(size) < 0.01  # 1 % of amounts left empty (→ default row)
    for i in np.flatnonzero(blank):
        amount_list[i] = None
    discount = np.round(rng.uniform(0, 30, size), 1).tolist()
    express = (rng.random(size) < 0.25).tolist()
    return ids, serial, category, quantity.astype(float).tolist(), unit_price.tolist(), amount_list, discount, express


def write_data(n: int, path: Path | None = None) -> Path:
    """n data rows on sheet 'orders' (XlsxWriter, constant_memory)."""
    import xlsxwriter

    path = path or data_path(n)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    rng = np.random.default_rng(SEED)
    book = xlsxwriter.Workbook(
        str(tmp),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    bold = book.add_format({"bold": True})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    ws = book.add_worksheet(SHEET)
    for c, h in enumerate(HEADERS):
        ws.write_string(0, c, h, bold)
    write_string, write_number, write_boolean = ws.write_string, ws.write_number, ws.write_boolean
    row = 1
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        ids, serial, category, quantity, unit_price, amount, discount, express = _chunk(rng, start, size)
        for i in range(size):
            write_string(row, 0, ids[i])
            write_number(row, 1, serial[i], date_fmt)
            write_string(row, 2, category[i])
            write_number(row, 3, quantity[i])
            write_number(row, 4, unit_price[i])
            a = amount[i]
            if a is not None:
                write_number(row, 5, a)
            write_number(row, 6, discount[i])
            write_boolean(row, 7, express[i])
            row += 1
    book.close()
    tmp.replace(path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate kade benchmark rules and data workbooks.")
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated row counts: 10k,100k,max (default: 10k,100k,1048575)",
    )
    parser.add_argument("--force", action="store_true", help="regenerate data workbooks that already exist")
    args = parser.parse_args(argv)
    for p in write_rules():
        print(f"wrote {p.relative_to(HERE.parent)}")
    for n in args.sizes:
        path = data_path(n)
        if path.exists() and not args.force:
            print(f"kept  {path.relative_to(HERE.parent)} (exists; --force to regenerate)")
            continue
        t0 = time.perf_counter()
        write_data(n, path)
        mb = path.stat().st_size / 1e6
        print(f"wrote {path.relative_to(HERE.parent)}: {n:,} rows, {mb:,.1f} MB in {time.perf_counter() - t0:,.1f} s")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
