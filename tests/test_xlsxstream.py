"""The fast results writer produces workbooks that openpyxl and calamine read back
exactly: types, escaping, empty cells, dates, formatting."""

from __future__ import annotations

import datetime as dt
import os
import zipfile

import numpy as np
import openpyxl
import pandas as pd
from python_calamine import CalamineWorkbook

from engine.io import xlsx_stream


def test_values_round_trip(tmp_path):
    frame = pd.DataFrame(
        {
            "文本": pd.Series(["金融", "a & b <c>", " lead", "tail ", "ctl\x01char", None], dtype=object),
            "number": pd.Series([1.0, 2560, -0.5, 1e-7, None, np.nan], dtype=object),
            "flag": pd.Series([True, False, None, True, False, True], dtype=object),
            "day": pd.Series(
                [dt.date(2026, 1, 31), None, dt.datetime(2025, 12, 1, 0, 0), dt.date(1999, 12, 31), None, None],
                dtype=object,
            ),
            "mixed": pd.Series(["x", 3.0, True, None, "y", dt.date(2026, 2, 1)], dtype=object),
        }
    )
    path = tmp_path / "out.xlsx"
    xlsx_stream.write(
        path, [xlsx_stream.SheetSpec("客户's data", frame, ["data", "data", "decision", "decision", "error"], [20] * 5)]
    )
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
    xlsx_stream.write(
        path,
        [
            xlsx_stream.SheetSpec("empty", pd.DataFrame({"a": pd.Series([], dtype=object)})),
            xlsx_stream.SheetSpec(
                "one", pd.DataFrame({"b": pd.Series([1.5], dtype=object)}), freeze=None, autofilter=False
            ),
        ],
    )
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["empty", "one"]
    assert book["empty"].max_row == 1 and book["one"]["A2"].value == 1.5


def test_duplicate_sheet_names_refused(tmp_path):
    frame = pd.DataFrame({"a": pd.Series([1], dtype=object)})
    try:
        xlsx_stream.write(tmp_path / "x.xlsx", [xlsx_stream.SheetSpec("s", frame), xlsx_stream.SheetSpec("s", frame)])
    except ValueError as exc:
        assert "duplicate sheet names" in str(exc)
    else:
        raise AssertionError("duplicate sheet names were accepted")


def test_text_longer_than_excel_holds_is_cut_with_a_mark(tmp_path):
    long = "理由" * 20_000  # 40,000 characters; Excel keeps at most 32,767 in a cell
    frame = pd.DataFrame({"reason": pd.Series([long, "short"], dtype=object)})
    path = tmp_path / "long.xlsx"
    xlsx_stream.write(path, [xlsx_stream.SheetSpec("s", frame)])
    values = [c.value for c in openpyxl.load_workbook(path)["s"]["A"]]
    assert len(values[1]) == xlsx_stream.MAX_CELL_TEXT and values[1].endswith("…") and values[1][:-1] == long[:32_766]
    assert values[2] == "short"


def test_text_that_looks_like_an_ooxml_escape_and_non_characters(tmp_path):
    # readers decode '_x0042_' to 'B': kade's text must come back as written; U+FFFF is not XML
    frame = pd.DataFrame({"t": pd.Series(["A_x0042_C", "a\uffffb", "_x00e9_ & <x>"], dtype=object)})
    path = tmp_path / "esc.xlsx"
    xlsx_stream.write(path, [xlsx_stream.SheetSpec("s", frame)])
    # Excel and calamine decode _xHHHH_ (the spec's escape, as XlsxWriter writes it); openpyxl shows it raw
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
    assert "A_x005F_x0042_C" in xml and "_x005F_x00e9_ &amp; &lt;x&gt;" in xml and "\uffff" not in xml
    assert [r[0] for r in CalamineWorkbook.from_path(str(path)).get_sheet_by_name("s").to_python()[1:]] == [
        "A_x0042_C",
        "ab",
        "_x00e9_ & <x>",
    ]


