"""The thin desktop adapter over xw.Book (engine.excel.desktop.XwBook) and the
RunPython entry points, run on a real xw.Book.

On Linux the only xw.Book there is comes from xlwings PRO's remote engine
(desktop Excel needs Windows or macOS), so this runs only where an xlwings
licence key is in the environment; it is skipped otherwise. Never commit a key.
The run is in a child process: xlwings reads the key once, at its first import.
The manual checklist for desktop Excel is in docs/excel.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parent.parent

import engine  # noqa: E402
from engine.evaluation.results import result_frame  # noqa: E402
from engine.excel.clients import apply_actions  # noqa: E402
from tests.workbook_factory import small_data, small_model  # noqa: E402

pytestmark = pytest.mark.skipif(
    not os.environ.get("XLWINGS_LICENSE_KEY"),
    reason="needs an xlwings licence key in XLWINGS_LICENSE_KEY: on Linux an xw.Book exists only through "
    "xlwings PRO's remote engine (desktop Excel is Windows/macOS; see the checklist in docs/excel.md)",
)

SCRIPT = textwrap.dedent("""
    import json, sys
    import xlwings as xw
    from engine.excel import desktop, handlers
    from engine.excel.clients import payload_from_xlsx
    from engine.excel.rules_source import RulesSource

    path, rules, button = sys.argv[1], sys.argv[2], sys.argv[3]
    book = xw.Book(json=payload_from_xlsx(path, active_sheet="订单", selection="B6"))
    book.set_mock_caller()
    getattr(desktop, button)()                  # the RunPython entry point, through xw.Book.caller()
    print(json.dumps(book.json()["actions"], default=str))
""")


def run(button: str, path: Path, rules: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KADE_RULES": str(rules)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), str(rules), button],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_evaluate_button_on_an_xw_book(tmp_path):
    rules = small_model(tmp_path / "rules")
    path = small_data(tmp_path / "register.xlsx")
    expected = result_frame(engine.evaluate_workbook(engine.load_rules(rules), path), "orders")
    wb = openpyxl.load_workbook(path)
    apply_actions(wb, run("evaluate", path, rules))
    orders = wb["订单"]
    headers = [c.value for c in orders[1]]
    got = [orders.cell(r, headers.index("approver") + 1).value for r in range(2, orders.max_row + 1)]
    assert got == expected["approver"].tolist()


def test_why_button_on_an_xw_book(tmp_path):
    rules = small_model(tmp_path / "rules")
    path = small_data(tmp_path / "register.xlsx")
    wb = openpyxl.load_workbook(path)
    alerts = apply_actions(wb, run("why", path, rules))
    assert wb["kade why"]["A1"].value.startswith("Why? 订单 row 6")
    assert "approver = manager" in alerts[-1][1]
