"""The thin desktop adapter over xw.Book (engine.excel.desktop.XwBook) and the
RunPython entry points, run on a real xw.Book.

On Linux the only xw.Book there is comes from xlwings PRO's remote engine
(desktop Excel needs Windows or macOS), so this runs only where an xlwings
licence key is in the environment; it is skipped otherwise. Never commit a key.
The run is in a child process: xlwings reads the key once, at its first import.
The manual checklist for desktop Excel is in docs/excel.md."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

import engine  # noqa: E402
from engine.evaluation.results import result_frame  # noqa: E402
from tests.clients import remote_bas  # noqa: E402
from tests.clients.excel import Workbook  # noqa: E402
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
    from engine.excel.rules_source import RulesSource
    from tests.clients import excel, remote_bas

    path, rules, button = sys.argv[1], sys.argv[2], sys.argv[3]
    model = excel.Workbook.from_xlsx(path, active="订单", selection="B6")
    book = xw.Book(json=json.loads(remote_bas.ConvertToJson(remote_bas.request_payload(model))))
    book.set_mock_caller()
    getattr(desktop, button)()                  # the RunPython entry point, through xw.Book.caller()
    print(json.dumps(book.json(), default=str))
""")


def run(button: str, path: Path, rules: Path) -> str:
    """The reply xlwings' remote engine makes of the button's writes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KADE_RULES": str(rules)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), str(rules), button],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_evaluate_button_on_an_xw_book(tmp_path):
    rules = small_model(tmp_path / "rules")
    path = small_data(tmp_path / "register.xlsx")
    expected = result_frame(engine.evaluate_workbook(engine.load_rules(rules), path), "orders")
    book = Workbook.from_xlsx(path)
    remote_bas.run_actions(book, run("evaluate", path, rules))  # as the VBA client applies them
    grid = book.sheet("订单").grid()
    got = [row[grid[0].index("approver")] for row in grid[1:]]
    assert got == expected["approver"].tolist()


def test_why_button_on_an_xw_book(tmp_path):
    rules = small_model(tmp_path / "rules")
    path = small_data(tmp_path / "register.xlsx")
    book = Workbook.from_xlsx(path)
    remote_bas.run_actions(book, run("why", path, rules))
    assert book.sheet("kade why").get(1, 1).startswith("Why? 订单 row 6")
    assert "approver = manager" in book.message_boxes[-1][1]
