"""`kade excel workbook`: the built .xlsm holds xlwings' own VBA project, each
button is bound to a macro of that project whose RunPython call reaches the
intended kade entry point, and the data sheets are intact."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import sys
import types
import warnings
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest

with warnings.catch_warnings():  # oletools uses pyparsing's old names
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import VBA_Parser

ROOT = Path(__file__).resolve().parent.parent

import engine  # noqa: E402
from engine import pipeline  # noqa: E402
from engine.excel import desktop, handlers  # noqa: E402
from engine.excel.build import build_workbook, xlwings_template  # noqa: E402
from engine.excel.errors import BuildError  # noqa: E402
from engine.excel.layout import GUTTER_HEADER  # noqa: E402
from engine.excel.protocol import PayloadBook  # noqa: E402
from tests.clients import remote_bas  # noqa: E402
from tests.clients.excel import Workbook  # noqa: E402

SAMPLE = ROOT / "workbooks" / "key_accounts.xlsx"
VML = {"v": "urn:schemas-microsoft-com:vml", "x": "urn:schemas-microsoft-com:office:excel"}
MACRO_CALL = re.compile(r"'(\w+) \"(.*)\"'")  # how Excel stores a macro called with one argument


@pytest.fixture(scope="module")
def rules():
    return engine.load_rules(ROOT / "rules")


@pytest.fixture(scope="module")
def built(tmp_path_factory, rules):
    out = tmp_path_factory.mktemp("build") / "key_accounts.xlsm"
    return build_workbook(out, rules, SAMPLE)


def vba_procedures(path: Path) -> dict[str, str]:
    """Procedure name -> its declaration line, from every module of the VBA project."""
    parser = VBA_Parser(str(path))
    try:
        found = {}
        for _file, _stream, _module, code in parser.extract_macros():
            for match in re.finditer(r"^\s*((?:Public |Private )?(?:Sub|Function) (\w+)\(.*\).*)$", code, re.MULTILINE):
                found[match.group(2)] = match.group(1)
        return found
    finally:
        parser.close()


def buttons(path: Path) -> list[tuple[str, str, str]]:
    """(sheet, caption, macro) of every Form button, read from the VML parts."""
    with zipfile.ZipFile(path) as package:
        book = openpyxl.load_workbook(path, keep_vba=True)
        out = []
        for i, ws in enumerate(book.worksheets, start=1):
            rels = f"xl/worksheets/_rels/sheet{i}.xml.rels"
            if rels not in package.namelist():
                continue
            for rel in ElementTree.fromstring(package.read(rels)):
                if rel.get("Target", "").endswith(".vml"):
                    vml = ElementTree.fromstring(package.read("xl/" + rel.get("Target").replace("../", "")))
                    for shape in vml.iter(f"{{{VML['v']}}}shape"):
                        data = shape.find("x:ClientData", VML)
                        if data is not None and data.get("ObjectType") == "Button":
                            caption = "".join(shape.find("v:textbox", VML).itertext()).strip()
                            out.append((ws.title, caption, data.find("x:FmlaMacro", VML).text))
        return out


def test_the_vba_project_is_xlwings_own_byte_for_byte(built):
    with zipfile.ZipFile(built.path) as package, zipfile.ZipFile(xlwings_template()) as template:
        assert package.read("xl/vbaProject.bin") == template.read("xl/vbaProject.bin")
        content_types = package.read("[Content_Types].xml").decode()
        assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in content_types
        assert 'codeName="ThisWorkbook"' in package.read("xl/workbook.xml").decode()


def test_every_data_sheet_has_the_three_buttons(built):
    found = buttons(built.path)
    assert built.data_sheets == ["客户", "合同", "方案申请", "SLA订单"]
    for sheet in built.data_sheets:
        assert [caption for s, caption, _ in found if s == sheet] == ["Evaluate", "Why?", "Check rules"]
    assert {s for s, _, _ in found} == set(built.data_sheets)


def test_each_button_calls_a_macro_of_the_vba_project_naming_its_kade_entry_point(built):
    procedures = vba_procedures(built.path)
    intended = {"Evaluate": "evaluate", "Why?": "why", "Check rules": "check"}
    for sheet, caption, macro in buttons(built.path):
        call = MACRO_CALL.fullmatch(macro)
        assert call, f"{sheet} {caption}: {macro!r}"
        name, command = call.groups()
        assert name == "RunPython" and procedures[name] == "Public Function RunPython(PythonCommand As String)"
        tree = ast.parse(command)
        imported, called = tree.body[0], tree.body[1].value
        assert isinstance(imported, ast.Import) and imported.names[0].name == "engine.excel.desktop"
        assert called.func.value.id == imported.names[0].asname and called.func.attr == intended[caption]
        assert getattr(desktop, called.func.attr) is desktop.ENTRY_POINTS[intended[caption]]


def test_the_button_commands_reach_the_handlers(built, monkeypatch, tmp_path):
    """Run each button's exact RunPython command with a stand-in for
    xw.Book.caller() and see which handler it reaches."""

    class App:
        screen_updating = True

        def alert(self, text, title=None):
            raise AssertionError(f"unexpected message: {text}")

    caller = types.SimpleNamespace(name="key_accounts.xlsm", fullname=str(tmp_path / "key_accounts.xlsm"), app=App())
    fake = types.ModuleType("xlwings")
    fake.Book = types.SimpleNamespace(caller=lambda: caller)
    monkeypatch.setitem(sys.modules, "xlwings", fake)
    reached = []

    def evaluate_book(port, rules, *, audit_options, workbook):
        reached.append(("evaluate", port.book is caller))
        audited.append((audit_options.front_end, audit_options.enabled, workbook))

    audited: list = []
    monkeypatch.setattr(pipeline, "evaluate_book", evaluate_book)
    for name in ("why", "check_rules"):
        monkeypatch.setattr(handlers, name, lambda port, rules, name=name: reached.append((name, port.book is caller)))
    monkeypatch.delenv("KADE_NO_AUDIT", raising=False)
    for _sheet, _caption, macro in buttons(built.path)[:3]:
        exec(MACRO_CALL.fullmatch(macro).group(2), {})
    assert reached == [("evaluate", True), ("why", True), ("check_rules", True)]
    # the Evaluate button is audited as the desktop front end, under the workbook's path
    assert audited == [("excel-desktop", True, caller.fullname)]
    assert caller.app.screen_updating is True  # restored


def test_data_sheets_are_intact(built):
    source = openpyxl.load_workbook(SAMPLE)
    copy = openpyxl.load_workbook(built.path, keep_vba=True)
    for name in source.sheetnames:
        old, new = source[name], copy[name]
        for row in old.iter_rows():
            for cell in row:
                assert new.cell(cell.row, cell.column).value == cell.value, f"{name}!{cell.coordinate}"
        assert new.cell(1, old.max_column + 1).value == GUTTER_HEADER
        assert new.max_row == old.max_row
    assert copy.sheetnames == source.sheetnames + ["kade", "_xlwings.conf"]


def test_formulas_dates_and_formats_are_copied(tmp_path, rules):
    source = tmp_path / "register.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "合同"
    ws.append(["合同编号", "客户编号", "合同金额(万元)", "签约日期", "double"])
    ws.append(["HT1", "C1", 120.5, dt.datetime(2026, 3, 1), "=C2*2"])
    ws["C2"].number_format = "#,##0.00"
    ws.freeze_panes = "B2"
    ws.column_dimensions["C"].width = 21
    wb.create_sheet("notes")["A1"] = "keep me"
    wb.save(source)
    result = build_workbook(tmp_path / "out.xlsm", rules, source)
    copy = openpyxl.load_workbook(result.path, keep_vba=True)
    contracts = copy["合同"]
    assert contracts["E2"].value == "=C2*2" and contracts["D2"].value == dt.datetime(2026, 3, 1)
    assert contracts["C2"].number_format == "#,##0.00" and contracts.freeze_panes == "B2"
    assert contracts.column_dimensions["C"].width == pytest.approx(21, abs=1)
    assert copy["notes"]["A1"].value == "keep me" and result.other_sheets == ["notes"]
    assert [s for s, _, _ in buttons(result.path)] == ["合同"] * 3


def test_pressing_evaluate_in_the_built_workbook_writes_right_of_the_buttons(built, rules):
    book = Workbook.from_xlsx(built.path, active="合同")
    sent = []

    def serve(url: str, body: bytes, headers: dict):  # kade serve's Evaluate, in process
        payload = PayloadBook(json.loads(body))
        handlers.evaluate(payload, rules)
        sent.append(payload.response()["actions"])
        return 200, json.dumps(payload.response()).encode("utf-8"), "OK"

    remote_bas.run_server_python(book, "http://kade.invalid/xlwings/evaluate", post=serve)
    headers = book.sheet("合同").grid()[0]
    gutter = headers.index(GUTTER_HEADER)
    assert headers[gutter + 1] == "required_approver" and gutter == openpyxl.load_workbook(SAMPLE)["合同"].max_column
    remote_bas.run_server_python(book, "http://kade.invalid/xlwings/evaluate", post=serve)  # again: same columns
    assert book.sheet("合同").grid()[0] == headers
    assert {a["start_column"] for a in sent[1] if a["func"] == "setValues" and a["sheet_position"] == 1} == {gutter + 1}


def test_without_a_source_the_sheets_have_the_glossary_headers(tmp_path, rules):
    result = build_workbook(tmp_path / "blank.xlsm", rules)
    wb = openpyxl.load_workbook(result.path, keep_vba=True)
    headers = [c.value for c in wb["合同"][1]]
    assert headers[:2] == ["合同编号", "客户编号"] and "合同金额(万元)" in headers and headers[-1] == GUTTER_HEADER
    assert result.data_sheets == ["客户", "合同", "方案申请", "SLA订单"]


def test_an_interpreter_activates_xlwings_conf(tmp_path, rules):
    result = build_workbook(tmp_path / "py.xlsm", rules, python=r"C:\kade\.venv\Scripts\pythonw.exe")
    conf = openpyxl.load_workbook(result.path, keep_vba=True)["xlwings.conf"]
    settings = {row[0]: row[1] for row in conf.iter_rows(values_only=True) if row[0]}
    assert settings["Interpreter_Win"] == settings["Interpreter_Mac"] == r"C:\kade\.venv\Scripts\pythonw.exe"


@pytest.mark.parametrize(
    "sheets, out, words",
    [
        ({"合同": [["合同编号"]]}, "out.xlsx", "must be .xlsm"),
        ({"合同": [["合同编号"]], "calc.py": [["x"]]}, "out.xlsm", "names ending in .py"),
        ({"kade why": [["x"]], "合同": [["合同编号"]]}, "out.xlsm", "kade's own"),
        ({"Sheet": [["x"]]}, "out.xlsm", "no data sheet kade decides"),
    ],
)
def test_refusals(tmp_path, rules, write_xlsx, sheets, out, words):
    source = write_xlsx("source.xlsx", sheets)
    with pytest.raises(BuildError, match=words):
        build_workbook(tmp_path / out, rules, source)
    assert not (tmp_path / out).exists()


def test_what_cannot_be_copied_is_listed(tmp_path, rules):
    source = tmp_path / "merged.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "合同"
    ws.append(["合同编号", "客户编号"])
    ws.merge_cells("A3:B3")
    wb.save(source)
    notes = build_workbook(tmp_path / "out.xlsm", rules, source).notes
    assert any("merged cells" in n for n in notes)


def test_workbooks_built_before_the_move_still_find_their_entry_points():
    """Button workbooks built by kade 0.1 call 'import kade_excel.desktop as kade; kade.evaluate()'."""
    import kade_excel.desktop as old
    from engine.excel import desktop

    assert (old.evaluate, old.why, old.check) == (desktop.evaluate, desktop.why, desktop.check)
