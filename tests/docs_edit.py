"""Edit one cell of a rule table, found by rule id and column header - what a
manager does in Excel, for the set-up steps of the docs' examples
(tests/test_docs_examples.py; a page says ``<!-- docs-test: before: ... -->``).

    python -m tests.docs_edit rules/client_tier.xlsx client_tier CT-04 client_score ">= 500"
"""

from __future__ import annotations

import sys

import openpyxl


def edit(path: str, sheet: str, rule: str, column: str, value: str) -> None:
    book = openpyxl.load_workbook(path)
    rows = list(book[sheet].iter_rows())
    at = next((i for i, row in enumerate(rows) if row[0].value == rule), None)
    if at is None:
        raise SystemExit(f"no rule {rule} in {path}!{sheet}")
    header = next((row for row in reversed(rows[:at]) if any(c.value == column for c in row)), None)
    if header is None:
        raise SystemExit(f"no column {column} above rule {rule} in {path}!{sheet}")
    col = next(c.column for c in header if c.value == column)
    book[sheet].cell(rows[at][0].row, col).value = value
    book.save(path)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    edit(*sys.argv[1:])
