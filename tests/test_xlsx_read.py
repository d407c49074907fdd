"""engine.io.xlsx_read against python-calamine: every sheet it reads must come out
as calamine's rows make it (same header, cells, types, origin and unreadable
cells), and every sheet it leaves to calamine must really be one it does not read.
Workbooks come from XlsxWriter, openpyxl and hand-written sheet XML (the forms
other writers use), read through ``engine.read_workbook`` both ways."""

from __future__ import annotations

import datetime as dt
import math
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import DataError, Position
from engine.io import registers, xlsx_read, xlsx_scan

ROOT = Path(__file__).resolve().parent.parent
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def craft(path: Path, rows: str, *, strings: str | None = None, styles: str | None = None) -> Path:
    """A workbook of one sheet 'S' whose sheetData is ``rows`` (raw XML), with an
    optional shared-strings part (``strings``: the <si> items) and styles part."""
    parts = {
        "worksheets/sheet1.xml": ("worksheet", f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>')
    }
    if strings is not None:
        parts["sharedStrings.xml"] = ("sharedStrings", f'<sst xmlns="{MAIN}">{strings}</sst>')
    if styles is not None:
        parts["styles.xml"] = ("styles", f'<styleSheet xmlns="{MAIN}">{styles}</styleSheet>')
    relations = "".join(
        f'<Relationship Id="rId{i}" Type="{REL}/{kind}" Target="{name}"/>'
        for i, (name, (kind, _)) in enumerate(parts.items(), 1)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/></Types>',
        )
        zf.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        zf.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{relations}</Relationships>',
        )
        for name, (_, xml) in parts.items():
            zf.writestr(f"xl/{name}", xml)
    return path


def read_both(path: Path, monkeypatch) -> tuple[list[registers.Sheet], list[registers.Sheet]]:
    """engine.read_workbook as it is, and with every sheet left to calamine."""
    ours = registers.read_workbook(path)
    with monkeypatch.context() as patch:
        patch.setenv("KADE_READER", "calamine")
        theirs = registers.read_workbook(path)
    return ours, theirs


def read_by_numpy(path: Path) -> set[str]:
    """The sheets engine.io.xlsx_read reads itself (the rest go to calamine)."""
    read = set()
    with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
        book = xlsx_read.open_book(zf)
        for scan in xlsx_scan.scan_workbook(path):
            try:
                if scan.usual:
                    xlsx_read.read_sheet(raw, zf.getinfo(scan.part), scan, book, Position(str(path)))
                    read.add(scan.name)
            except xlsx_read.Unusual:
                pass
    return read


def same_cell(x, y) -> bool:
    if type(x) is not type(y):
        return False
    if isinstance(x, float) and math.isnan(x):
        return math.isnan(y)
    return x == y and (not isinstance(x, float) or math.copysign(1, x) == math.copysign(1, y))


def assert_same(ours: list[registers.Sheet], theirs: list[registers.Sheet]) -> None:
    assert [s.name for s in ours] == [s.name for s in theirs]
    for mine, calamine in zip(ours, theirs):
        assert mine.origin == calamine.origin, mine.name
        assert list(mine.frame.columns) == list(calamine.frame.columns), mine.name
        assert mine.frame.shape == calamine.frame.shape, mine.name
        assert list(mine.frame.dtypes) == list(calamine.frame.dtypes), mine.name
        for column in mine.frame.columns:
            for i, (x, y) in enumerate(zip(mine.frame[column].tolist(), calamine.frame[column].tolist())):
                assert same_cell(x, y), f"{mine.name}!{column} row {i}: {x!r} (numpy) != {y!r} (calamine)"
        assert mine.unreadable == calamine.unreadable, mine.name
        assert mine.formulas_without_values == calamine.formulas_without_values, mine.name


def inline(ref: str, text: str, attrs: str = "") -> str:
    return f'<c r="{ref}" t="inlineStr"{attrs}><is><t>{text}</t></is></c>'


def number(ref: str, value: str, attrs: str = "") -> str:
    return f'<c r="{ref}"{attrs}><v>{value}</v></c>'


HEADER = '<row r="1">' + inline("A1", "名称") + inline("B1", "amount") + inline("C1", "flag") + "</row>"

