"""The three buttons through xlwings' own clients and a real `kade serve` process:
the Office Scripts client (js/xlwings.ts, unchanged, in node) and the VBA client
(Remote.bas, transcribed line by line), each driving a model of Excel (tests/clients).

For every button, with the active sheet first, in the middle and last (and, for VBA,
with a chart sheet among the tabs): the user's sheets keep every cell and fill
outside kade's result columns, the new sheet gets the text, Evaluate writes what
`kade evaluate` decides, cell by cell."""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path

import pytest

import engine
from engine.evaluation.results import result_frame
from engine.excel.handlers import CHECK_SHEET, SUMMARY_SHEET, WHY_SHEET
from engine.excel.protocol import OFFICE_SCRIPTS_CHUNK_BYTES
from engine.io.cells import cell_values
from tests.clients import office_scripts, remote_bas
from tests.clients.excel import Sheet, VBAError, Workbook
from tests.serve_process import ROOT, RULES, Server
from tests.workbook_factory import repeated_clients

SAMPLE = ROOT / "workbooks" / "key_accounts.xlsx"
DOCS = ROOT / "docs" / "excel.md"
REMOTE_BAS = Path(office_scripts.xlwings_ts()).parent.parent / "addin" / "Remote.bas"
# a row of each data sheet, for Why?: (sheet, selected cell, the row's key)
ACTIVE = {
    "first": ("客户", "D4", "C0003"),
    "middle": ("方案申请", "B3", None),
    "last": ("SLA订单", "C5", "SLA2026-0004"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("serve")).wait_ready()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def expected():
    """What `kade evaluate` decides on the sample."""
    return engine.evaluate_workbook(engine.load_rules(RULES), SAMPLE)


@pytest.fixture
def node(office_scripts_client):
    return office_scripts_client


@functools.cache
def _sample() -> Workbook:
    return Workbook.from_xlsx(SAMPLE)


def sample(active: str = "first", *, chart_sheet: bool = False) -> Workbook:
    """The sample register as Excel holds it, the active sheet and selection set."""
    sheet, cell, _ = ACTIVE[active]
    book = _sample().copy()
    book.active, book.selection = book.sheet(sheet), cell
    if chart_sheet:  # between the first and the second worksheet: later sheets' tab numbers move
        book.add_chart_sheet("图表", 1)
    return book


def why_url(server, book: Workbook) -> str:
    """The Why? macro of docs/excel.md: RunRemotePython KADE & "why" & ActiveWorksheetQuery()."""
    query = ""
    for i in range(1, book.Worksheets_Count + 1):  # For i = 1 To ActiveWorkbook.Worksheets.Count
        if book.Worksheets(i) is book.ActiveSheet:  # If ActiveWorkbook.Worksheets(i) Is ActiveSheet Then
            query = f"?worksheet={i}"  # ActiveWorksheetQuery = "?worksheet=" & i
    return f"{server.url}/xlwings/why{query}"


def press_vba(server, book: Workbook, button: str, **options) -> Workbook:
    url = why_url(server, book) if button == "why" else f"{server.url}/xlwings/{button}"
    remote_bas.run_server_python(book, url, **options)
    return book


def press_office_scripts(server, book: Workbook, button: str, **options) -> office_scripts.ScriptRun:
    return office_scripts.run_python(book, f"{server.url}/xlwings/{button}", **options)


def assert_untouched(before: Workbook, after: Workbook, results_from: dict[str, int] | None = None):
    """Every sheet of ``before`` is still there, in the same order, with every cell and
    fill as it was -- left of ``results_from[sheet]`` (kade's columns) when given."""
    names = [s.name for s in before.sheets if s.kind == "worksheet"]
    assert [s.name for s in after.sheets if s.name in names] == names
    for old in before.worksheet_list():
        new = after.sheet(old.name)
        limit = (results_from or {}).get(old.name, math.inf)
        for r, row in enumerate(old.cells, 1):
            for c, value in enumerate(row, 1):
                if c < limit:
                    assert new.get(r, c) == value, f"{old.name}!{c},{r}: {value!r} became {new.get(r, c)!r}"
        for r, row in enumerate(new.cells, 1):
            for c, value in enumerate(row, 1):
                if c < limit and value is not None:
                    assert old.get(r, c) == value, f"{old.name}: a new value {value!r} at row {r}, column {c}"
        assert {k: v for k, v in new.fills.items() if k[1] < limit} == {
            k: v for k, v in old.fills.items() if k[1] < limit
        }, old.name


def text_lines(sheet: Sheet) -> list[str]:
    return [row[0] for row in sheet.grid() if row and row[0] is not None]


def same(cell, value) -> bool:
    if isinstance(value, float) and isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return math.isclose(cell, value, rel_tol=1e-14, abs_tol=1e-12)
    return cell == value


def assert_decisions(book: Workbook, expected):
    """Every decision cell as `kade evaluate` decides it; returns {sheet: first result column}."""
    starts = {}
    for entity, rows in expected.rows.items():
        frame = result_frame(expected, entity)
        sheet = book.sheet(rows.sheet)
        header = sheet.grid()[0]
        first = frame.attrs["data_columns"]
        starts[rows.sheet] = first + 1
        assert header[first:] == list(frame.columns[first:]), rows.sheet
        for j, name in enumerate(frame.columns[first:], first + 1):
            want = cell_values(frame[name], dates_as_datetime=True)
            got = [sheet.get(r, j) for r in range(2, len(want) + 2)]
            wrong = [(r + 2, g, w) for r, (g, w) in enumerate(zip(got, want)) if not same(g, w)]
            assert not wrong, f"{rows.sheet} {name}: (row, cell, kade evaluate) {wrong[:3]}"
    return starts


# ------------------------------------------------------------------------ VBA ----


@pytest.mark.parametrize(
    "active, chart_sheet",
    [("first", False), ("middle", False), ("last", False), ("last", True)],
    ids=["first", "middle", "last", "last with a chart sheet"],
)
def test_vba_evaluate(server, expected, active, chart_sheet):
    before = sample(active, chart_sheet=chart_sheet)
    book = press_vba(server, before.copy(), "evaluate")
    starts = assert_decisions(book, expected)
    assert_untouched(before, book, starts)
    assert book.sheets[-1].name == SUMMARY_SHEET and [s.name for s in book.sheets[:-1]] == [
        s.name for s in before.sheets
    ]
    assert book.message_boxes[0][0] == "kade" and "4 row(s) in error" in book.message_boxes[0][1]


EVERY_POSITION = pytest.mark.parametrize(
    "active, chart_sheet",
    [(active, chart) for chart in (False, True) for active in ACTIVE],
    ids=[f"{active}{' with a chart sheet' if chart else ''}" for chart in (False, True) for active in ACTIVE],
)


def text_sheet(before: Workbook, after: Workbook, sheet: str) -> list[str]:
    """After a button that writes its text on a sheet of its own: every sheet of the
    user's is as it was and the text sheet is the last tab. Its lines."""
    assert_untouched(before, after)
    assert after.sheets[-1].name == sheet
    return text_lines(after.sheet(sheet))


def assert_explained(lines: list[str], active: str):
    sheet, cell, key = ACTIVE[active]
    assert lines[0] == f"Why? {sheet} row {int(re.sub(r'[^0-9]', '', cell))} (key_accounts.xlsx)"
    assert key is None or key in lines[1]


@EVERY_POSITION
def test_vba_why(server, active, chart_sheet):
    before = sample(active, chart_sheet=chart_sheet)
    book = press_vba(server, before.copy(), "why")
    lines = text_sheet(before, book, WHY_SHEET)
    assert_explained(lines, active)
    (title, message), *_ = book.message_boxes
    assert title == "kade: why?" and "sheet 'kade why'" in message and len(message) <= 1024
    # pressing again on the same workbook replaces the text, no second sheet
    press_vba(server, book, "why")
    assert [s.name for s in book.sheets].count(WHY_SHEET) == 1 and text_lines(book.sheet(WHY_SHEET)) == lines


@EVERY_POSITION
def test_vba_check_rules(server, active, chart_sheet):
    before = sample(active, chart_sheet=chart_sheet)
    book = press_vba(server, before.copy(), "check")
    lines = text_sheet(before, book, CHECK_SHEET)
    assert lines[0] == f"Check rules: {RULES}" and "tables" in lines[-1]
    assert book.message_boxes[0][0] == "kade: check rules"


def test_vba_why_without_the_worksheet_query_on_a_chart_sheet_count_is_refused(server):
    """xlwings' VBA client sends the active tab's number counting chart sheets; past the
    worksheets sent, kade says so instead of explaining another sheet."""
    before = sample("last", chart_sheet=True)  # SLA订单 is tab 5 but worksheet 4
    book = before.copy()
    remote_bas.run_server_python(book, f"{server.url}/xlwings/why")
    assert book.message_boxes[0][0] == "Error" and "chart sheets" in book.message_boxes[0][1]
    assert "?worksheet=" in book.message_boxes[0][1]
    assert_untouched(before, book)
    assert [s.name for s in book.sheets] == [s.name for s in before.sheets]


def test_vba_sheet_names_in_the_xlwings_conf_sheet_survive_any_windows_code_page(server, expected):
    """The docs put the data sheets' names in an xlwings.conf sheet (cells hold Unicode;
    a VBA string literal does not on non-Chinese Windows or a Mac)."""
    before = sample("first")
    notes = Sheet("notes")
    notes.put(1, 1, "备注")
    conf = Sheet("xlwings.conf")
    conf.put(1, 1, "INCLUDE")
    conf.put(1, 2, "客户, 合同")
    before.sheets += [notes, conf]
    before.__post_init__()
    payload = json.loads(remote_bas.ConvertToJson(remote_bas.request_payload(before, ["", "", "方案申请", "SLA订单"])))
    assert [s["values"] == [[]] for s in payload["sheets"]] == [False, False, True, True, False, False]
    book = press_vba(server, before.copy(), "evaluate")
    assert "客户: 320 rows decided" in book.message_boxes[0][1]
    assert "合同: 600 rows decided" in book.message_boxes[0][1]
    assert "方案申请" not in book.message_boxes[0][1].split("not decided")[0]
    assert book.sheet("方案申请").grid() == before.sheet("方案申请").grid()  # not sent, not touched


def test_vba_cannot_send_a_sheet_over_32767_rows():
    """Remote.bas keeps the used range's row count in an Integer: past 32,767 rows the
    macro stops (Overflow) before anything is sent."""
    book = Workbook("big.xlsx", [Sheet("客户")], None)  # type: ignore[arg-type]
    book.active = book.sheets[0]
    book.sheets[0].put(32_768, 1, "x")

    def never(*_):
        raise AssertionError("nothing is sent")

    with pytest.raises(VBAError, match="Overflow"):
        remote_bas.run_server_python(book, "http://127.0.0.1:9/xlwings/evaluate", post=never)
    book.sheets[0].put(32_768, 1, None)
    book.sheets[0].cells = book.sheets[0].cells[:32_767]
    book.sheets[0].put(32_767, 1, "x")
    assert remote_bas.request_payload(book)["sheets"][0]["values"][-1] == ["x"]


def test_the_transcription_cites_remote_bas():
    """Every '# NNN' cited beside a line of the VBA transcription names a Remote.bas
    line with the VBA it transcribes (spot checks of the lines kade depends on)."""
    bas = REMOTE_BAS.read_text(encoding="utf-8").splitlines()
    checks = {
        96: 'bookPayload.Add "active_sheet_index", ActiveSheet.Index - 1',
        241: "nRows = .Rows.Count",
        555: "arr(i - 1, j - 1) = WebHelpers.ParseIso(valueRow(j))",
        587: "Set mysheet = wb.Sheets.Add",
        588: 'mysheet.Move After:=Worksheets(action("args")(1) + 1)',
        367: 'action("sheet_position") + 1).Cells(action("start_row") + 1, _',
    }
    for line, text in checks.items():
        assert bas[line - 1].strip() == text, f"Remote.bas:{line} is {bas[line - 1].strip()!r}"
    source = Path(remote_bas.__file__).read_text(encoding="utf-8").split("# WebHelpers.bas")[0]  # then its own lines
    comments = re.findall(r"  # ((?:\d+(?:-\d+)?(?:, )?)+)(?::|$| )", source, flags=re.M)
    cited = {int(n) for comment in comments for n in re.findall(r"\d+", comment)}
    assert {96, 241, 555, 570, 587, 588, 590, 607, 716} <= cited
    assert all(bas[n - 1].strip() for n in cited), "a cited line is blank"


def test_the_docs_macros_are_the_ones_tested():
    docs = DOCS.read_text(encoding="utf-8")
    for line in (
        'RunRemotePython KADE & "why" & ActiveWorksheetQuery(), auth:=TOKEN',
        "For i = 1 To ActiveWorkbook.Worksheets.Count",
        'If ActiveWorkbook.Worksheets(i) Is ActiveSheet Then ActiveWorksheetQuery = "?worksheet=" & i',
        "| INCLUDE | 客户,合同,方案申请,SLA订单 |",
    ):
        assert line in docs, line
    vba = docs.split("```vba")[1].split("```")[0]
    assert not re.search(r"[^\x00-\x7f]", vba), "the VBA must be ASCII: a non-Chinese code page stores 客户 as ??"


# ------------------------------------------------------------ Office Scripts ----


@pytest.mark.parametrize("active", ["first", "middle", "last"])
def test_office_scripts_evaluate(server, expected, node, active):
    before = sample(active)
    run = press_office_scripts(server, before, "evaluate")
    starts = assert_decisions(run.book, expected)
    assert_untouched(before, run.book, starts)
    assert run.book.sheets[-1].name == SUMMARY_SHEET
    assert run.error is not None and "4 row(s) in error" in run.error  # the message: the script's error
    assert max(c["escaped_bytes"] for c in run.calls) <= OFFICE_SCRIPTS_CHUNK_BYTES
    assert run.reply["content_encoding"] == "gzip"  # fetch asks for it


@pytest.mark.parametrize("active", ["first", "middle", "last"])
def test_office_scripts_why(server, node, active):
    before = sample(active)
    run = press_office_scripts(server, before, "why")
    lines = text_sheet(before, run.book, WHY_SHEET)
    assert_explained(lines, active)
    assert run.error is not None and run.error.startswith(lines[1]) and "sheet 'kade why'" in run.error


@pytest.mark.parametrize("active", ["first", "middle", "last"])
def test_office_scripts_check_rules(server, node, active):
    before = sample(active)
    run = press_office_scripts(server, before, "check")
    assert text_sheet(before, run.book, CHECK_SHEET)[0] == f"Check rules: {RULES}"
    assert run.error is not None and "Every finding" in run.error


def test_office_scripts_include_sends_only_the_data_sheets(server, expected, node):
    before = sample("first")
    run = press_office_scripts(server, before, "evaluate", include="客户,合同")
    assert run.book.sheet("SLA订单").grid() == before.sheet("SLA订单").grid()  # not sent, not touched
    assert "客户: 320 rows decided" in run.error and "合同: 600 rows decided" in run.error


def test_office_scripts_5000_rows_in_blocks_under_the_limit(server, node, tmp_path):
    """A 5,000-row 客户 sheet: Excel on the web takes no API call over 5 MB, so the
    decisions arrive in several setValues, each under the block size, and are right."""
    path = repeated_clients(5000, tmp_path / "clients.xlsx")
    run = press_office_scripts(server, Workbook.from_xlsx(path), "evaluate")
    blocks = [c for c in run.calls if c["sheet"] == "客户" and c["rows"] > 1]
    assert len(blocks) >= 2 and max(c["escaped_bytes"] for c in blocks) <= OFFICE_SCRIPTS_CHUNK_BYTES
    assert sum(c["rows"] for c in blocks) == 5001  # the header and every row, once
    expected = engine.evaluate_workbook(engine.load_rules(RULES), path)
    assert_decisions(run.book, expected)
