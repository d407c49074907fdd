"""`kade evaluate --in-place`: the decisions land in the user's own .xlsx, with a
backup, under a lock, and a workbook holding anything openpyxl would drop is
refused untouched."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

import engine
from engine.excel import handlers, inplace
from engine.excel.errors import InPlaceRefused, WorkbookLocked
from engine.excel.inplace import evaluate_in_place, parts_openpyxl_drops
from tests.workbook_factory import small_data, small_model

NOW = dt.datetime(2026, 11, 25, 9, 30, 0)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rules(tmp_path):
    return engine.load_rules(small_model(tmp_path / "rules"))


@pytest.fixture
def register(tmp_path):
    """The small register plus what people keep in real ones: formulas, styles,
    merged cells, names, validation, conditional formats, comments, a notes sheet."""
    path = small_data(tmp_path / "register.xlsx")
    wb = openpyxl.load_workbook(path)
    clients = wb["客户"]
    clients["A1"].font = Font(bold=True, color="FF0000")
    clients["B2"].fill = PatternFill("solid", start_color="FFFF00", end_color="FFFF00")
    clients["B2"].number_format = "#,##0"
    clients["B2"].comment = Comment("checked by finance", "anna")
    clients.freeze_panes = "B2"
    clients.column_dimensions["C"].width = 25
    validation = DataValidation(type="list", formula1='"金融,政府,其他"')
    validation.add("C2:C50")
    clients.add_data_validation(validation)
    clients.conditional_formatting.add(
        "B2:B50",
        CellIsRule(
            operator="greaterThan",
            formula=["1000"],
            fill=PatternFill("solid", start_color="C6EFCE", end_color="C6EFCE"),
        ),
    )
    notes = wb.create_sheet("notes")
    notes["A1"] = "total revenue"
    notes["B1"] = "=SUM(客户!B2:B4)"
    notes.merge_cells("A3:C3")
    notes["A3"] = "merged note"
    wb.defined_names["revenue"] = DefinedName("revenue", attr_text="客户!$B$2:$B$4")
    wb.save(path)
    return path


def snapshot(path: Path, sheets=None) -> dict:
    wb = openpyxl.load_workbook(path)
    out = {"names": sorted(wb.defined_names), "sheets": wb.sheetnames}
    for ws in wb.worksheets:
        if sheets and ws.title not in sheets:
            continue
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None or c.has_style:
                    cells[c.coordinate] = (
                        c.value,
                        c.font.b,
                        c.font.color.rgb if c.font.color else None,
                        c.fill.fgColor.rgb,
                        c.number_format,
                        c.comment.text if c.comment else None,
                    )
        out[ws.title] = {
            "cells": cells,
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "freeze": ws.freeze_panes,
            "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.customWidth},
            "validation": [(str(v.sqref), v.formula1) for v in ws.data_validations.dataValidation],
            "conditional": [str(r.sqref) for r in ws.conditional_formatting],
        }
    return out


def restrict(snap: dict, sheet: str, columns: int) -> dict:
    """Only the cells in the first ``columns`` columns of ``sheet``."""
    out = dict(snap[sheet])
    out["cells"] = {
        k: v for k, v in snap[sheet]["cells"].items() if openpyxl.utils.cell.coordinate_to_tuple(k)[1] <= columns
    }
    out["widths"] = {
        k: w for k, w in snap[sheet]["widths"].items() if openpyxl.utils.column_index_from_string(k) <= columns
    }
    return out


# ---------------------------------------------------------------- it works ----


def test_decisions_are_written_and_everything_else_is_kept(register, rules):
    before = snapshot(register)
    result = evaluate_in_place(register, rules, now=NOW)
    after = snapshot(register)
    orders = openpyxl.load_workbook(register)["订单"]
    assert [c.value for c in orders[1]][5:] == ["approver", "approval.rule", "approval.reason", "kade.errors"]
    assert [orders.cell(r, 6).value for r in range(2, 7)] == ["director", "clerk", None, None, "manager"]
    assert "1,2O0" in orders["I4"].value and orders["I4"].fill.fgColor.rgb.endswith("FCE4D6")
    assert (
        after["notes"] == before["notes"] and after["names"] == before["names"] and after["sheets"] == before["sheets"]
    )
    assert restrict(after, "客户", 3) == restrict(before, "客户", 3)
    assert restrict(after, "订单", 5) == restrict(before, "订单", 5)
    assert result.outcome.error_rows == 2 and any("formula cell" in n for n in result.notes)
    assert openpyxl.load_workbook(register).calculation.fullCalcOnLoad  # Excel recomputes notes!B1 on open


def test_the_backup_is_the_original_byte_for_byte(register, rules):
    original = register.read_bytes()
    os.chmod(register, 0o640)
    result = evaluate_in_place(register, rules, now=NOW)
    assert result.backup == register.with_name("register.bak-20261125-093000.xlsx")
    assert result.backup.read_bytes() == original and register.read_bytes() != original
    assert oct(register.stat().st_mode & 0o777) == "0o640"  # the user's permissions, not the temp file's
    again = evaluate_in_place(register, rules, now=NOW)
    assert again.backup.name == "register.bak-20261125-093000-2.xlsx"  # never overwrites a backup


def test_evaluating_twice_overwrites_its_own_columns(register, rules):
    evaluate_in_place(register, rules, now=NOW)
    first = snapshot(register, ["订单"])
    evaluate_in_place(register, rules, now=NOW)
    assert snapshot(register, ["订单"])["订单"]["cells"] == first["订单"]["cells"]


def test_the_lock_is_released(register, rules, monkeypatch):
    lock = register.with_name("register.xlsx.kade-lock")
    evaluate_in_place(register, rules, now=NOW)
    assert not lock.exists()
    monkeypatch.setattr(handlers, "evaluate", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        evaluate_in_place(register, rules, now=NOW)
    assert not lock.exists()


# ------------------------------------------------------- nothing damaged ------


def assert_untouched(path: Path, original: bytes):
    assert path.read_bytes() == original
    assert not list(path.parent.glob(f"{path.stem}.bak-*")) and not path.with_name(path.name + ".kade-lock").exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]  # no temp file left


def test_a_second_writer_is_refused_while_the_lock_is_held(register, rules):
    original = register.read_bytes()
    with inplace.WorkbookLock(register):
        with pytest.raises(WorkbookLocked, match=r"another kade is writing register.xlsx \(pid \d+"):
            evaluate_in_place(register, rules, now=NOW)
        assert register.read_bytes() == original
    assert_untouched(register, original)


def test_a_stale_lock_names_the_file_to_delete(register, rules):
    lock = register.with_name("register.xlsx.kade-lock")
    lock.write_text("pid 1, anna@pc, since 2026-11-24T08:00:00\n")
    with pytest.raises(WorkbookLocked, match="pid 1, anna@pc.*delete .*register.xlsx.kade-lock"):
        evaluate_in_place(register, rules, now=NOW)
    assert lock.exists()  # someone else's lock is not ours to remove


KILLED_WRITER = """
import sys, time
from pathlib import Path
from engine.excel.inplace import WorkbookLock
from engine.io.writers import atomic_path
register = Path(sys.argv[1])
WorkbookLock(register).__enter__()
atomic_path(register).__enter__().write_bytes(b"half a workbook")
print("writing", flush=True)
time.sleep(120)
"""


def test_a_writer_killed_mid_write_leaves_nothing_in_the_way(register, rules):
    """kill -9 while a kade holds the lock and has half a temporary file: the next
    run sees that process is gone, takes the lock over and removes the file."""
    original = register.read_bytes()
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(register)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    lock = register.with_name("register.xlsx.kade-lock")
    left = [p for p in register.parent.iterdir() if p.name.startswith(f".{register.name}.")]
    assert lock.exists() and f"pid {writer.pid}," in lock.read_text() and len(left) == 1
    assert register.read_bytes() == original
    evaluate_in_place(register, rules, now=NOW)
    assert not lock.exists() and not left[0].exists()
    assert not [p for p in register.parent.iterdir() if p.name.startswith(f".{register.name}.")]


def test_a_live_writers_lock_on_this_machine_is_respected(register, rules):
    lock = register.with_name("register.xlsx.kade-lock")
    lock.write_text(f"pid {os.getppid()}, someone@{socket.gethostname()}, since 2026-11-24T08:00:00\n")
    with pytest.raises(WorkbookLocked, match="another kade is writing"):
        evaluate_in_place(register, rules, now=NOW)
    assert lock.exists()


@pytest.mark.parametrize("owner, app", [("~$register.xlsx", "Excel"), (".~lock.register.xlsx#", "LibreOffice")])
def test_a_workbook_open_in_excel_or_libreoffice_is_refused(register, rules, owner, app):
    original = register.read_bytes()
    (register.parent / owner).write_text("owner")
    with pytest.raises(WorkbookLocked, match=f"open in {app}"):
        evaluate_in_place(register, rules, now=NOW)
    assert_untouched(register, original)


def test_a_data_error_writes_nothing(tmp_path, rules):
    path = small_data(tmp_path / "register.xlsx", orders=[["订单编号", "客户编号"], ["O1", "C1"]])
    original = path.read_bytes()
    with pytest.raises(engine.MissingColumnError):
        evaluate_in_place(path, rules, now=NOW)
    assert_untouched(path, original)


def test_a_workbook_changed_while_deciding_is_not_replaced(register, rules, monkeypatch):
    decide = handlers.evaluate

    def meanwhile(*args, **kwargs):
        outcome = decide(*args, **kwargs)
        register.write_bytes(register.read_bytes() + b"")  # same bytes: not a change
        wb = openpyxl.load_workbook(register)
        wb["notes"]["A5"] = "typed by a colleague"
        wb.save(register)
        return outcome

    monkeypatch.setattr(handlers, "evaluate", meanwhile)
    with pytest.raises(InPlaceRefused, match="changed while kade was deciding"):
        evaluate_in_place(register, rules, now=NOW)
    assert openpyxl.load_workbook(register)["notes"]["A5"].value == "typed by a colleague"
    assert not list(register.parent.glob("register.bak-*"))


# ------------------------------------------------------------- refusals -------


def _xlsxwriter_book(path: Path, decorate) -> Path:
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("客户")
    for r, row in enumerate([["客户编号", "年收入", "行业"], ["C1", 2560, "金融"]]):
        ws.write_row(r, 0, row)
    decorate(book, ws)
    book.close()
    return path


def _png() -> io.BytesIO:
    import struct
    import zlib

    raw = b"\x00\xff\x00\x00"
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return io.BytesIO(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _chart(book, ws):
    chart = book.add_chart({"type": "column"})
    chart.add_series({"values": "=客户!$B$2:$B$2"})
    ws.insert_chart("E2", chart)


XLSXWRITER_CASES = {
    "picture": (lambda book, ws: ws.insert_image("E2", "logo.png", {"image_data": _png()}), "pictures, shapes"),
    "chart": (_chart, "charts"),
    "button": (lambda book, ws: ws.insert_button("E2", {"macro": "Go", "caption": "Go"}), "form controls"),
    "sparkline": (lambda book, ws: ws.add_sparkline("D2", {"range": "客户!B2:B2"}), "sparklines"),
}


@pytest.mark.parametrize("case", XLSXWRITER_CASES)
def test_workbooks_with_parts_openpyxl_drops_are_refused(tmp_path, rules, case):
    decorate, words = XLSXWRITER_CASES[case]
    path = _xlsxwriter_book(tmp_path / "register.xlsx", decorate)
    original = path.read_bytes()
    with pytest.raises(InPlaceRefused, match=f"would be lost.*{words}"):
        evaluate_in_place(path, rules, now=NOW)
    assert_untouched(path, original)


INJECTED = {
    "xl/pivotCache/pivotCacheDefinition1.xml": "pivot tables",
    "xl/pivotTables/pivotTable1.xml": "pivot tables",
    "xl/slicers/slicer1.xml": "slicers",
    "xl/slicerCaches/slicerCache1.xml": "slicers",
    "xl/ctrlProps/ctrlProp1.xml": "form controls",
    "xl/activeX/activeX1.xml": "ActiveX controls",
    "xl/vbaProject.bin": "VBA macros",
    "xl/externalLinks/externalLink1.xml": "links to other workbooks",
    "xl/connections.xml": "data connections or Power Query",
    "xl/queryTables/queryTable1.xml": "data connections or Power Query",
    "customXml/item1.xml": "custom XML parts",
    "xl/threadedComments/threadedComment1.xml": "threaded comments",
    "xl/richData/rdrichvalue.xml": "pictures in cells",
    "xl/timelines/timeline1.xml": "timelines",
    "xl/model/item.data": "Power Pivot",
    "xl/embeddings/oleObject1.bin": "embedded objects",
    "xl/metadata.xml": "dynamic-array",
    "xl/something/new.xml": "parts kade cannot keep",
}


@pytest.mark.parametrize("part", INJECTED)
def test_every_kind_of_dropped_part_is_named(tmp_path, rules, part):
    path = small_data(tmp_path / "register.xlsx")
    with zipfile.ZipFile(path, "a") as package:
        package.writestr(part, b"<x/>")
    original = path.read_bytes()
    with pytest.raises(InPlaceRefused, match=f"{INJECTED[part]}.*{part}"):
        evaluate_in_place(path, rules, now=NOW)
    assert_untouched(path, original)


def _rich(book, ws):
    red = book.add_format({"bold": True, "font_color": "red"})
    ws.write_rich_string("D2", "重要 ", red, "红色粗体", " 客户")


def _runs(path: Path, cell: str):
    value = openpyxl.load_workbook(path, rich_text=True)["客户"][cell].value
    return [(str(run), run.font.b, run.font.color.rgb) if hasattr(run, "font") else run for run in value]


def test_rich_text_in_a_cell_keeps_its_fonts(tmp_path, rules):
    path = _xlsxwriter_book(tmp_path / "register.xlsx", _rich)  # Excel's way: runs in the shared strings
    before = _runs(path, "D2")
    assert before[1] == ("红色粗体", True, "FFFF0000")
    evaluate_in_place(path, rules, now=NOW)
    assert _runs(path, "D2") == before
    assert openpyxl.load_workbook(path)["客户"]["E1"].value == "tier"  # and it was evaluated


def test_phonetic_guides_are_refused(tmp_path, rules):
    path = _xlsxwriter_book(tmp_path / "register.xlsx", lambda book, ws: None)
    with zipfile.ZipFile(path) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    parts["xl/sharedStrings.xml"] = parts["xl/sharedStrings.xml"].replace(
        "<t>客户编号</t>".encode(), '<t>客户编号</t><rPh sb="0" eb="2"><t>kèhù</t></rPh>'.encode()
    )
    with zipfile.ZipFile(path, "w") as package:
        for name, data in parts.items():
            package.writestr(name, data)
    original = path.read_bytes()
    with pytest.raises(InPlaceRefused, match="phonetic guides.*xl/sharedStrings.xml"):
        evaluate_in_place(path, rules, now=NOW)
    assert_untouched(path, original)


def test_comments_and_plain_features_are_not_refused(register):
    assert parts_openpyxl_drops(register) == []


def test_openpyxl_warnings_refuse(tmp_path, rules, monkeypatch):
    """Whatever openpyxl says it will drop while reading (extensions it does not
    know, headers it cannot parse...) refuses the write."""
    import warnings

    path = small_data(tmp_path / "register.xlsx")
    load = openpyxl.load_workbook

    def warning_load(*args, **kwargs):
        warnings.warn("Data Validation extension is not supported and will be removed", UserWarning, stacklevel=2)
        return load(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", warning_load)
    original = path.read_bytes()
    with pytest.raises(InPlaceRefused, match="Data Validation extension is not supported"):
        evaluate_in_place(path, rules, now=NOW)
    assert_untouched(path, original)


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("register.xlsm", None, "only .xlsx"),
        ("register.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 an OLE file", "Excel 97-2003 workbook"),
        ("missing.xlsx", False, "not found"),
    ],
)
def test_other_files_are_refused(tmp_path, rules, name, content, words):
    path = tmp_path / name
    if content is None:
        shutil.copy(small_data(tmp_path / "src.xlsx"), path)
    elif content:
        path.write_bytes(content)
    with pytest.raises(InPlaceRefused, match=words):
        evaluate_in_place(path, rules, now=NOW)


def test_formulas_without_a_stored_result_and_error_values_are_row_errors(tmp_path, rules):
    """openpyxl writes formulas without their results; --in-place reads through
    openpyxl too: such a cell, and an error value, is a row error naming the cell."""
    path = small_data(tmp_path / "formulas.xlsx")
    book = openpyxl.load_workbook(path)
    book["客户"]["B2"] = "=1000+1560"  # C1's revenue, saved without a result
    book.save(path)
    with zipfile.ZipFile(path) as zf:
        assert re.search(rb"<f>1000\+1560</f><v ?/>", zf.read("xl/worksheets/sheet1.xml"))
    done = evaluate_in_place(path, rules, now=NOW)
    errors = done.outcome.evaluation.rows["clients"].cell_errors["revenue"]
    assert errors[0] == "年收入: formula =1000+1560 has no stored result (B2)"
    tier = openpyxl.load_workbook(path)["客户"]
    assert [c.value for c in tier[2]][-1] == "年收入: formula =1000+1560 has no stored result (B2)"