# sheets the numpy reader reads itself: (rows, shared strings, styles)
READ = {
    "numbers as Excel writes them": HEADER
    + '<row r="2">'
    + inline("A2", "a")
    + number("B2", "1")
    + number("C2", "1.5E-3")
    + "</row>"
    + '<row r="3">'
    + inline("A3", "b")
    + number("B3", "-0")
    + number("C3", "12345678901234567890")
    + number("D3", "0")  # beside -0: one float object each, not one for both
    + "</row>"
    + '<row r="4">'
    + inline("A4", "c")
    + number("B4", "+1")
    + number("C4", ".5")
    + number("D4", "1.")
    + number("E4", "1e400")
    + "</row>",
    "Chinese, entities and kept spaces": HEADER
    + '<row r="2">'
    + inline("A2", "金融&amp;政府 &#x4E2D;&#20013;&lt;&gt;&quot;&apos;")
    + inline("B2", " a  b ", ' s="0"').replace("<t>", '<t xml:space="preserve">')
    + inline("C2", "line&#10;break &#13; cr")
    + "</row>",
    "booleans, error values, formula results": HEADER
    + '<row r="2"><c r="A2" t="b"><v>1</v></c><c r="B2" t="b"><v>0</v></c><c r="C2" t="e"><v>#DIV/0!</v></c></row>'
    + '<row r="3"><c r="A3" t="str"><f>A1</f><v>名称</v></c><c r="B3"><f>1+1</f><v>2</v></c>'
    + '<c r="C3"><f>1+2</f></c></row>',
    "shared strings, runs and phonetic text": '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    + '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
    + '<row r="3"><c r="A3" t="s"><v>4</v></c><c r="B3" t="s"><v>2</v></c></row>',
    "a used range that starts below and right of A1, styled empty cells around it": '<row r="1"><c r="A1" s="1"/></row>'
    + '<row r="3" spans="2:4" ht="15" customHeight="1">'
    + inline("C3", "客户")
    + inline("D3", "客户")
    + '<c r="E3" s="1"/></row>'
    + '<row r="4">'
    + number("C4", "7", ' s="1"')
    + inline("D4", "x")
    + "</row>"
    + '<row r="9"><c r="F9" s="1"/></row>',
    "empty header cells and repeated names": '<row r="1">'
    + inline("A1", "x")
    + number("B1", "3")
    + inline("D1", "x")
    + "</row>"
    + '<row r="2">'
    + number("A2", "1")
    + number("B2", "2")
    + number("C2", "3")
    + number("D2", "4")
    + number("E2", "5")
    + "</row>",
    "a header row and nothing below": HEADER,
    "an empty sheet": "",
    "numbers in plain and custom formats that show no date": HEADER
    + '<row r="2">'
    + number("A2", "1", ' s="1"')
    + number("B2", "2", ' s="2"')
    + number("C2", "3", ' s="3"')
    + "</row>",
}
STRINGS = (
    '<si><t>客户</t></si><si><r><t>ab</t></r><r><rPr><b/></rPr><t xml:space="preserve">c d</t></r></si>'
    '<si><t>名称</t><rPh sb="0" eb="1"><t>ミョウ</t></rPh></si><si><t>R&amp;D</t></si><si><t/></si>'
)
STYLES = (
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="&quot;¥&quot;#,##0.00;[Red]\\-&quot;¥&quot;#,##0.00"/>'
    '<numFmt numFmtId="165" formatCode="0.00E+00"/></numFmts>'
    '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="4"/><xf numFmtId="164"/><xf numFmtId="165"/></cellXfs>'
)

# sheets it leaves to calamine, and why
LEFT = {
    "a date cell (t=d)": HEADER + '<row r="2"><c r="A2" t="d"><v>2024-01-02T00:00:00</v></c></row>',
    "a number in a date format": HEADER + '<row r="2">' + number("A2", "45000", ' s="1"') + "</row>",
    "a number in a custom date format": HEADER + '<row r="2">' + number("A2", "45000", ' s="2"') + "</row>",
    "a duration": HEADER + '<row r="2">' + number("A2", "1.5", ' s="3"') + "</row>",
    "numbers calamine keeps as text": HEADER + '<row r="2">' + number("A2", " 2") + number("B2", "--1") + "</row>",
    "inf written as a word": HEADER + '<row r="2">' + number("A2", "inf") + "</row>",
    "_x escapes": HEADER + '<row r="2">' + inline("A2", "a_x000D_b") + "</row>",
    "a raw carriage return": HEADER + '<row r="2">' + inline("A2", "a\rb") + "</row>",
    "rich inline text": HEADER + '<row r="2"><c r="A2" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c></row>',
    "an empty value element": HEADER + '<row r="2"><c r="A2" t="str"><f>""</f><v></v></c></row>',
    "an empty inline text": HEADER + '<row r="2"><c r="A2" t="inlineStr"><is><t/></is></c></row>',
    "cells out of order": HEADER + '<row r="2">' + number("B2", "1") + number("A2", "2") + "</row>",
    "a cell without a reference": HEADER + '<row r="2"><c><v>1</v></c></row>',
    "prefixed element names": HEADER + f'<x:row xmlns:x="{MAIN}" r="2"><x:c r="A2"><x:v>1</x:v></x:c></x:row>',
    "a shared string with an escape": '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
    "an attribute in single quotes": HEADER + '<row r="2"><c r="A2" t=\'s\'><v>0</v></c></row>',
}
LEFT_STRINGS = "<si><t>a_x000D_b</t></si>"
LEFT_STYLES = (
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/></numFmts>'
    '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="46"/></cellXfs>'
)


