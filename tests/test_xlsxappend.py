"""Results as a copy of the input .xlsx (engine.io.xlsx_copy through
engine.io.writers.write_xlsx): every part of the input carried over, the decision
columns spliced in right of each evaluated sheet's data, a 'kade summary' sheet
first, and a fresh workbook ('new' layout) whenever the input cannot be edited
safely. Read back with openpyxl, python-calamine, the raw XML and LibreOffice."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import os
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import openpyxl.chart
import pandas as pd
import pytest
import xlsxwriter
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from python_calamine import CalamineWorkbook

import engine
from cli import main
from engine.evaluation import results
from engine.io import writers, xlsx_copy
from engine.model import RuleSet
from tests.workbook_factory import ENTITIES, GLOSSARY, small_data, small_model, write_rules

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "workbooks" / "key_accounts.xlsx"
SAMPLE_SHEETS = ["客户", "合同", "方案申请", "SLA订单"]
BLUE, GREEN, ORANGE = "FFDDEBF7", "FFE2EFDA", "FFFCE4D6"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


# ----------------------------------------------------------------- helpers ----


@dataclass
class Run:
    layout: str
    frames: dict[str, pd.DataFrame]
    sheets: list  # engine.io.registers.Sheet, as read
    summary: list[list]
    out: Path


def evaluate_to(workbook: Path, out: Path, rules, copy: bool = True) -> Run:
    """What `kade evaluate` does, through the library (source=None when copy is False)."""
    rules = rules if isinstance(rules, RuleSet) else engine.load_rules(rules)
    source = writers.source_for(workbook) if copy else None
    sheets = engine.read_workbook(workbook)
    rows = engine.bind(rules, sheets, str(workbook))
    evaluation = engine.evaluate(rules, rows)
    frames = {
        evaluation.rows[e].sheet: results.result_frame(evaluation, e)
        for e in evaluation.rows
        if evaluation.for_entity(e)
    }
    summary = results.summary_rows(results.summarize(evaluation))
    layout = writers.write_xlsx(frames, out, summary, source=source, origins={s.name: s.origin for s in sheets})
    return Run(layout, frames, sheets, summary, out)


def rewrite_part(src: Path, dst: Path, part: str, edit) -> Path:
    """A copy of the package ``src`` with ``part`` replaced by edit(its bytes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        assert part in zin.namelist(), part
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, edit(data) if info.filename == part else data)
    return dst


def sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> its part in the package, in workbook order."""
    with zipfile.ZipFile(path) as zf:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{{{PKG}}}Relationship")}
    out = {}
    for sheet in book.iter(f"{{{MAIN}}}sheet"):
        target = targets[sheet.get(f"{{{REL}}}id")]
        out[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


def part_bytes(path: Path, part: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(part)


def sheet_xml(path: Path, sheet: str) -> bytes:
    return part_bytes(path, sheet_parts(path)[sheet])


def workbook_xml(path: Path) -> str:
    return part_bytes(path, "xl/workbook.xml").decode("utf-8")


def rows_in_order(xml: bytes) -> dict[int, list[str]]:
    """Checks what Excel needs of sheetData (well-formed XML, rows ascending, each
    row's cells in ascending columns and on that row); returns row -> cell refs."""
    root = ET.fromstring(xml)
    data = root.find(f"{{{MAIN}}}sheetData")
    out, last_row = {}, 0
    for row in data.iter(f"{{{MAIN}}}row"):
        number = int(row.get("r"))
        assert number > last_row, f"row {number} after row {last_row}"
        last_row, last_col, refs = number, 0, []
        for c in row.iter(f"{{{MAIN}}}c"):
            letters, digits = re.fullmatch(r"([A-Z]+)(\d+)", c.get("r")).groups()
            assert int(digits) == number, f"cell {c.get('r')} inside row {number}"
            col = column_index_from_string(letters)
            assert col > last_col, f"cell {c.get('r')} out of column order in row {number}"
            last_col = col
            refs.append(c.get("r"))
        out[number] = refs
    return out


def look(cell) -> tuple:
    """Everything openpyxl knows about a cell's formatting."""
    return (
        repr(cell.font),
        repr(cell.fill),
        repr(cell.border),
        repr(cell.alignment),
        repr(cell.protection),
        cell.number_format,
    )


def norm(value):
    """A cell value as openpyxl/calamine/a frame may hold it, in one spelling."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return "; ".join("" if v is None else str(v) for v in value)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return value


def grid(ws) -> list[list]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def column_by_header(rows: list[list], header_row: int, name: str, first_data_col: int = 0) -> list:
    """Values below the header ``name`` (searched from first_data_col, 0-based)."""
    headers = rows[header_row]
    col = headers.index(name, first_data_col)
    return [norm(r[col]) if col < len(r) else None for r in rows[header_row + 1 :]]


def assert_new_workbook(out: Path, frames: dict[str, pd.DataFrame]):
    """A correct 'new' layout: summary then the evaluated sheets only, every frame
    column at A1.. with blue/green/orange headers, every value as in the frame."""
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["kade summary", *frames]
    for name, frame in frames.items():
        ws = book[name]
        rows = grid(ws)
        assert rows[0] == list(frame.columns)
        first_decision = frame.attrs["data_columns"]
        for i, column in enumerate(frame.columns):
            fill = ws.cell(1, i + 1).fill.fgColor.rgb
            assert fill == (ORANGE if column == "kade.errors" else GREEN if i >= first_decision else BLUE), column
            assert [norm(r[i]) for r in rows[1:]] == [norm(v) for v in frame[column]], column
        assert len(rows) == len(frame) + 1
    calamine = CalamineWorkbook.from_path(str(out))
    assert calamine.sheet_names == ["kade summary", *frames]


def xlsxwriter_book(path: Path, *, extra_sheets: tuple[str, ...] = ("备注",), date_1904: bool = False) -> Path:
    """The small model's data as XlsxWriter writes it (shared strings, spans on
    rows), a blank row 4 in 客户 (no <row> element), a bold header and an
    unrelated sheet with a formula."""
    wb = xlsxwriter.Workbook(str(path), {"date_1904": date_1904})
    bold = wb.add_format({"bold": True, "bg_color": "#FFFF00"})
    clients = wb.add_worksheet("客户")
    clients.write_row(0, 0, ["客户编号", "年收入", "行业"], bold)
    clients.write_row(1, 0, ["C1", 2560, "金融"])
    clients.write_row(2, 0, ["C2", "1,200", "政府"])
    clients.write_row(4, 0, ["C3", 3000, "金融"])  # row 4 left blank
    clients.set_column(0, 0, 18)
    orders = wb.add_worksheet("订单")
    orders.write_row(0, 0, ["订单编号", "客户编号", "金额"], bold)
    orders.write_row(1, 0, ["O1", "C1", 500])
    orders.write_row(2, 0, ["O2", "C2", 50])
    orders.write_row(3, 0, ["O3", "C9", 300])
    for name in extra_sheets:
        notes = wb.add_worksheet(name)
        notes.write_row(0, 0, [1, 2, 3])
        notes.write_formula(0, 3, "=SUM(A1:C1)", None, 6)
    wb.close()
    return path


# expected decisions for xlsxwriter_book with the small model
CLIENT_DECISIONS = [("gold", "T1"), ("silver", "T2"), ("silver", "T2"), ("gold", "T1")]  # sheet rows 2..5, row 4 blank
ORDER_DECISIONS = [("director", "A3", None), ("clerk", "A1", None), (None, None, "客户编号 C9 not found in sheet 客户")]


@pytest.fixture(scope="module")
def small_rules(tmp_path_factory):
    return engine.load_rules(small_model(tmp_path_factory.mktemp("rules")))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The shipped sample evaluated twice from the same frames: as a copy and as a new workbook."""
    folder = tmp_path_factory.mktemp("sample")
    workbook = folder / "key_accounts.xlsx"
    shutil.copy(SAMPLE, workbook)
    run = evaluate_to(workbook, folder / "copy.xlsx", ROOT / "rules")
    fresh = folder / "fresh.xlsx"
    fresh_layout = writers.write_xlsx(run.frames, fresh, run.summary)  # source=None: the new-workbook writer
    assert fresh_layout == "new"
    return {
        "input": workbook,
        "run": run,
        "fresh": fresh,
        "in_book": openpyxl.load_workbook(workbook),
        "out_book": openpyxl.load_workbook(run.out),
        "fresh_book": openpyxl.load_workbook(fresh),
    }


