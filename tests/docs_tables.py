"""Registers in other shapes, for the set-up steps of the docs' examples
(tests/test_docs_examples.py; a page says ``<!-- docs-test: before: ... -->``) -
what a data team's export or a hand-made file would give:

    python -m tests.docs_tables register.xlsx registers/        # a Parquet file per sheet
    python -m tests.docs_tables register.xlsx . --csv 合同       # 合同.csv only
    python -m tests.docs_tables guests.csv guests.xlsx          # a CSV as a one-sheet workbook
"""

from __future__ import annotations

import argparse
from pathlib import Path

import openpyxl

from engine.io.registers import read_workbook
from engine.io.writers import write_parquet


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--csv", nargs="*", metavar="SHEET", help="CSV files instead of Parquet (these sheets only)")
    args = parser.parse_args(argv)
    sheets = read_workbook(args.source)
    if args.target.suffix.lower() == ".xlsx":
        book = openpyxl.Workbook()
        book.remove(book.active)
        for sheet in sheets:
            page = book.create_sheet(sheet.name)
            page.append(list(sheet.frame.columns))
            for row in sheet.frame.itertuples(index=False):
                page.append([_typed(v) for v in row])
        book.save(args.target)
    elif args.csv is not None:
        args.target.mkdir(parents=True, exist_ok=True)
        for sheet in sheets:
            if not args.csv or sheet.name in args.csv:
                sheet.frame.to_csv(args.target / f"{sheet.name}.csv", index=False, encoding="utf-8-sig")
    else:
        write_parquet({sheet.name: sheet.frame for sheet in sheets}, args.target)


def _typed(value):
    """A CSV cell as a person would type it into Excel: numbers and true/false as such."""
    if not isinstance(value, str):
        return value
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        return value


if __name__ == "__main__":
    main()
