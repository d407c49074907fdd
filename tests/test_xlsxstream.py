"""The fast results writer produces workbooks that openpyxl and calamine read back
exactly: types, escaping, empty cells, dates, formatting."""
from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
from python_calamine import CalamineWorkbook

from engine import xlsxstream


def test_values_round_trip(tmp_path):
    frame = pd.DataFrame({
        "文本": pd.Series(["金融", "a & b <c>", " lead", "tail ", "ctl\x01char", None], dtype=object),
        "number": pd.Series([1.0, 2560, -0.5, 1e-7, None, np.nan], dtype=object),
        "flag": pd.Series([True, False, None, True, False, True], dtype=object),
        "day": pd.Series([dt.date(2026, 1, 31), None, dt.datetime(2025, 12, 1, 0, 0), dt.date(1999, 12, 31), None, None], dtype=object),
        "mixed": pd.Series(["x", 3.0, True, None, "y", dt.date(2026, 2, 1)], dtype=object),
    })
    path = tmp_path / "out.xlsx"
    xlsxstream.write(path, [xlsxstream.SheetSpec("客户's data", frame, ["data", "data", "decision", "decision", "error"], [20] * 5)])
    book = openpyxl.load_workbook(path)
    ws = book["客户's data"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == ["文本", "number", "flag", "day", "mixed"]
    assert [r[0] for r in rows[1:]] == ["金融", "a & b <c>", " lead", "tail ", "ctlchar", None]
    assert [r[1] for r in rows[1:]] == [1, 2560, -0.5, 1e-7, None, None]
    assert [r[2] for r in rows[1:]] == [True, False, None, True, False, True]
    assert rows[1][3] == dt.datetime(2026, 1, 31) and rows[3][3] == dt.datetime(2025, 12, 1) and rows[2][3] is None
    assert ws["D2"].number_format == "yyyy\\-mm\\-dd"
    assert [r[4] for r in rows[1:]][:3] == ["x", 3, True]
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref == "A1:E7"
    assert ws["A1"].font.b and ws["C1"].fill.fgColor.rgb == "FFE2EFDA" and ws["E1"].fill.fgColor.rgb == "FFFCE4D6"
    calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("客户's data").to_python()
    assert calamine[2][0] == "a & b <c>" and calamine[1][1] == 1.0


def test_empty_and_several_sheets(tmp_path):
    path = tmp_path / "two.xlsx"
    xlsxstream.write(path, [xlsxstream.SheetSpec("empty", pd.DataFrame({"a": pd.Series([], dtype=object)})),
                            xlsxstream.SheetSpec("one", pd.DataFrame({"b": pd.Series([1.5], dtype=object)}), freeze=None, autofilter=False)])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["empty", "one"]
    assert book["empty"].max_row == 1 and book["one"]["A2"].value == 1.5


def test_duplicate_sheet_names_refused(tmp_path):
    frame = pd.DataFrame({"a": pd.Series([1], dtype=object)})
    try:
        xlsxstream.write(tmp_path / "x.xlsx", [xlsxstream.SheetSpec("s", frame), xlsxstream.SheetSpec("s", frame)])
    except ValueError as exc:
        assert "duplicate sheet names" in str(exc)
    else:
        raise AssertionError("duplicate sheet names were accepted")


def test_text_longer_than_excel_holds_is_cut_with_a_mark(tmp_path):
    long = "理由" * 20_000  # 40,000 characters; Excel keeps at most 32,767 in a cell
    frame = pd.DataFrame({"reason": pd.Series([long, "short"], dtype=object)})
    path = tmp_path / "long.xlsx"
    xlsxstream.write(path, [xlsxstream.SheetSpec("s", frame)])
    values = [c.value for c in openpyxl.load_workbook(path)["s"]["A"]]
    assert len(values[1]) == xlsxstream.MAX_CELL_TEXT and values[1].endswith("…") and values[1][:-1] == long[:32_766]
    assert values[2] == "short"