def soffice(
    render_tools: str, tmp_path: Path, convert_to: str, source: Path, outdir: Path
) -> subprocess.CompletedProcess:
    profile = tmp_path / "lo-profile"  # a private profile: no clash with another soffice
    outdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [
            render_tools,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            convert_to,
            "--outdir",
            str(outdir),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


ALL_SHEETS_CSV = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"  # every sheet, UTF-8


# ------------------------------------------------------ the shipped sample ----


def test_sample_is_a_copy_with_the_summary_first(sample):
    run = sample["run"]
    assert run.layout == "copy"
    assert sample["out_book"].sheetnames == ["kade summary", *SAMPLE_SHEETS]
    assert CalamineWorkbook.from_path(str(run.out)).sheet_names == ["kade summary", *SAMPLE_SHEETS]
    summary = grid(sample["out_book"]["kade summary"])
    assert [[norm(v) for v in row] for row in summary] == [[norm(v) for v in row] for row in run.summary]
    assert summary[0] == ["decision", "rows over", "rows", "in error", "outcomes"]
    assert {row[0] for row in summary[1:]} >= {"client_tier", "required_approver", "solution_routing", "sla_tier"}
    # every input part is in the copy; those kade does not edit are byte for byte the same
    with zipfile.ZipFile(sample["input"]) as zin, zipfile.ZipFile(run.out) as zout:
        assert zout.testzip() is None
        names_in, names_out = set(zin.namelist()), set(zout.namelist())
        assert names_in < names_out and len(names_out - names_in) == 1  # plus the summary sheet
        edited = {
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
            "[Content_Types].xml",
            "xl/styles.xml",
            *sheet_parts(sample["input"]).values(),
        }
        for name in names_in - edited:
            assert zout.read(name) == zin.read(name), name
        assert "xl/sharedStrings.xml" in names_in - edited


def test_sample_input_cells_unchanged(sample):
    for name in SAMPLE_SHEETS:
        before, after = sample["in_book"][name], sample["out_book"][name]
        width, height = before.max_column, before.max_row
        assert after.max_row == height
        old = [list(r) for r in before.iter_rows(max_col=width, values_only=True)]
        new = [list(r) for r in after.iter_rows(max_row=height, max_col=width, values_only=True)]
        assert new == old, name
        assert sum(v is not None for r in old for v in r) > 1000  # a real comparison
    # calamine too, over the whole data region
    cin, cout = CalamineWorkbook.from_path(str(sample["input"])), CalamineWorkbook.from_path(str(sample["run"].out))
    for name in SAMPLE_SHEETS:
        old = cin.get_sheet_by_name(name).to_python()
        new = cout.get_sheet_by_name(name).to_python()
        assert [r[: len(old[0])] for r in new] == old, name


def test_sample_decision_columns_equal_the_new_workbook_writer(sample):
    run = sample["run"]
    cout, cfresh = CalamineWorkbook.from_path(str(run.out)), CalamineWorkbook.from_path(str(sample["fresh"]))
    for name, frame in run.frames.items():
        width = frame.attrs["data_columns"]
        decisions = list(frame.columns[width:])
        copy_rows, fresh_rows = grid(sample["out_book"][name]), grid(sample["fresh_book"][name])
        # the appended headers, in order, right after the data columns
        assert copy_rows[0][width:] == decisions, name
        assert fresh_rows[0] == list(frame.columns)
        assert len(copy_rows) == len(fresh_rows) == len(frame) + 1
        ccopy, cnew = cout.get_sheet_by_name(name).to_python(), cfresh.get_sheet_by_name(name).to_python()
        for header in decisions:
            copied = column_by_header(copy_rows, 0, header, width)
            assert copied == column_by_header(fresh_rows, 0, header), (name, header)
            assert copied == [norm(v) for v in frame[header]], (name, header)
            assert column_by_header(ccopy, 0, header, width) == column_by_header(cnew, 0, header), (name, header)
        assert any(v is not None for v in column_by_header(copy_rows, 0, decisions[0], width))
    # spot checks of known outcomes, lists joined like the new writer does
    clients = grid(sample["out_book"]["客户"])
    first = dict(zip(clients[0], clients[1]))
    assert (
        first["客户名称"] == "中国银联" and first["client_tier"] == "platinum" and first["client_tier.rule"] == "CT-04"
    )
    routes = grid(sample["out_book"]["方案申请"])
    assert all(
        isinstance(v, str)
        for v in column_by_header(routes, 0, "escalation", run.frames["方案申请"].attrs["data_columns"])
        if v
    )
    contracts = grid(sample["out_book"]["合同"])
    errors = [v for v in column_by_header(contracts, 0, "kade.errors", run.frames["合同"].attrs["data_columns"]) if v]
    assert len(errors) == 3


def test_sample_formatting_kept_and_new_headers_coloured(sample):
    run = sample["run"]
    for name, frame in run.frames.items():
        before, after = sample["in_book"][name], sample["out_book"][name]
        width = frame.attrs["data_columns"]
        # input formatting of the header and the first data rows is untouched
        for row in (1, 2, 3):
            for col in range(1, width + 1):
                assert look(after.cell(row, col)) == look(before.cell(row, col)), (name, row, col)
        assert before.cell(1, 1).font.b and before.cell(1, 1).fill.fgColor.rgb == after.cell(1, 1).fill.fgColor.rgb
        # appended headers: bold, green for decisions, orange for kade.errors
        for i, column in enumerate(frame.columns[width:], start=width + 1):
            cell = after.cell(1, i)
            assert cell.value == column
            assert cell.fill.fgColor.rgb == (ORANGE if column == "kade.errors" else GREEN), (name, column)
            assert cell.fill.patternType == "solid" and cell.font.b
        # widths of the data columns unchanged, new ones set
        for col in range(1, width + 1):
            letter = get_column_letter(col)
            assert after.column_dimensions[letter].width == before.column_dimensions[letter].width, (name, letter)
        reason = list(frame.columns).index(next(c for c in frame.columns[width:] if c.endswith(".reason"))) + 1
        assert after.column_dimensions[get_column_letter(reason)].width == 60
        # frozen panes kept; the autofilter now reaches the decision columns too
        assert after.freeze_panes == before.freeze_panes and after.freeze_panes is not None
        last = get_column_letter(len(frame.columns))
        assert after.auto_filter.ref == before.auto_filter.ref.split(":")[0] + f":{last}{len(frame) + 1}"
        # rows with an error are highlighted: a rule on the kade.errors column, no cell restyled
        [rule] = [r for cf in after.conditional_formatting for r in cf.rules]
        assert rule.formula == [f"LEN(${last}2)>0"] and rule.dxf.fill.bgColor.rgb == "FFFCE4D6"
    # the raw <col> elements of the input come first, unchanged
    for name in SAMPLE_SHEETS:
        cols_in = re.search(rb"<cols>(.*?)</cols>", sheet_xml(sample["input"], name))[1]
        cols_out = re.search(rb"<cols>(.*?)</cols>", sheet_xml(run.out, name))[1]
        assert cols_out.startswith(cols_in) and len(cols_out) > len(cols_in)


def test_sample_active_tab_and_sheet_local_names_follow_their_sheets(sample):
    run = sample["run"]
    assert sample["in_book"].active.title == "客户"
    assert sample["out_book"].active.title == "客户"
    view = re.search(r"<workbookView\b[^>]*>", workbook_xml(run.out))[0]
    assert 'activeTab="1"' in view
    # every sheet-local name (the autofilters) still names the sheet it is local to
    for path, names in ((sample["input"], SAMPLE_SHEETS), (run.out, ["kade summary", *SAMPLE_SHEETS])):
        found = re.findall(r'<definedName\b[^>]*\blocalSheetId="(\d+)"[^>]*>([^<]*)</definedName>', workbook_xml(path))
        assert len(found) == 4
        for index, text in found:
            assert text.split("!")[0].strip("'") == names[int(index)], (path.name, index, text)


def test_sample_sheet_xml_is_well_ordered(sample):
    run = sample["run"]
    for name, frame in run.frames.items():
        xml = sheet_xml(run.out, name)
        rows = rows_in_order(xml)
        width = frame.attrs["data_columns"]
        last = get_column_letter(len(frame.columns))
        assert rows[1][-1] == f"{last}1"  # the header row ends with the last appended column
        assert re.search(rb'<dimension ref="A1:' + last.encode() + str(len(frame) + 1).encode() + b'"', xml)
        assert not re.search(rb"<row\b[^>]*\bspans=", xml)  # XlsxWriter's spans would be untrue now
        assert len(rows) == len(frame) + 1 and width < len(frame.columns)
    assert b" spans=" in sheet_xml(sample["input"], "客户")  # the sample had them


# ---------------------------------------------- openpyxl-written inputs ------


def openpyxl_book(path: Path) -> Path:
    """Data at C3 under an empty merged, filled title block; a blank row 6; a
    styled empty cell at H5; column D widened; a bold header; a second sheet
    with a formula, a bold cell, a percentage and a name local to it; an empty
    third sheet; the second sheet active."""
    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "备注"
    for r, v in enumerate((1, 2, 3), start=1):
        notes.cell(r, 1, v)
    notes["B1"] = "=SUM(A1:A3)"
    notes["C1"] = "bold note"
    notes["C1"].font = Font(bold=True)
    notes["D1"] = 0.125
    notes[
        "D1"
    ].number_format = "0.000%"  # a custom number format (see test_openpyxl_workbook_without_number_formats_is_copied)
    notes.defined_names["local_total"] = DefinedName("local_total", attr_text="备注!$B$1")
    wb.defined_names["all_numbers"] = DefinedName("all_numbers", attr_text="备注!$A$1:$A$3")
    clients = wb.create_sheet("客户")
    clients.merge_cells("C1:E1")
    clients["C1"].fill = PatternFill("solid", fgColor="FFFFFF00")
    data = {
        3: ["客户编号", "年收入", "行业"],
        4: ["C1", 2560, "金融"],
        5: ["C2", "1,200", "政府"],
        7: ["C3", 3000, "金融"],
    }
    for r, values in data.items():
        for c, v in enumerate(values, start=3):
            clients.cell(r, c, v)
    for c in range(3, 6):
        clients.cell(3, c).font = Font(bold=True)
    clients.column_dimensions["D"].width = 25
    clients["H5"].fill = PatternFill("solid", fgColor="FFFF0000")
    wb.create_sheet("empty")
    wb.active = 1
    wb.save(path)
    return path


def test_openpyxl_layout_title_rows_formula_names_merge(tmp_path, small_rules):
    workbook = openpyxl_book(tmp_path / "in.xlsx")
    run = evaluate_to(workbook, tmp_path / "out.xlsx", small_rules)
    assert [s.origin for s in run.sheets if s.name == "客户"] == [(2, 2)]
    assert run.layout == "copy"
    before, book = openpyxl.load_workbook(workbook), openpyxl.load_workbook(run.out)
    assert book.sheetnames == ["kade summary", "备注", "客户", "empty"]
    assert book.active.title == "客户"
    view = re.search(r"<workbookView\b[^>]*>", workbook_xml(run.out))[0]
    assert (
        'activeTab="2"' in view and 'firstSheet="0"' in view
    )  # the open tab moved with its sheet; the tab bar still starts at the first tab
    # the other sheet: formula still a formula, bold still bold, number format kept
    notes = book["备注"]
    assert notes["B1"].value == "=SUM(A1:A3)" and notes["B1"].data_type == "f"
    assert notes["C1"].font.b and notes["C1"].value == "bold note"
    assert notes["D1"].number_format == "0.000%" and notes["D1"].value == 0.125
    # the sheet-local name is still local to 备注; the global name still global
    assert "local_total" in notes.defined_names and notes.defined_names["local_total"].attr_text == "备注!$B$1"
    assert all("local_total" not in book[n].defined_names for n in ("kade summary", "客户", "empty"))
    assert "local_total" not in book.defined_names
    assert book.defined_names["all_numbers"].attr_text == "备注!$A$1:$A$3"
    assert book.defined_names["all_numbers"].localSheetId is None
    assert re.search(r'<definedName name="local_total" localSheetId="1">', workbook_xml(run.out))
    # the evaluated sheet: everything of the input kept
    ws, old = book["客户"], before["客户"]
    assert ws.max_row == 7 and ws.max_column == 12  # nothing below the data, four columns appended
    assert "C1:E1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["C1"].fill.fgColor.rgb == "FFFFFF00" and ws["H5"].fill.fgColor.rgb == "FFFF0000"
    assert ws["C3"].font.b and ws.column_dimensions["D"].width == 25
    assert [list(r) for r in ws.iter_rows(min_row=1, max_row=7, max_col=8, values_only=True)] == [
        list(r) for r in old.iter_rows(min_row=1, max_row=7, max_col=8, values_only=True)
    ]
    # decisions right of the styled cell H5 (the dimension's last column), not right after the data (F)
    assert [ws.cell(3, c).value for c in range(6, 13)] == [
        None,
        None,
        None,
        "tier",
        "tier.rule",
        "tier.reason",
        "kade.errors",
    ]
    assert [ws.cell(3, c).fill.fgColor.rgb for c in range(9, 13)] == [GREEN, GREEN, GREEN, ORANGE]
    assert [(ws.cell(r, 9).value, ws.cell(r, 10).value) for r in (4, 5, 6, 7)] == CLIENT_DECISIONS
    assert ws["K7"].value.startswith("revenue 3,000 ≥ 1,000")
    assert all(ws.cell(r, 12).value is None for r in range(4, 8))
    assert ws.column_dimensions["K"].width == 60
    rows = rows_in_order(sheet_xml(run.out, "客户"))
    assert rows[6] == ["I6", "J6", "K6"]  # the blank row 6 got a <row> with its decisions
    assert book["empty"].max_row == 1 and book["empty"]["A1"].value is None


def test_openpyxl_workbook_without_number_formats_is_copied(tmp_path, small_rules):
    # openpyxl writes '<numFmts count="0" />' when no cell has a custom number format:
    # the most ordinary openpyxl workbook, which the copy layout claims to support
    workbook = small_data(tmp_path / "plain.xlsx")
    assert b'<numFmts count="0" />' in part_bytes(workbook, "xl/styles.xml")
    run = evaluate_to(workbook, tmp_path / "out.xlsx", small_rules)
    assert run.layout == "copy"
    ws = openpyxl.load_workbook(run.out)["客户"]
    assert [c.value for c in ws[1]] == ["客户编号", "年收入", "行业", "tier", "tier.rule", "tier.reason", "kade.errors"]
    assert [ws.cell(r, 4).value for r in (2, 3, 4)] == ["gold", "silver", "silver"]


# ---------------------------------------------- XlsxWriter-written inputs ----


def test_xlsxwriter_input_spans_dropped_shared_strings_kept(tmp_path, small_rules):
    workbook = xlsxwriter_book(tmp_path / "in.xlsx")
    run = evaluate_to(workbook, tmp_path / "out.xlsx", small_rules)
    assert run.layout == "copy"
    for name in ("客户", "订单"):
        assert re.search(rb"<row\b[^>]*\bspans=", sheet_xml(workbook, name))
        xml = sheet_xml(run.out, name)
        assert not re.search(rb"<row\b[^>]*\bspans=", xml), name
        rows_in_order(xml)
    # parts kade does not edit are the input's bytes: shared strings, the untouched sheet (spans and all)
    assert part_bytes(run.out, "xl/sharedStrings.xml") == part_bytes(workbook, "xl/sharedStrings.xml")
    assert sheet_xml(run.out, "备注") == sheet_xml(workbook, "备注")
    book = openpyxl.load_workbook(run.out)
    assert book.sheetnames == ["kade summary", "客户", "订单", "备注"]
    assert book["备注"]["D1"].value == "=SUM(A1:C1)"
    clients, orders = grid(book["客户"]), grid(book["订单"])
    assert clients[0] == ["客户编号", "年收入", "行业", "tier", "tier.rule", "tier.reason", "kade.errors"]
    assert [r[:3] for r in clients[1:]] == [
        ["C1", 2560, "金融"],
        ["C2", "1,200", "政府"],
        [None] * 3,
        ["C3", 3000, "金融"],
    ]
    assert [tuple(r[3:5]) for r in clients[1:]] == CLIENT_DECISIONS
    assert [(r[3], r[4], r[6]) for r in orders[1:]] == ORDER_DECISIONS
    assert book["客户"]["A1"].font.b and book["客户"]["A1"].fill.fgColor.rgb == "FFFFFF00"
    assert book["客户"].column_dimensions["A"].width == pytest.approx(18.7109375)
    calamine = CalamineWorkbook.from_path(str(run.out))
    assert calamine.sheet_names == ["kade summary", "客户", "订单", "备注"]
    cal = calamine.get_sheet_by_name("客户").to_python()
    assert [r[3] for r in cal] == ["tier", "gold", "silver", "silver", "gold"]


def test_blank_row_in_the_data_gets_its_decisions_in_that_row(tmp_path, small_rules):
    workbook = xlsxwriter_book(tmp_path / "in.xlsx")
    assert b'<row r="4"' not in sheet_xml(workbook, "客户")
    run = evaluate_to(workbook, tmp_path / "out.xlsx", small_rules)
    assert run.layout == "copy"
    rows = rows_in_order(sheet_xml(run.out, "客户"))
    assert rows[4] == ["D4", "E4", "F4"]  # a new <row r="4"> holding only the decisions
    assert rows[5][:3] == ["A5", "B5", "C5"] and rows[5][3:] == ["D5", "E5", "F5"]
    ws = openpyxl.load_workbook(run.out)["客户"]
    assert [ws.cell(4, c).value for c in (1, 2, 3)] == [None, None, None]
    assert (ws["D4"].value, ws["E4"].value) == ("silver", "T2")
    # the rows after the blank one stay aligned with their own data
    assert (ws["A5"].value, ws["D5"].value, ws["E5"].value) == ("C3", "gold", "T1")
    assert ws["F5"].value.startswith("revenue 3,000 ≥ 1,000")


REVIEW = (
    "review",
    "clients",
    "F",
    [("input", "revenue"), ("output", "review_on")],
    [("R1", ">= 2000", 'date("2026-06-30")', "big"), ("R2", "-", 'date("2027-01-31")', "rest")],
    None,
)


def test_dates_appended_with_a_date_format(tmp_path):
    folder = write_rules(
        tmp_path / "rules",
        GLOSSARY[:4] + [("review_on", "clients", "复核日期", "date", "")],
        ENTITIES[:1],
        {"review.xlsx": [REVIEW]},
    )
    workbook = xlsxwriter_book(tmp_path / "in.xlsx", extra_sheets=())
    run = evaluate_to(workbook, tmp_path / "out.xlsx", folder)
    assert run.layout == "copy"
    ws = openpyxl.load_workbook(run.out)["客户"]
    assert ws["D1"].value == "review_on"
    big, rest = dt.datetime(2026, 6, 30), dt.datetime(2027, 1, 31)
    assert [ws.cell(r, 4).value for r in (2, 3, 4, 5)] == [big, rest, rest, big]  # revenue 2560, 1,200, blank, 3000
    assert ws["D2"].number_format == "yyyy\\-mm\\-dd" and ws["D2"].is_date
    cal = CalamineWorkbook.from_path(str(run.out)).get_sheet_by_name("客户").to_python()
    assert [r[3] for r in cal[1:]] == [big.date(), rest.date(), rest.date(), big.date()]


def test_dates_appended_to_a_1904_workbook_keep_their_day(tmp_path):
    # a workbook in the 1904 date system (<workbookPr date1904="1"/>, old Mac Excel):
    # the appended date serials must be counted from 1904, or every date moves 1,462 days
    folder = write_rules(
        tmp_path / "rules",
        GLOSSARY[:4] + [("review_on", "clients", "复核日期", "date", "")],
        ENTITIES[:1],
        {"review.xlsx": [REVIEW]},
    )
    workbook = xlsxwriter_book(tmp_path / "in.xlsx", extra_sheets=(), date_1904=True)
    assert re.search(r'<workbookPr\b[^>]*date1904="1"', workbook_xml(workbook))
    run = evaluate_to(workbook, tmp_path / "out.xlsx", folder)
    assert run.layout == "copy"
    ws = openpyxl.load_workbook(run.out)["客户"]
    assert ws["D2"].value == dt.datetime(2026, 6, 30)
    cal = CalamineWorkbook.from_path(str(run.out)).get_sheet_by_name("客户").to_python()
    assert cal[1][3] == dt.date(2026, 6, 30)


def test_sheet_names_with_xml_special_characters(tmp_path):
    name = 'R&D "x" 客户\'s'
    folder = write_rules(
        tmp_path / "rules",
        GLOSSARY[:4],
        [("clients", name, "client_id", "", "")],
        {
            "tier.xlsx": [
                (
                    "tier",
                    "clients",
                    "F",
                    [("input", "revenue"), ("output", "tier")],
                    [("T1", ">= 1000", '"gold"', ""), ("T2", "-", '"silver"', "")],
                    None,
                )
            ]
        },
    )
    wb = xlsxwriter.Workbook(str(tmp_path / "in.xlsx"))
    ws = wb.add_worksheet(name)
    for i, row in enumerate([["客户编号", "年收入", "行业"], ["C1", 2560, "金融"], ["C2", 5, "政府"]]):
        ws.write_row(i, 0, row)
    wb.close()
    run = evaluate_to(tmp_path / "in.xlsx", tmp_path / "out.xlsx", folder)
    assert run.layout == "copy"
    book = openpyxl.load_workbook(run.out)
    assert book.sheetnames == ["kade summary", name]
    assert [[c.value for c in row][3:5] for row in book[name].iter_rows()] == [
        ["tier", "tier.rule"],
        ["gold", "T1"],
        ["silver", "T2"],
    ]


def test_formatted_empty_rows_below_the_data_are_kept(tmp_path, small_rules):
    workbook = rewrite_part(
        xlsxwriter_book(tmp_path / "x.xlsx"),
        tmp_path / "in.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda d: d.replace(b"</sheetData>", b'<row r="8" ht="30" customHeight="1"/></sheetData>'),
    )
    run = evaluate_to(workbook, tmp_path / "out.xlsx", small_rules)
    assert run.layout == "copy"
    xml = sheet_xml(run.out, "客户")
    assert b'<row r="8" ht="30" customHeight="1"/>' in xml
    rows = rows_in_order(xml)
    assert max(rows) == 8 and rows[8] == []
    ws = openpyxl.load_workbook(run.out)["客户"]
    assert [ws.cell(r, 4).value for r in range(2, 6)] == [d for d, _ in CLIENT_DECISIONS]
    assert ws.row_dimensions[8].height == 30


def test_cells_right_of_an_undeclared_or_wrong_dimension_never_go_out_of_order(tmp_path, small_rules):
    # kade finds each row's last cell itself: a formatted empty cell at H2 that the
    # <dimension> leaves out (or no <dimension> at all) still puts the decisions after H
    wb = xlsxwriter.Workbook(str(tmp_path / "x.xlsx"))
    ws = wb.add_worksheet("客户")
    for i, row in enumerate([["客户编号", "年收入", "行业"], ["C1", 2560, "金融"], ["C2", 5, "政府"]]):
        ws.write_row(i, 0, row)
    ws.write_blank(1, 7, None, wb.add_format({"bg_color": "#FF0000"}))
    wb.close()
    for name, edit in (
        ("none", lambda d: re.sub(rb"<dimension [^>]*/>", b"", d)),
        ("narrow", lambda d: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:C3"/>', d)),
    ):
        workbook = rewrite_part(tmp_path / "x.xlsx", tmp_path / f"in-{name}.xlsx", "xl/worksheets/sheet1.xml", edit)
        run = evaluate_to(workbook, tmp_path / f"out-{name}.xlsx", small_rules)
        assert run.layout == "copy", name
        rows = rows_in_order(sheet_xml(run.out, "客户"))
        assert rows[1][-1] == "L1" and rows[2] == ["A2", "B2", "C2", "H2", "I2", "J2", "K2"], name


def test_hidden_columns_right_of_the_data_are_split_around_the_decisions(tmp_path, small_rules):
    # "hide all columns to the right" writes one <col> up to XFD: the decisions must stay visible
    workbook = rewrite_part(
        xlsxwriter_book(tmp_path / "x.xlsx", extra_sheets=()),
        tmp_path / "in.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda d: re.sub(
            rb"<cols>.*?</cols>",
            b'<cols><col min="1" max="1" width="18.7" customWidth="1"/>'
            b'<col min="4" max="16384" width="3" hidden="1" customWidth="1"/></cols>',
            d,
        ),
    )
    run = evaluate_to(workbook, tmp_path / "out.xlsx", small_rules)
    assert run.layout == "copy"
    ws = openpyxl.load_workbook(run.out)["客户"]
    assert [c.value for c in ws[1]][3:7] == ["tier", "tier.rule", "tier.reason", "kade.errors"]
    cols = re.search(rb"<cols>(.*?)</cols>", sheet_xml(run.out, "客户"))[1].decode()
    spans = [
        (int(a), int(b), "hidden" in tag) for tag, a, b in re.findall(r'(<col min="(\d+)" max="(\d+)"[^>]*/>)', cols)
    ]
    assert spans == [(1, 1, False), (4, 4, False), (5, 5, False), (6, 6, False), (7, 7, False), (8, 16384, True)]


def test_a_chart_sheet_named_kade_summary_gets_a_new_workbook(tmp_path, small_rules):
    path = small_data(tmp_path / "x.xlsx")
    wb = openpyxl.load_workbook(path)
    chart = openpyxl.chart.BarChart()
    chart.add_data(openpyxl.chart.Reference(wb["客户"], min_col=2, min_row=1, max_row=3), titles_from_data=True)
    wb.create_chartsheet("Kade Summary").add_chart(chart)
    wb.save(tmp_path / "in.xlsx")
    run = evaluated_as_new_workbook(tmp_path / "in.xlsx", tmp_path / "out.xlsx", small_rules)
    assert openpyxl.load_workbook(run.out).sheetnames == ["kade summary", "客户", "订单"]


def test_a_damaged_part_kade_does_not_edit_gets_a_new_workbook(tmp_path, small_rules):
    # calamine reads the sheets fine; copying the broken thumbnail would fail its CRC check
    src = xlsxwriter_book(tmp_path / "x.xlsx")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp_path / "in.xlsx", "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zout.writestr(zipfile.ZipInfo("docProps/thumbnail.jpeg"), b"\xff\xd8" + b"x" * 200)  # stored
    data = bytearray((tmp_path / "in.xlsx").read_bytes())
    at = data.index(b"x" * 200)
    data[at] = ord("y")  # the stored bytes no longer match their CRC
    (tmp_path / "in.xlsx").write_bytes(bytes(data))
    run = evaluated_as_new_workbook(tmp_path / "in.xlsx", tmp_path / "out.xlsx", small_rules)
    assert client_decisions(run.out) == [d for d, _ in CLIENT_DECISIONS]


@pytest.mark.parametrize(
    "edit, refusal",
    [
        # text in CDATA may hold '</row>': splicing there would write into a cell's text
        (
            lambda d: d.replace(
                b'<row r="5"',
                b'<row r="4"><c r="D4" t="inlineStr"><is><t><![CDATA[x</row>]]></t></is></c></row><row r="5"',
                1,
            ),
            "<!",
        ),
        (lambda d: d.replace(b'<row r="5"', b'<?kade note?><row r="5"', 1), r"<\?"),
        # a cell may leave its place implicit; kade finds a row's last column from '<c r="'
        (lambda d: d.replace(b'<c r="B3"', b"<c", 1), "leading r="),
    ],
    ids=["cdata", "processing-instruction", "cell-without-reference"],
)
def test_rows_kade_cannot_splice_get_a_new_workbook(tmp_path, small_rules, edit, refusal):
    workbook = rewrite_part(
        xlsxwriter_book(tmp_path / "x.xlsx"), tmp_path / "in.xlsx", "xl/worksheets/sheet1.xml", edit
    )
    with pytest.raises(xlsx_copy.NotAppendable, match=refusal):
        xlsx_copy.Source(workbook).sheet("客户")
    run = evaluated_as_new_workbook(workbook, tmp_path / "out.xlsx", small_rules)
    if refusal != "<!":  # the CDATA row adds a row 4 of its own
        assert client_decisions(run.out) == [d for d, _ in CLIENT_DECISIONS]


def test_spans_go_only_from_row_tags():
    row = b'<row r="2" spans="1:3" ht="15"><c r="A2" t="inlineStr"><is><t>a spans="1:2" b</t></is></c></row>'
    assert xlsx_copy._without_spans(row) == row.replace(b' spans="1:3"', b"", 1)
    text_only = b'<row r="2"><c r="A2" t="inlineStr"><is><t>a spans="1:2" b</t></is></c></row>'
    assert xlsx_copy._without_spans(text_only) == text_only


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.binary(max_size=200).map(lambda b: bytes(b'<c r="sD/!?'[x % 11] for x in b)),
    st.sampled_from([(b"<!", 1), (b"<?", 1), (b"<c", 1), (b"</sheetData>", 7), (b' spans="', 2), (b'<c r="', 1)]),
)
def test_starts_finds_every_occurrence_as_find_does(data, case):
    needle, rare = case
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    assert xlsx_copy._starts(np.frombuffer(data, np.uint8), needle, rare).tolist() == found