@pytest.mark.parametrize("case", list(READ))
def test_sheets_it_reads_come_out_as_calamine_makes_them(case, tmp_path, monkeypatch):
    path = craft(tmp_path / "crafted.xlsx", READ[case], strings=STRINGS, styles=STYLES)
    assert read_by_numpy(path) == {"S"}
    assert_same(*read_both(path, monkeypatch))


@pytest.mark.parametrize("case", list(LEFT))
def test_sheets_it_leaves_to_calamine_are_read_by_calamine(case, tmp_path, monkeypatch):
    path = craft(tmp_path / "crafted.xlsx", LEFT[case], strings=LEFT_STRINGS, styles=LEFT_STYLES)
    assert read_by_numpy(path) == set()
    assert_same(*read_both(path, monkeypatch))


def test_a_boolean_calamine_refuses_is_refused_either_way(tmp_path, monkeypatch):
    path = craft(tmp_path / "crafted.xlsx", HEADER + '<row r="2"><c r="A2" t="b"><v>2</v></c></row>')
    assert read_by_numpy(path) == set()
    with pytest.raises(DataError, match="boolean"):
        registers.read_workbook(path)


@pytest.mark.parametrize("text", ["a&nbsp;b", "a&#99999999;b", "a & b", "x&#0;y"])
def test_text_calamine_refuses_is_refused_either_way(text, tmp_path):
    """Entities XML does not define, code points it does not allow: calamine stops
    on them, and so does kade (the sheet goes to calamine)."""
    path = craft(tmp_path / "crafted.xlsx", HEADER + '<row r="2">' + inline("A2", text) + "</row>")
    assert read_by_numpy(path) == set()
    with pytest.raises(DataError, match="cannot read workbook"):
        registers.read_workbook(path)


def test_values_read_are_what_the_sheet_says(tmp_path, monkeypatch):
    """Not only equal to calamine's: the expected values, written out."""
    path = craft(tmp_path / "crafted.xlsx", READ["booleans, error values, formula results"])
    sheet = registers.read_workbook(path)[0]
    assert list(sheet.frame.columns) == ["名称", "amount", "flag"]
    assert sheet.frame.to_dict("records") == [
        {"名称": True, "amount": False, "flag": None},
        {"名称": "名称", "amount": 2.0, "flag": None},
    ]
    assert sheet.unreadable == {"flag": {0: "#DIV/0! (C2)", 1: "formula =1+2 has no stored result (C3)"}}
    path = craft(tmp_path / "strings.xlsx", READ["shared strings, runs and phonetic text"], strings=STRINGS)
    sheet = registers.read_workbook(path)[0]
    assert list(sheet.frame.columns) == ["客户", "abc d"]
    assert sheet.frame.to_dict("records") == [{"客户": "名称", "abc d": "R&D"}, {"客户": None, "abc d": "名称"}]


