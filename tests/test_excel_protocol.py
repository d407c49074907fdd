"""The xlwings wire protocol and the three handlers, in process: payloads built
from real .xlsx files as the VBA / Office Scripts clients build them, actions
replayed onto the file with openpyxl, assertions on the cells."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import openpyxl
import pytest

import engine
from engine.evaluation.results import result_frame
from engine.excel import handlers
from engine.excel.clients import OFFICE_SCRIPTS, apply_actions, payload_from_xlsx
from engine.excel.errors import PayloadError, SelectionError
from engine.excel.protocol import PayloadBook
from tests.workbook_factory import small_data, small_model


@pytest.fixture
def model(tmp_path):
    return engine.load_rules(small_model(tmp_path / "rules"))


@pytest.fixture
def data(tmp_path):
    return small_data(tmp_path / "register.xlsx")


def _wire(payload: dict) -> dict:
    """What the server receives: the payload after a JSON round trip."""
    return json.loads(json.dumps(payload, ensure_ascii=False))


def _press(path, button, rules, **payload_options):
    book = PayloadBook(_wire(payload_from_xlsx(path, **payload_options)))
    result = button(book, rules)
    actions = _wire(book.response())["actions"]
    wb = openpyxl.load_workbook(path)
    alerts = apply_actions(wb, actions)
    wb.save(path)
    return result, actions, alerts, openpyxl.load_workbook(path)


def _column(ws, header):
    headers = [c.value for c in ws[1]]
    c = headers.index(header) + 1
    return [ws.cell(r, c).value for r in range(2, ws.max_row + 1)]


# ---------------------------------------------------------------- payloads ----


def test_vba_payload_nulls_iso_dates_and_excluded_sheets(data):
    payload = payload_from_xlsx(data, exclude=["客户"])
    sheets = {s["name"]: s["values"] for s in payload["sheets"]}
    assert sheets["客户"] == [[]]
    orders = sheets["订单"]
    assert orders[1][4] == "2026-01-31" and orders[2][4] is None  # text stays text, empty is null
    wb = openpyxl.load_workbook(data)
    wb["订单"]["E2"] = dt.datetime(2026, 1, 31)
    wb.save(data)
    assert payload_from_xlsx(data)["sheets"][1]["values"][1][4] == "2026-01-31T00:00:00.000Z"


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


def test_office_scripts_excluded_sheet_repeating_the_previous_one_is_treated_as_excluded(data):
    payload = _wire(payload_from_xlsx(data, client=OFFICE_SCRIPTS, exclude=["订单"]))
    assert payload["sheets"][1]["values"] == payload["sheets"][0]["values"]  # xlwings.ts 0.37.8 does this
    book = PayloadBook(payload)
    assert book.values("订单") == [] and book.values("客户")[0] == ["客户编号", "年收入", "行业"]


@pytest.mark.parametrize(
    "payload, words",
    [
        ([], "expected a JSON object"),
        ({"book": {}}, "no 'sheets'"),
        ({"book": {}, "sheets": [{"name": "S"}]}, "no name or no values"),
        ({"book": {"active_sheet_index": 3}, "sheets": [{"name": "S", "values": [[]]}]}, "active_sheet_index 3"),
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(payload, words):
    with pytest.raises(PayloadError, match=words):
        PayloadBook(payload)


def test_office_scripts_gets_blank_text_for_empty_cells_and_no_mere_notes():
    payload = {
        "client": OFFICE_SCRIPTS,
        "book": {"active_sheet_index": 0},
        "sheets": [{"name": "S", "values": [["a"]]}],
    }
    book = PayloadBook(payload)
    book.write("S", 1, 0, [[None, float("nan"), dt.datetime(2026, 2, 1)]])
    book.message("note", "kade", important=False)
    book.message("look", "kade", important=True)
    actions = book.response()["actions"]
    assert actions[0]["values"] == [["", "", "2026-02-01"]]
    assert [a["func"] for a in actions] == ["setValues", "alert"] and actions[1]["args"][0] == "look"


# ---------------------------------------------------------------- evaluate ----


def test_evaluate_writes_the_same_decisions_as_kade_evaluate(data, model):
    expected = engine.evaluate_workbook(model, data)
    outcome, actions, alerts, wb = _press(data, handlers.evaluate, model)
    orders = wb["订单"]
    headers = [c.value for c in orders[1]]
    assert headers == [
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
    assert _column(orders, "approver") == frame["approver"].tolist()
    assert _column(orders, "approval.rule") == frame["approval.rule"].tolist()
    assert _column(orders, "approval.reason")[0] == frame["approval.reason"][0]
    errors = _column(orders, "kade.errors")
    assert errors[0] is None and "1,2O0" in errors[2] and "C9" in errors[3]
    assert _column(wb["客户"], "tier") == ["gold", "silver", "silver"]
    assert orders["A2"].value == "O1" and orders["C4"].value == "1,2O0"  # the data is untouched
    assert orders["F1"].fill.fgColor.rgb.endswith("C6EFCE") and orders["I1"].fill.fgColor.rgb.endswith("F8CBAD")
    assert orders["I4"].fill.fgColor.rgb.endswith("FCE4D6") and orders["I2"].fill.fill_type is None
    assert outcome.error_rows == 2
    assert len(alerts) == 1 and "订单: 5 rows decided" in alerts[0][1] and "2 row(s) in error" in alerts[0][1]


def test_pressing_evaluate_again_overwrites_its_columns(data, model):
    _press(data, handlers.evaluate, model)
    wb = openpyxl.load_workbook(data)
    wb["订单"]["C2"] = 50  # O1 becomes a small order
    wb.save(data)
    _, _, _, wb = _press(data, handlers.evaluate, model)
    headers = [c.value for c in wb["订单"][1]]
    assert headers.count("approver") == 1 and len(headers) == 9
    assert _column(wb["订单"], "approver")[0] == "clerk"


def test_a_removed_error_loses_its_colour_on_the_next_run(data, model):
    _press(data, handlers.evaluate, model)
    wb = openpyxl.load_workbook(data)
    assert wb["订单"]["I4"].fill.fill_type == "solid"
    wb["订单"]["C4"] = 120
    wb.save(data)
    _, _, _, wb = _press(data, handlers.evaluate, model)
    assert wb["订单"]["I4"].value is None and wb["订单"]["I4"].fill.fill_type is None


def test_a_missing_column_is_an_error_and_nothing_is_written(tmp_path, model):
    path = small_data(tmp_path / "bad.xlsx", orders=[["订单编号", "客户编号", "加急"], ["O1", "C1", "是"]])
    book = PayloadBook(_wire(payload_from_xlsx(path)))
    with pytest.raises(engine.MissingColumnError, match="金额"):
        handlers.evaluate(book, model)
    assert book.response()["actions"] == []


# --------------------------------------------------------------------- why ----


def test_why_explains_the_selected_row(data, model):
    text, actions, alerts, wb = _press(data, handlers.why, model, active_sheet="订单", selection="C5:D5")
    assert text.startswith("orders O4 (sheet row 5)")
    why = [r[0] for r in wb["kade why"].iter_rows(values_only=True)]
    assert why[0].startswith("Why? 订单 row 5") and any("C9 not found" in (line or "") for line in why)
    _, _, other, _ = _press(data, handlers.why, model, active_sheet="订单", selection="B6")
    assert "amount 150 ≥ 100 and tier silver → manager" in other[0][1]  # the reason: the row's own values, in words
    sheet = [r[0] for r in openpyxl.load_workbook(data)["kade why"].iter_rows(values_only=True) if r[0]]
    assert any(line.strip().startswith("reason:") and "150" in line for line in sheet)
    title, message = alerts[0]
    assert title == "kade: why?" and "orders O4" in message and "sheet 'kade why'" in message


def test_why_shows_what_would_change_it_on_its_sheet_but_not_in_the_message(data, model):
    _, _, alerts, wb = _press(data, handlers.why, model, active_sheet="订单", selection="A6")
    lines = [r[0] or "" for r in wb["kade why"].iter_rows(values_only=True)]
    assert any(line.strip() == "what would change it:" for line in lines)
    assert "what would change it:" not in alerts[0][1] and "approver = manager  (rule A2)" in alerts[0][1]


def test_why_twice_replaces_the_explanation(data, model):
    _press(data, handlers.why, model, active_sheet="订单", selection="A6")
    _, _, _, wb = _press(data, handlers.why, model, active_sheet="订单", selection="A2")
    lines = [r[0] for r in wb["kade why"].iter_rows(values_only=True) if r[0]]
    assert lines[0].startswith("Why? 订单 row 2") and not any("O5" in line for line in lines)
    assert wb.sheetnames.count("kade why") == 1


@pytest.mark.parametrize(
    "sheet, selection, words",
    [
        ("订单", "A1", "header row"),
        ("订单", "A9", "below the data"),
        ("订单", None, "select a cell"),
    ],
)
def test_why_needs_a_data_row(data, model, sheet, selection, words):
    book = PayloadBook(_wire(payload_from_xlsx(data, active_sheet=sheet, selection=selection)))
    with pytest.raises(SelectionError, match=words):
        handlers.why(book, model)


def test_why_on_a_sheet_kade_does_not_decide(data, model):
    wb = openpyxl.load_workbook(data)
    wb.create_sheet("notes")["A1"] = "hello"
    wb.save(data)
    book = PayloadBook(_wire(payload_from_xlsx(data, active_sheet="notes", selection="A2")))
    with pytest.raises(SelectionError, match="no rows on sheet 'notes'.*客户, 订单"):
        handlers.why(book, model)


# ------------------------------------------------------------------- check ----


def test_check_reports_rule_problems_on_its_sheet(data, tmp_path):
    rules = small_model(tmp_path / "rules")
    book = PayloadBook(_wire(payload_from_xlsx(data)))
    report = handlers.check_rules(book, rules)
    wb = openpyxl.load_workbook(data)
    alerts = apply_actions(wb, book.response()["actions"])
    lines = [r[0] for r in wb["kade rules check"].iter_rows(values_only=True) if r[0]]
    assert lines[0] == f"Check rules: {rules}"
    assert lines[-1] == report.render_text().rstrip().splitlines()[-1]
    assert alerts[0][0] == "kade: check rules" and lines[-1] in alerts[0][1]


def test_check_on_unreadable_rules_says_so(data, tmp_path):
    book = PayloadBook(_wire(payload_from_xlsx(data)))
    handlers.check_rules(book, tmp_path / "no-such-rules")
    assert "cannot check the rules" in book.response()["actions"][-1]["args"][0]


def test_long_messages_are_clipped_to_what_a_message_box_shows():
    assert len(handlers._clip("x" * 5000)) == handlers.MESSAGE_LIMIT
    assert handlers._clip("short") == "short"


def test_decisions_over_a_sheet_not_sent_are_listed_once_per_cause(data, model):
    _, _, alerts, _ = _press(data, handlers.evaluate, model, include=["客户"])
    lines = alerts[0][1].splitlines()
    assert lines[0] == "客户: 3 rows decided (tier)"
    assert lines[1].startswith("not decided (the workbook has no sheet 订单") and lines[1].endswith("): approval")


def test_only_the_desktop_adapter_loads_xlwings(tmp_path, data, model):
    """The licence boundary: serving, building and writing in place never import
    xlwings (so never xlwings.pro); the desktop module imports it only when a button runs."""
    import subprocess

    script = f"""
import sys, json
from engine.excel import build, clients, desktop, handlers, inplace, protocol, server
import engine
rules = engine.load_rules({str(model.sources[0].rsplit("/", 1)[0])!r})
book = protocol.PayloadBook(json.loads(json.dumps(clients.payload_from_xlsx({str(data)!r}))))
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