def test_last_cell_column_is_each_rows_last_reference():
    xml = (
        b'<row r="1"><c r="A1"/><c r="C1"/></row><row r="2"/>'
        b'<row r="3"><c r="AB3" t="inlineStr"><is><t>&lt;c r="ZZ3"</t></is></c></row><row r="4"></row>'
    )
    numbers, opens, ends, last = xlsx_copy._rows_in(xml, 0)
    assert numbers.tolist() == [1, 2, 3, 4] and ends[1] == -1 and last == 27  # AB, 0-based
    assert xlsx_copy._rows_in(b'<row r="1"></row>', 0)[3] == -1


# ------------------------------------------------------------- fallbacks ------


def evaluated_as_new_workbook(workbook: Path, out: Path, rules) -> Run:
    run = evaluate_to(workbook, out, rules)
    assert run.layout == "new"
    assert_new_workbook(run.out, run.frames)
    return run


def client_decisions(path: Path) -> list:
    ws = openpyxl.load_workbook(path)["客户"]
    return [ws.cell(r, 4).value for r in range(2, 6)]


def test_xlsm_input_gets_a_new_workbook(tmp_path, small_rules):
    workbook = tmp_path / "in.xlsm"
    shutil.copy(xlsxwriter_book(tmp_path / "x.xlsx"), workbook)
    assert writers.source_for(workbook) is None
    run = evaluated_as_new_workbook(workbook, tmp_path / "out.xlsx", small_rules)
    assert client_decisions(run.out) == [d for d, _ in CLIENT_DECISIONS]