def test_dates_around_excels_1900_leap_year_bug_and_before_1900(tmp_path):
    days = [
        dt.date(1900, 1, 15),
        dt.date(1900, 2, 28),
        dt.date(1900, 3, 1),
        dt.date(1850, 6, 1),
        dt.datetime(1899, 12, 31, 6, 30),
    ]
    frame = pd.DataFrame({"d": pd.Series(days, dtype=object), "mixed": pd.Series(days[:4] + ["x"], dtype=object)})
    path = tmp_path / "dates.xlsx"
    xlsx_stream.write(path, [xlsx_stream.SheetSpec("s", frame)])
    ws = openpyxl.load_workbook(path)["s"]
    for column in ("A", "B"):
        got = [c.value for c in ws[column]][1:5]
        assert got[:3] == [dt.datetime(1900, 1, 15), dt.datetime(1900, 2, 28), dt.datetime(1900, 3, 1)]
        assert got[3] == "1850-06-01"  # before Excel's first day: kept as text, not a negative serial
    assert ws["A6"].value == "1899-12-31 06:30:00"


def test_long_text_with_characters_beyond_the_basic_plane_is_cut_by_excels_count(tmp_path):
    long = "\U00020000" * 20_000  # 20,000 characters, 40,000 UTF-16 units: over Excel's 32,767
    frame = pd.DataFrame({"t": pd.Series([long], dtype=object)})
    path = tmp_path / "astral.xlsx"
    xlsx_stream.write(path, [xlsx_stream.SheetSpec("s", frame)])
    value = openpyxl.load_workbook(path)["s"]["A2"].value
    assert value.endswith("…") and len(value.encode("utf-16-le")) // 2 <= xlsx_stream.MAX_CELL_TEXT


def test_a_package_is_written_into_the_file_without_truncating_it_on_opening(tmp_path, monkeypatch):
    """ext4 writes out a file truncated on opening as soon as it is closed (0.4 s for a
    million rows' results): the empty temporary file is opened as it is, and a file
    that has content is emptied first, so nothing of it is left in the package."""
    opened = []
    real_open = xlsx_stream.os.open

    def spy(path, flags, *args):
        opened.append(flags)
        return real_open(path, flags, *args)

    monkeypatch.setattr(xlsx_stream.os, "open", spy)
    frame = pd.DataFrame({"客户名称": ["甲", "乙"], "n": [1.0, 2.0]})
    fresh, stale = tmp_path / "fresh.xlsx", tmp_path / "stale.xlsx"
    stale.write_bytes(b"old content " * 100_000)  # longer than the package: a tail would corrupt it
    for path in (fresh, stale):
        xlsx_stream.write(path, [xlsx_stream.SheetSpec("客户", frame)])
    assert len(opened) == 2 and not any(flags & os.O_TRUNC for flags in opened)
    for path in (fresh, stale):
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
        assert path.stat().st_size < 100_000
        cells = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("客户").to_python()
        assert cells == [["客户名称", "n"], ["甲", 1.0], ["乙", 2.0]]


def test_a_column_of_numbers_is_written_as_the_same_column_of_python_objects(tmp_path):
    """Decisions' number outputs reach the writer as numpy floats (no Python object per
    row); their cells are the ones the same values as objects give - None for NaN and
    infinities, -0 kept - over several blocks of rows."""
    numbers = np.tile(np.array([1.0, 2560.0, -0.5, 1e-7, np.nan, np.inf, -0.0, 12345678.9, -np.inf, 3.0]), 2_500)
    objects = pd.Series([v if np.isfinite(v) else None for v in numbers.tolist()], dtype=object)
    sheets = {}
    for kind, column in (("float", pd.Series(numbers)), ("object", objects)):
        path = tmp_path / f"{kind}.xlsx"
        xlsx_stream.write(path, [xlsx_stream.SheetSpec("分数", pd.DataFrame({"客户评分": column, "n": objects}))])
        with zipfile.ZipFile(path) as zf:
            sheets[kind] = zf.read("xl/worksheets/sheet1.xml")
    assert sheets["float"] == sheets["object"]
    cells = CalamineWorkbook.from_path(str(tmp_path / "float.xlsx")).get_sheet_by_name("分数").to_python()
    assert [row[0] for row in cells[1:11]] == [1.0, 2560.0, -0.5, 1e-7, "", "", -0.0, 12345678.9, "", 3.0]
    assert len(cells) == 25_001