def test_xlsxwriter_and_openpyxl_workbooks(tmp_path, monkeypatch):
    """Shared strings, styles, spans, dates, booleans and formulas as the two writers put them."""
    path = tmp_path / "xlsxwriter.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    bold, money = wb.add_format({"bold": True}), wb.add_format({"num_format": "#,##0.00"})
    clients = wb.add_worksheet("客户")
    clients.write_row(0, 0, ["客户名称", "年收入", "行业", "重点", "备注"], bold)
    for i in range(1, 2000):
        clients.write_row(i, 0, [f"客户{i % 300}", i * 1.25, ["金融", "政府", "R&D <x>"][i % 3], i % 2 == 0])
        clients.write_number(i, 1, i * 1.25, money)
    clients.write_formula(5, 4, '="a"&"b"', None, "ab")
    dated = wb.add_worksheet("合同")
    dated.write_row(0, 0, ["合同编号", "签约日期"])
    dated.write_row(1, 0, ["H1"])
    dated.write_datetime(1, 1, dt.datetime(2024, 3, 1), wb.add_format({"num_format": "yyyy-mm-dd"}))
    wb.close()
    assert read_by_numpy(path) == {"客户"}
    assert_same(*read_both(path, monkeypatch))

    path = tmp_path / "openpyxl.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "方案申请"
    sheet.append(["申请编号", "金额", "加急", "说明"])
    for i in range(1, 500):
        sheet.append([f"S{i}", i * 10, i % 3 == 0, None if i % 4 else "需要 & 评估"])
    book.save(path)
    assert read_by_numpy(path) == {"方案申请"}
    assert_same(*read_both(path, monkeypatch))


def test_cells_split_across_many_pieces(tmp_path, monkeypatch):
    """Pieces of 4 KB instead of 8 MB: cells and values cut at every place a piece can end."""
    monkeypatch.setattr(xlsx_scan, "_CHUNK", 4096)
    rows = [HEADER]
    for r in range(2, 3000):
        rows.append(
            f'<row r="{r}">'
            + inline(f"A{r}", f"名称{r % 17}&amp;")
            + number(f"B{r}", f"{r * 0.37:.6g}")
            + (f'<c r="C{r}" t="b"><v>{r % 2}</v></c>' if r % 5 else "")
            + "</row>"
        )
    path = craft(tmp_path / "long.xlsx", "".join(rows))
    assert read_by_numpy(path) == {"S"}
    assert_same(*read_both(path, monkeypatch))


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT) for p in [*ROOT.glob("workbooks/*.xlsx")]), ids=str)
def test_the_shipped_sample(path, monkeypatch):
    assert_same(*read_both(ROOT / path, monkeypatch))
    assert read_by_numpy(ROOT / path) == {"客户", "方案申请", "SLA订单"}  # 合同 has dates: calamine's


_CELL = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**53), 2**53),
    st.text(max_size=12),
    st.sampled_from(["金融", "政府", "R&D", "<b>", " 空格 ", "0", "1e5", "TRUE", "#N/A"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.lists(st.lists(_CELL, min_size=1, max_size=5), min_size=1, max_size=12))
def test_random_registers_read_as_calamine_reads_them(rows):
    """Whatever a writer puts in the cells (XlsxWriter: shared strings, _x escapes
    for control characters), the two readers agree."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as monkeypatch:
        path = Path(folder) / "random.xlsx"
        wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
        sheet = wb.add_worksheet("S")
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.write(r, c, value)
        wb.close()
        assert_same(*read_both(path, monkeypatch))


def test_kade_reader_chooses_calamine_and_refuses_other_names(tmp_path, monkeypatch):
    path = craft(tmp_path / "crafted.xlsx", READ["numbers as Excel writes them"])
    read: list[str] = []
    real = xlsx_read.read_sheet
    monkeypatch.setattr(xlsx_read, "read_sheet", lambda *args: read.append("numpy") or real(*args))
    registers.read_workbook(path)
    assert read == ["numpy"]
    monkeypatch.setenv("KADE_READER", "Calamine")
    registers.read_workbook(path)
    assert read == ["numpy"]
    monkeypatch.setenv("KADE_READER", "fast")
    with pytest.raises(DataError, match=r"\$KADE_READER is 'numpy' \(the default\) or 'calamine', got 'fast'"):
        registers.read_workbook(path)


def test_zero_keeps_its_sign_when_equal_values_share_an_object():
    """0.0 and -0.0 are equal, so sharing one object per distinct value would give
    every zero of a block the first one's sign; each keeps its own (both readers)."""
    numbers = [0.0, -0.0, 1.5, -0.0, 0.0, 1.5, 1.5, 0.0] * 600
    frame = registers.frame_from_rows([["x"], *([n] for n in numbers)])
    assert [math.copysign(1, x) for x in frame["x"]] == [math.copysign(1, n) for n in numbers]
    objects = xlsx_read._float_objects(np.array(numbers))
    assert [math.copysign(1, x) for x in objects] == [math.copysign(1, n) for n in numbers]