def test_macro_enabled_content_type_gets_a_new_workbook(tmp_path, small_rules):
    plain = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    workbook = rewrite_part(
        xlsxwriter_book(tmp_path / "x.xlsx"),
        tmp_path / "in.xlsx",
        "[Content_Types].xml",
        lambda d: d.replace(plain.encode(), b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"),
    )
    source = writers.source_for(workbook)
    assert source is not None
    with pytest.raises(xlsx_copy.NotAppendable):
        source.write(tmp_path / "never.xlsx", [], None)
    assert not (tmp_path / "never.xlsx").exists()
    evaluated_as_new_workbook(workbook, tmp_path / "out.xlsx", small_rules)


def test_re_evaluating_a_results_copy_gets_a_new_workbook(tmp_path, small_rules):
    first = evaluate_to(xlsxwriter_book(tmp_path / "in.xlsx"), tmp_path / "first.xlsx", small_rules)
    assert first.layout == "copy"
    again = evaluate_to(first.out, tmp_path / "again.xlsx", small_rules)
    assert again.layout == "new"
    assert again.frames["客户"].attrs["replaced_columns"] == ["tier", "tier.rule", "tier.reason", "kade.errors"]
    assert_new_workbook(again.out, again.frames)
    book = openpyxl.load_workbook(again.out)
    for name in ("客户", "订单"):
        header = [c.value for c in book[name][1]]
        assert len(header) == len(set(header)), header  # each decision column once
        for column in first.frames[name].columns[first.frames[name].attrs["data_columns"] :]:
            col = header.index(column) + 1
            assert [norm(book[name].cell(r, col).value) for r in range(2, book[name].max_row + 1)] == [
                norm(v) for v in first.frames[name][column]
            ], (name, column)


def test_self_closing_formatted_row_inside_the_data_gets_a_new_workbook(tmp_path, small_rules):
    workbook = rewrite_part(
        xlsxwriter_book(tmp_path / "x.xlsx"),
        tmp_path / "in.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda d: d.replace(b'<row r="5"', b'<row r="4" ht="30" customHeight="1"/><row r="5"', 1),
    )
    assert b'<row r="4" ht="30" customHeight="1"/>' in sheet_xml(workbook, "客户")
    run = evaluated_as_new_workbook(workbook, tmp_path / "out.xlsx", small_rules)
    ws = openpyxl.load_workbook(run.out)["客户"]
    assert (ws["A4"].value, ws["D4"].value, ws["E4"].value) == (None, "silver", "T2")
    assert (ws["A5"].value, ws["D5"].value) == ("C3", "gold")


def test_rows_without_numbers_get_a_new_workbook(tmp_path, small_rules):
    workbook = rewrite_part(
        xlsxwriter_book(tmp_path / "x.xlsx"),
        tmp_path / "in.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda d: re.sub(rb'<row r="\d+"', b"<row", d),
    )
    assert not re.search(rb"<row r=", sheet_xml(workbook, "客户"))
    run = evaluated_as_new_workbook(workbook, tmp_path / "out.xlsx", small_rules)
    assert client_decisions(run.out) == [d for d, _ in CLIENT_DECISIONS]


def test_a_sheet_already_named_kade_summary_gets_a_new_workbook(tmp_path, small_rules):
    workbook = xlsxwriter_book(tmp_path / "in.xlsx", extra_sheets=("Kade Summary",))
    evaluated_as_new_workbook(workbook, tmp_path / "out.xlsx", small_rules)


# ------------------------------------------------ input safety, atomicity ----


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_input_unchanged_and_no_stray_files(tmp_path, small_rules):
    folder = tmp_path / "work"
    folder.mkdir()
    workbook = folder / "key_accounts.xlsx"
    shutil.copy(SAMPLE, workbook)
    before = digest(workbook)
    run = evaluate_to(workbook, folder / "out.xlsx", ROOT / "rules")
    assert run.layout == "copy"
    assert digest(workbook) == before
    assert sorted(p.name for p in folder.iterdir()) == ["key_accounts.xlsx", "out.xlsx"]
    # writing again over an existing output replaces it whole
    (folder / "out.xlsx").write_bytes(b"old")
    assert evaluate_to(workbook, folder / "out.xlsx", ROOT / "rules").layout == "copy"
    assert zipfile.is_zipfile(folder / "out.xlsx") and digest(workbook) == before
    assert sorted(p.name for p in folder.iterdir()) == ["key_accounts.xlsx", "out.xlsx"]
    # a fallback (the copy attempt is abandoned) leaves nothing behind either
    odd = rewrite_part(
        xlsxwriter_book(tmp_path / "x.xlsx"),
        folder / "odd.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda d: re.sub(rb'<row r="\d+"', b"<row", d),
    )
    odd_before = digest(odd)
    assert evaluate_to(odd, folder / "odd.out.xlsx", small_rules).layout == "new"
    assert digest(odd) == odd_before
    assert sorted(p.name for p in folder.iterdir()) == ["key_accounts.xlsx", "odd.out.xlsx", "odd.xlsx", "out.xlsx"]


def test_a_failure_while_writing_leaves_the_previous_output(tmp_path, small_rules, monkeypatch):
    workbook = xlsxwriter_book(tmp_path / "in.xlsx")
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"previous results")
    real = xlsx_copy._SheetXml.pieces

    def failing(self, *args):
        pieces = real(self, *args)
        yield next(pieces)
        raise OSError("disk full")

    monkeypatch.setattr(xlsx_copy._SheetXml, "pieces", failing)
    with pytest.raises(OSError, match="disk full"):
        evaluate_to(workbook, out, small_rules)
    assert out.read_bytes() == b"previous results"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["in.xlsx", "out.xlsx"]


