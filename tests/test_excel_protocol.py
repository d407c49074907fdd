"""The xlwings wire protocol and the three handlers, in process: each button is
pressed through xlwings' VBA client (Remote.bas, transcribed in
tests/clients/remote_bas.py) on a model of the workbook, the server side is
kade's PayloadBook and handler, and the assertions are on the workbook."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

import engine
from engine.errors import KadeError
from engine.evaluation.results import result_frame
from engine.excel import handlers
from engine.excel.errors import PayloadError, SelectionError
from engine.excel.protocol import OFFICE_SCRIPTS, OFFICE_SCRIPTS_CHUNK_BYTES, VBA, PayloadBook
from tests.clients import remote_bas
from tests.clients.excel import Workbook
from tests.workbook_factory import small_data, small_model


@pytest.fixture
def model(tmp_path):
    return engine.load_rules(small_model(tmp_path / "rules"))


@pytest.fixture
def data(tmp_path):
    return small_data(tmp_path / "register.xlsx")


def _press(book: Workbook, button, rules, **options):
    """``button`` pressed in ``book`` through the VBA client; the request is answered
    in process as `kade serve` answers it (a KadeError is a 400 with its text).
    Returns (what the handler returned, the actions sent, the message boxes)."""
    done: dict = {}

    def post(url: str, body: bytes, headers: dict):
        payload = PayloadBook(json.loads(body))
        try:
            done["result"] = button(payload, rules)
        except KadeError as exc:
            return 400, f"kade: {exc}".encode(), "Bad Request"
        done["actions"] = payload.response()["actions"]
        return 200, json.dumps(payload.response(), ensure_ascii=False).encode("utf-8"), "OK"

    remote_bas.run_server_python(book, "http://kade.invalid/xlwings/button", post=post, **options)
    return done.get("result"), done.get("actions"), book.message_boxes


def _column(book: Workbook, sheet: str, header) -> list:
    grid = book.sheet(sheet).grid()
    c = grid[0].index(header)
    return [row[c] if c < len(row) else None for row in grid[1:]]


def _payload(book: Workbook, exclude: list[str] | None = None) -> dict:
    """What the VBA client sends (Remote.bas lines 89-258), after JSON."""
    return json.loads(remote_bas.ConvertToJson(remote_bas.request_payload(book, exclude)))


# ---------------------------------------------------------------- payloads ----


def test_vba_payload_nulls_iso_dates_and_excluded_sheets(data):
    book = Workbook.from_xlsx(data)
    sheets = {s["name"]: s["values"] for s in _payload(book, ["客户"])["sheets"]}
    assert sheets["客户"] == [[]]
    orders = sheets["订单"]
    assert orders[1][4] == "2026-01-31" and orders[2][4] is None  # text stays text, empty is null
    assert orders[1][2] == 500  # numbers as VBA writes them
    book.sheet("订单").put(2, 5, dt.datetime(2026, 1, 31))
    assert _payload(book)["sheets"][1]["values"][1][4] == "2026-01-31T00:00:00.000Z"
    assert PayloadBook(_payload(book)).values("订单")[1][4] == dt.datetime(2026, 1, 31)


def test_decoding_turns_iso_text_into_dates_and_blank_text_into_empty():
    payload = {
        "client": OFFICE_SCRIPTS,
        "book": {"name": "b.xlsx", "active_sheet_index": 0, "selection": "C7"},
        "sheets": [{"name": "S", "values": [["h1", "h2"], ["2026-01-31T00:00:00.000Z", ""], ["x", 3]]}],
    }
    book = PayloadBook(payload)
    assert book.values("S") == [["h1", "h2"], [dt.datetime(2026, 1, 31), None], ["x", 3]]
    assert book.selection() == (6, 2)


@pytest.mark.parametrize(
    "address, expected",
    [
        ("A1", (0, 0)),
        ("$AB$12", (11, 27)),
        ("B5:D9", (4, 1)),
        ("C:C", (0, 2)),
        ("7:7", (6, 0)),
        ("B2:C3,E1", (1, 1)),
        (None, None),
        ("", None),
    ],
)
def test_selection_addresses(address, expected):
    payload = {"book": {"active_sheet_index": 0, "selection": address}, "sheets": [{"name": "S", "values": [[]]}]}
    assert PayloadBook(payload).selection() == expected


@pytest.mark.parametrize(
    "payload, words",
    [
        ([], "expected a JSON object"),
        ({"book": {}}, "no 'sheets'"),
        ({"book": {}, "sheets": [{"name": "S"}]}, "no name or no values"),
        ({"book": {"active_sheet_index": -1}, "sheets": [{"name": "S", "values": [[]]}]}, "not a sheet position"),
        ({"book": {"active_sheet_index": "x"}, "sheets": [{"name": "S", "values": [[]]}]}, "not a sheet position"),
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(payload, words):
    with pytest.raises(PayloadError, match=words):
        PayloadBook(payload)


def test_an_active_tab_past_the_worksheets_is_a_chart_sheet_count():
    """VBA's active_sheet_index counts chart sheets, its sheets do not: only the button
    that needs the active sheet fails, and says how to fix it."""
    payload = {"client": VBA, "book": {"active_sheet_index": 2}, "sheets": [{"name": "S", "values": [["a"]]}] * 2}
    book = PayloadBook(payload)
    assert book.sheet_names() == ["S", "S"]
    with pytest.raises(PayloadError, match="chart sheets.*worksheet=N"):
        book.active_sheet()
    assert PayloadBook(payload, active_worksheet=1).active_sheet() == "S"
    with pytest.raises(PayloadError, match="worksheet=3 is not one of the 2"):
        PayloadBook(payload, active_worksheet=2).active_sheet()


@pytest.mark.parametrize("client", [VBA, OFFICE_SCRIPTS])
def test_a_new_sheet_goes_last_in_both_clients(client):
    payload = {
        "client": client,
        "book": {"active_sheet_index": 0},
        "sheets": [{"name": n, "values": [[]]} for n in "ABC"],
    }
    book = PayloadBook(payload)
    book.add_sheet("kade why")
    book.write("kade why", 0, 0, [["x"]])
    add, write = book.response()["actions"]
    assert add["func"] == "addSheet" and add["args"] == [3, "kade why"]  # len(sheets), as xlwings' own server
    assert write["sheet_position"] == 3


def test_text_excel_would_turn_into_something_else_is_sent_as_text():
    payload = {"client": VBA, "book": {"active_sheet_index": 0}, "sheets": [{"name": "S", "values": [["a"]]}]}
    book = PayloadBook(payload)
    texts = ["=SUM(A1)", "-5 days", "+1", "@x", "'quoted", "001", "1-2", "2026/1/31", "50%", "TRUE", "3:30"]
    book.write("S", 0, 0, [texts + ["platinum", "CT-03", "金融", "", 9.0, 2.5, True]])
    sent = book.response()["actions"][0]["values"][0]
    assert sent[: len(texts)] == ["'" + t for t in texts]
    assert sent[len(texts) :] == ["platinum", "CT-03", "金融", "", 9, 2.5, True]


def test_vba_gets_numbers_it_reads_as_numbers():
    """VBA-Web reads a JSON number of 16+ characters (17+ with a point) as text."""
    payload = {"client": VBA, "book": {"active_sheet_index": 0}, "sheets": [{"name": "S", "values": [["a"]]}]}
    book = PayloadBook(payload)
    values = [0.1 + 0.2, 72.30000000000001, -1234567.890123456, 1 / 3, -1e-4 / 3, 1e20, 12345678901234.0]
    book.write("S", 0, 0, [values])
    reply = json.dumps(book.response())
    parsed = remote_bas.ParseJson(reply)("actions")(1)("values")(1)
    assert all(isinstance(v, float) for v in parsed), list(parsed)  # numbers, not text
    assert parsed[:2] == [0.3, 72.3]  # what Excel shows anyway (15 digits)
    assert [abs(p - v) <= abs(v) * 1e-9 for p, v in zip(parsed, values)] == [True] * len(values)


def test_office_scripts_writes_come_in_blocks_under_the_limit():
    payload = {"client": OFFICE_SCRIPTS, "book": {"active_sheet_index": 0}, "sheets": [{"name": "S", "values": [[]]}]}
    book = PayloadBook(payload)
    row = ["理由 " * 200, 1.5, "x"]  # about 3.6 KB escaped
    book.write("S", 0, 2, [row] * 1500)
    blocks = book.response()["actions"]
    assert len(blocks) >= 1 + len(json.dumps([row] * 1500)) // OFFICE_SCRIPTS_CHUNK_BYTES >= 2
    assert [b["start_row"] for b in blocks] == [0] + [
        sum(b["row_count"] for b in blocks[:i]) for i in range(1, len(blocks))
    ]
    assert sum(b["row_count"] for b in blocks) == 1500 and {b["start_column"] for b in blocks} == {2}
    sizes = [len(json.dumps(b["values"], separators=(",", ":"))) for b in blocks]
    assert max(sizes) <= OFFICE_SCRIPTS_CHUNK_BYTES < sizes[0] + len(json.dumps(row, separators=(",", ":"))) + 1
    vba = PayloadBook(payload | {"client": VBA})
    vba.write("S", 0, 2, [row] * 1500)
    assert len(vba.response()["actions"]) == 1  # VBA takes any size in one piece


def test_office_scripts_gets_blank_text_for_empty_cells_and_every_message():
    payload = {
        "client": OFFICE_SCRIPTS,
        "book": {"active_sheet_index": 0},
        "sheets": [{"name": "S", "values": [["a"]]}],
    }
    book = PayloadBook(payload)
    book.message("look", "kade")
    book.write("S", 1, 0, [[None, float("nan"), dt.datetime(2026, 2, 1)]])
    actions = book.response()["actions"]
    assert actions[0]["values"] == [["", "", "2026-02-01"]]
    assert [a["func"] for a in actions] == ["setValues", "alert"] and actions[1]["args"][0] == "look"  # alerts last


# ---------------------------------------------------------------- evaluate ----


def test_evaluate_writes_the_same_decisions_as_kade_evaluate(data, model):
    expected = engine.evaluate_workbook(model, data)
    book = Workbook.from_xlsx(data)
    outcome, actions, messages = _press(book, handlers.evaluate, model)
    assert book.sheet("订单").grid()[0] == [
        "订单编号",
        "客户编号",
        "金额",
        "加急",
        "交付日期",
        "approver",
        "approval.rule",
        "approval.reason",
        "kade.errors",
    ]
    frame = result_frame(expected, "orders")
    assert _column(book, "订单", "approver") == frame["approver"].tolist()
    assert _column(book, "订单", "approval.rule") == frame["approval.rule"].tolist()
    assert _column(book, "订单", "approval.reason")[0] == frame["approval.reason"][0]
    errors = _column(book, "订单", "kade.errors")
    assert errors[0] is None and "1,2O0" in errors[2] and "C9" in errors[3]
    assert _column(book, "客户", "tier") == ["gold", "silver", "silver"]
    orders = book.sheet("订单")
    assert orders.get(2, 1) == "O1" and orders.get(4, 3) == "1,2O0"  # the data is untouched
    assert orders.fills[(1, 6)] == "#C6EFCE" and orders.fills[(1, 9)] == "#F8CBAD"
    assert orders.fills[(4, 9)] == "#FCE4D6" and (2, 9) not in orders.fills
    assert outcome.error_rows == 2
    assert len(messages) == 1 and "订单: 5 rows decided" in messages[0][1] and "2 row(s) in error" in messages[0][1]


def test_pressing_evaluate_again_overwrites_its_columns(data, model):
    book = Workbook.from_xlsx(data)
    _press(book, handlers.evaluate, model)
    book.sheet("订单").put(2, 3, 50)  # O1 becomes a small order
    _press(book, handlers.evaluate, model)
    headers = book.sheet("订单").grid()[0]
    assert headers.count("approver") == 1 and len(headers) == 9
    assert _column(book, "订单", "approver")[0] == "clerk"


def test_a_removed_error_loses_its_colour_on_the_next_run(data, model):
    book = Workbook.from_xlsx(data)
    _press(book, handlers.evaluate, model)
    assert book.sheet("订单").fills[(4, 9)] == "#FCE4D6"
    book.sheet("订单").put(4, 3, 120)
    _press(book, handlers.evaluate, model)
    assert book.sheet("订单").get(4, 9) is None and (4, 9) not in book.sheet("订单").fills


def test_a_missing_column_is_an_error_and_nothing_is_written(tmp_path, model):
    path = small_data(tmp_path / "bad.xlsx", orders=[["订单编号", "客户编号", "加急"], ["O1", "C1", "是"]])
    book = Workbook.from_xlsx(path)
    before = book.copy()
    _, actions, messages = _press(book, handlers.evaluate, model)
    assert actions is None and messages[0][0] == "Error" and "金额" in messages[0][1]
    assert [s.cells for s in book.sheets] == [s.cells for s in before.sheets]


# --------------------------------------------------------------------- why ----


def test_why_explains_the_selected_row(data, model):
    book = Workbook.from_xlsx(data, active="订单", selection="C5:D5")
    text, _, messages = _press(book, handlers.why, model)
    assert text.startswith("orders O4 (sheet row 5)")
    why = [r[0] for r in book.sheet("kade why").grid()]
    assert why[0].startswith("Why? 订单 row 5") and any("C9 not found" in (line or "") for line in why)
    book.active, book.selection = book.sheet("订单"), "B6"
    _, _, messages = _press(book, handlers.why, model)
    assert "amount 150 ≥ 100 and tier silver → manager" in messages[-1][1]  # the row's own values, in words
    sheet = [r[0] for r in book.sheet("kade why").grid() if r[0]]
    assert any(line.strip().startswith("reason:") and "150" in line for line in sheet)
    title, message = messages[0]
    assert title == "kade: why?" and "orders O4" in message and "sheet 'kade why'" in message


def test_why_shows_what_would_change_it_on_its_sheet_but_not_in_the_message(data, model):
    book = Workbook.from_xlsx(data, active="订单", selection="A6")
    _, _, messages = _press(book, handlers.why, model)
    lines = [r[0] or "" for r in book.sheet("kade why").grid()]
    assert any(line.strip() == "what would change it:" for line in lines)
    assert "what would change it:" not in messages[0][1] and "approver = manager  (rule A2)" in messages[0][1]


def test_why_twice_replaces_the_explanation(data, model):
    book = Workbook.from_xlsx(data, active="订单", selection="A6")
    _press(book, handlers.why, model)
    book.active, book.selection = book.sheet("订单"), "A2"
    _press(book, handlers.why, model)
    lines = [r[0] for r in book.sheet("kade why").grid() if r[0]]
    assert lines[0].startswith("Why? 订单 row 2") and not any("O5" in line for line in lines)
    assert [s.name for s in book.sheets].count("kade why") == 1


@pytest.mark.parametrize(
    "sheet, selection, words",
    [
        ("订单", "A1", "header row"),
        ("订单", "A9", "below the data"),
        ("订单", None, "select a cell"),
    ],
)
def test_why_needs_a_data_row(data, model, sheet, selection, words):
    book = PayloadBook(_payload(Workbook.from_xlsx(data, active=sheet, selection=selection)))
    with pytest.raises(SelectionError, match=words):
        handlers.why(book, model)


def test_why_on_a_sheet_kade_does_not_decide(data, model):
    book = Workbook.from_xlsx(data, selection="A2")
    notes = book.Sheets_Add()  # a new sheet, active
    notes.Name = "notes"
    notes.put(1, 1, "hello")
    with pytest.raises(SelectionError, match="no rows on sheet 'notes'.*客户, 订单"):
        handlers.why(PayloadBook(_payload(book)), model)


# ------------------------------------------------------------------- check ----


def test_check_reports_rule_problems_on_its_sheet(data, tmp_path):
    rules = small_model(tmp_path / "rules")
    book = Workbook.from_xlsx(data)
    report, _, messages = _press(book, lambda payload, _: handlers.check_rules(payload, rules), None)
    lines = [r[0] for r in book.sheet("kade rules check").grid() if r[0]]
    assert lines[0] == f"Check rules: {rules}"
    assert lines[-1] == report.render_text().rstrip().splitlines()[-1]
    assert messages[0][0] == "kade: check rules" and lines[-1] in messages[0][1]


def test_check_on_unreadable_rules_says_so(data, tmp_path):
    book = PayloadBook(_payload(Workbook.from_xlsx(data)))
    handlers.check_rules(book, tmp_path / "no-such-rules")
    assert "cannot check the rules" in book.response()["actions"][-1]["args"][0]


def test_long_messages_are_clipped_to_what_a_message_box_shows():
    assert len(handlers._clip("x" * 5000)) == handlers.MESSAGE_LIMIT
    assert handlers._clip("short") == "short"


def test_decisions_over_a_sheet_not_sent_are_listed_once_per_cause(data, model):
    _, _, messages = _press(Workbook.from_xlsx(data), handlers.evaluate, model, include="客户")
    lines = messages[0][1].splitlines()
    assert lines[0] == "客户: 3 rows decided (tier)"
    assert lines[1].startswith("not decided (the workbook has no sheet 订单") and lines[1].endswith("): approval")


def test_only_the_desktop_adapter_loads_xlwings(tmp_path, data, model):
    """The licence boundary: serving, building and writing in place never import
    xlwings (so never xlwings.pro); the desktop module imports it only when a button runs."""
    import subprocess

    script = f"""
import sys, json
from engine.excel import build, desktop, handlers, inplace, protocol, server
from tests.clients import excel, remote_bas
import engine
rules = engine.load_rules({str(model.sources[0].rsplit("/", 1)[0])!r})
payload = remote_bas.ConvertToJson(remote_bas.request_payload(excel.Workbook.from_xlsx({str(data)!r})))
book = protocol.PayloadBook(json.loads(payload))
handlers.evaluate(book, rules)
server.create_app(server.RulesSource({str(model.sources[0].rsplit("/", 1)[0])!r}))
build.build_workbook({str(tmp_path / "b.xlsm")!r}, rules, {str(data)!r})
inplace.evaluate_in_place({str(data)!r}, rules)
print(sorted(m for m in sys.modules if m.startswith("xlwings")))
"""
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": root},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