# ------------------------------------------------------------ LibreOffice ----


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_copy_opens_in_libreoffice(sample, render_tools, tmp_path):
    run = sample["run"]
    outdir = tmp_path / "csv"
    done = soffice(render_tools, tmp_path, ALL_SHEETS_CSV, run.out, outdir)
    assert done.returncode == 0, done.stderr
    summary = read_csv(outdir / "copy-kade summary.csv")
    assert summary[0] == ["decision", "rows over", "rows", "in error", "outcomes"]
    expected = [[str(v) for v in row] for row in run.summary[1:]]
    assert [row[:4] for row in summary[1:]] == [row[:4] for row in expected]
    clients = read_csv(outdir / "copy-客户.csv")
    frame = run.frames["客户"]
    assert clients[0] == list(frame.columns)
    first = dict(zip(clients[0], clients[1]))
    assert (
        first["客户名称"] == "中国银联" and first["client_tier"] == "platinum" and first["client_tier.rule"] == "CT-04"
    )
    assert len(clients) == len(frame) + 1
    for name in SAMPLE_SHEETS[1:]:
        assert read_csv(outdir / f"copy-{name}.csv")[0] == list(run.frames[name].columns)


def test_libreoffice_written_input_is_copied(render_tools, tmp_path, small_rules):
    done = soffice(render_tools, tmp_path, "xlsx", xlsxwriter_book(tmp_path / "in.xlsx"), tmp_path / "lo")
    assert done.returncode == 0, done.stderr
    workbook = tmp_path / "lo" / "in.xlsx"
    assert b'customFormat="false"' in sheet_xml(workbook, "客户")  # LibreOffice's own sheet XML
    run = evaluate_to(workbook, tmp_path / "out.xlsx", small_rules)
    assert run.layout == "copy"
    rows_in_order(sheet_xml(run.out, "客户"))
    book = openpyxl.load_workbook(run.out)
    assert book.sheetnames == ["kade summary", "客户", "订单", "备注"]
    assert [tuple(r[3:5]) for r in grid(book["客户"])[1:]] == CLIENT_DECISIONS
    assert [(r[3], r[4], r[6]) for r in grid(book["订单"])[1:]] == ORDER_DECISIONS


# -------------------------------------------------------------------- CLI ----


def test_cli_copies_the_sample(tmp_path):
    workbook = tmp_path / "key_accounts.xlsx"
    shutil.copy(SAMPLE, workbook)
    before = digest(workbook)
    out = tmp_path / "results.xlsx"
    result = CliRunner().invoke(
        main, ["evaluate", str(workbook), "--rules", str(ROOT / "rules"), "-o", str(out), "--no-audit"]
    )
    assert result.exit_code == 1, result.output  # the sample carries three deliberately bad rows
    assert digest(workbook) == before
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["kade summary", *SAMPLE_SHEETS]
    header = [c.value for c in next(book["客户"].iter_rows(max_row=1))]
    assert header[:2] == ["客户编号", "客户名称"] and "client_tier" in header and header[-1] == "kade.errors"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".xlsx") == ["key_accounts.xlsx", "results.xlsx"]


def test_cli_copy_keeps_other_sheets_new_workbook_does_not(tmp_path):
    rules = small_model(tmp_path / "rules")
    workbook = xlsxwriter_book(tmp_path / "in.xlsx")
    runner = CliRunner()
    copied = runner.invoke(
        main, ["evaluate", str(workbook), "--rules", str(rules), "-o", str(tmp_path / "copy.xlsx"), "--no-audit"]
    )
    assert copied.exit_code == 1, copied.output  # order O3's client C9 is missing
    book = openpyxl.load_workbook(tmp_path / "copy.xlsx")
    assert book.sheetnames == ["kade summary", "客户", "订单", "备注"]
    assert book["客户"]["A1"].fill.fgColor.rgb == "FFFFFF00"  # the input's own header look
    assert book["客户"]["D1"].fill.fgColor.rgb == GREEN
    new = runner.invoke(
        main,
        [
            "evaluate",
            str(workbook),
            "--rules",
            str(rules),
            "-o",
            str(tmp_path / "new.xlsx"),
            "--new-workbook",
            "--no-audit",
        ],
    )
    assert new.exit_code == 1, new.output
    book = openpyxl.load_workbook(tmp_path / "new.xlsx")
    assert book.sheetnames == ["kade summary", "客户", "订单"]
    ws = book["客户"]
    assert [c.value for c in ws[1]] == ["客户编号", "年收入", "行业", "tier", "tier.rule", "tier.reason", "kade.errors"]
    assert [ws.cell(1, c).fill.fgColor.rgb for c in range(1, 8)] == [BLUE] * 3 + [GREEN] * 3 + [ORANGE]
    assert [ws.cell(r, 4).value for r in range(2, 6)] == [d for d, _ in CLIENT_DECISIONS]


def test_cli_in_place_with_new_workbook_is_a_usage_error(tmp_path):
    rules = small_model(tmp_path / "rules")
    workbook = xlsxwriter_book(tmp_path / "in.xlsx")
    before = digest(workbook)
    result = CliRunner().invoke(
        main, ["evaluate", str(workbook), "--rules", str(rules), "--in-place", "--new-workbook", "--no-audit"]
    )
    assert result.exit_code == 2
    assert "--in-place" in result.output and "--new-workbook" in result.output
    assert digest(workbook) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file() and p.name != "audit.sqlite") == ["in.xlsx"]


def test_cli_says_why_the_results_are_a_new_workbook(tmp_path):
    # evaluating a results copy again: its sheets already hold the decision columns
    rules = small_model(tmp_path / "rules")
    workbook = xlsxwriter_book(tmp_path / "in.xlsx")
    runner = CliRunner()
    first = runner.invoke(
        main, ["evaluate", str(workbook), "--rules", str(rules), "-o", str(tmp_path / "once.xlsx"), "--no-audit"]
    )
    assert first.exit_code == 1 and "note:" not in first.output
    again = runner.invoke(
        main,
        [
            "evaluate",
            str(tmp_path / "once.xlsx"),
            "--rules",
            str(rules),
            "-o",
            str(tmp_path / "twice.xlsx"),
            "--no-audit",
        ],
    )
    assert again.exit_code == 1, again.output
    assert "is a new workbook of the evaluated sheets, not a copy of" in again.output
    assert "already has columns" in again.output
    header = [c.value for c in openpyxl.load_workbook(tmp_path / "twice.xlsx")["客户"][1]]
    assert header.count("tier") == 1 and header.count("kade.errors") == 1


def test_results_get_the_usual_file_permissions(tmp_path, small_rules):
    # a temporary file is created owner-only (0600); the results must not stay that way
    old = os.umask(0o022)
    try:
        run = evaluate_to(xlsxwriter_book(tmp_path / "in.xlsx"), tmp_path / "out.xlsx", small_rules)
        assert stat.S_IMODE(run.out.stat().st_mode) == 0o644
        os.chmod(run.out, 0o664)  # an existing file keeps the mode its owner gave it
        evaluate_to(tmp_path / "in.xlsx", run.out, small_rules)
        assert stat.S_IMODE(run.out.stat().st_mode) == 0o664
    finally:
        os.umask(old)


def test_the_copy_read_in_tiny_pieces_is_the_copy_read_whole(tmp_path, monkeypatch):
    """The copy writer keeps only the rows' offsets and reads the sheet XML again when it
    writes (a million-row sheet is not held twice). Inflated 61 bytes at a time, so rows, tags
    and spans attributes fall across the pieces it re-cuts after each '</row>', the copy of the
    sample (and of an XlsxWriter file with spans) is byte for byte the copy made from big pieces."""
    from engine.io import xlsx_scan

    inputs = {"sample": tmp_path / "key_accounts.xlsx", "spans": xlsxwriter_book(tmp_path / "spans.xlsx")}
    shutil.copy(SAMPLE, inputs["sample"])
    rules = {"sample": ROOT / "rules", "spans": engine.load_rules(small_model(tmp_path / "rules"))}
    whole = {k: evaluate_to(path, tmp_path / f"{k}-whole.xlsx", rules[k]) for k, path in inputs.items()}
    monkeypatch.setattr(xlsx_scan, "_CHUNK", 61)
    pieces = {k: evaluate_to(path, tmp_path / f"{k}-pieces.xlsx", rules[k]) for k, path in inputs.items()}
    for k in inputs:
        assert whole[k].layout == pieces[k].layout == "copy", k
        for name, part in sheet_parts(whole[k].out).items():
            if name != "kade summary":
                assert part_bytes(pieces[k].out, part) == part_bytes(whole[k].out, part), (k, name)


def test_a_sheet_rewritten_while_it_is_evaluated_gets_a_new_workbook_not_a_wrong_copy(tmp_path, small_rules):
    """The copy is written from a second reading of the input: if the file changed since
    its rows were indexed, splicing the decisions in at the old offsets would corrupt it.
    kade notices (the part's CRC, the bytes after the rows) and writes a new workbook."""
    workbook = xlsxwriter_book(tmp_path / "in.xlsx")
    source = writers.source_for(workbook)
    sheets = engine.read_workbook(workbook)
    evaluation = engine.evaluate(small_rules, engine.bind(small_rules, sheets, str(workbook)))
    frames = {evaluation.rows[e].sheet: results.result_frame(evaluation, e) for e in evaluation.rows}
    source.sheet("客户")  # indexed
    edited = rewrite_part(
        workbook, tmp_path / "edited.xlsx", sheet_parts(workbook)["客户"], lambda xml: xml.replace(b"C1", b"C9")
    )
    shutil.copy(edited, workbook)  # the user saved the workbook meanwhile
    out = tmp_path / "out.xlsx"
    layout = writers.write_xlsx(frames, out, None, source, {s.name: s.origin for s in sheets})
    assert layout == "new"
    assert "changed while the workbook was evaluated" in (source.why_not or "")
    assert CalamineWorkbook.from_path(str(out)).get_sheet_by_name("客户").to_python()[1][0] == "C1"  # as evaluated


def test_the_copy_writer_indexes_the_input_once_the_read_has_scanned_it(tmp_path, small_rules, monkeypatch):
    """The two passes over the sheet XML take turns: the copy writer's indexing starts
    when the scan before calamine's read is done (beside the scan it made the scan twice
    as slow), and the results are still a copy."""
    from engine import pipeline
    from engine.io import registers

    calls: list[str] = []
    scan, start = registers.scan_workbook, xlsx_copy.Source.start

    def scanning(*args, **kwargs):
        calls.append("scan begins")
        found = scan(*args, **kwargs)
        calls.append("scan ends")
        return found

    def starting(self):
        calls.append("indexing starts")
        start(self)

    monkeypatch.setattr(registers, "scan_workbook", scanning)
    monkeypatch.setattr(xlsx_copy.Source, "start", starting)
    workbook = xlsxwriter_book(tmp_path / "in.xlsx")
    run = pipeline.evaluate_to_file(workbook, small_rules, output=tmp_path / "out.xlsx")
    assert calls[:3] == ["scan begins", "scan ends", "indexing starts"]
    assert not [note for note in run.notes if "new workbook" in note]  # a copy of the input


def test_a_source_nobody_started_is_indexed_when_written(tmp_path, small_rules):
    workbook = xlsxwriter_book(tmp_path / "in.xlsx")
    sheets = engine.read_workbook(workbook)
    evaluation = engine.evaluate(small_rules, engine.bind(small_rules, sheets, str(workbook)))
    frames = {evaluation.rows[e].sheet: results.result_frame(evaluation, e) for e in evaluation.rows}
    origins = {s.name: s.origin for s in sheets}
    outs = []
    for start in (True, False):
        out = tmp_path / f"out-{start}.xlsx"
        assert writers.write_xlsx(frames, out, None, writers.source_for(workbook, start=start), origins) == "copy"
        with zipfile.ZipFile(out) as z:
            outs.append({name: z.read(name) for name in z.namelist()})
    assert outs[0] == outs[1]


def test_a_file_the_scan_refuses_is_not_indexed(tmp_path):
    fake = tmp_path / "register.xlsx"
    fake.write_text("客户名称,行业\nA,金融\n", encoding="utf-8")  # a CSV file renamed
    started = []
    with pytest.raises(engine.DataError, match="CSV"):
        engine.read_workbook(fake, scanned=lambda: started.append(True))
    assert started == []
