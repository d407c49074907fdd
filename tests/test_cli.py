"""kade evaluate end to end: real files in, real files out, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import openpyxl
from click.testing import CliRunner

from cli import main
from tests.test_help import COMMANDS
from tests.workbook_factory import small_data, small_model

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_workbook_end_to_end(tmp_path):
    workbook = tmp_path / "key_accounts.xlsx"
    shutil.copy(ROOT / "workbooks" / "key_accounts.xlsx", workbook)
    before = workbook.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "evaluate", str(workbook), "--rules", str(ROOT / "rules")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr  # the sample carries four deliberately bad rows
    assert "client_tier" in proc.stdout and "4 row(s) in error" in proc.stdout
    assert workbook.read_bytes() == before  # the input is never modified
    out = tmp_path / "key_accounts.kade.xlsx"
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames[0] == "kade summary"
    clients = book["客户"]
    header = [c.value for c in next(clients.iter_rows(max_row=1))]
    for column in ("client_tier", "client_tier.rule", "client_tier.reason", "kade.errors"):
        assert column in header
    first = [c.value for c in next(clients.iter_rows(min_row=2, max_row=2))]
    row = dict(zip(header, first))
    assert row["客户名称"] == "中国银联" and row["client_tier"] == "platinum" and row["client_tier.rule"] == "CT-04"
    assert "client score 594 ≥ 450" in row["client_tier.reason"]


def test_exit_0_when_every_row_decided(tmp_path):
    rules = small_model(tmp_path / "rules")
    data = small_data(tmp_path / "ok.xlsx", orders=[["订单编号", "客户编号", "金额"], ["O1", "C1", 10]])
    result = CliRunner().invoke(main, ["evaluate", str(data), "--rules", str(rules), "-o", str(tmp_path / "o.xlsx")])
    assert result.exit_code == 0, result.output
    assert "tier" in result.output and (tmp_path / "o.xlsx").exists()


def test_exit_1_with_row_errors_and_json_output(tmp_path):
    rules = small_model(tmp_path / "rules")
    data = small_data(tmp_path / "d.xlsx")
    out = tmp_path / "d.json"
    result = CliRunner().invoke(main, ["evaluate", str(data), "--rules", str(rules), "-o", str(out)])
    assert result.exit_code == 1
    doc = json.loads(out.read_text(encoding="utf-8"))
    orders = {r["订单编号"]: r for r in doc["sheets"]["订单"]}
    assert orders["O3"]["kade.errors"] == "金额: cannot read '1,2O0' as a number"
    assert orders["O1"]["approver"] == "director"


def test_csv_output_folder(tmp_path):
    rules = small_model(tmp_path / "rules")
    data = small_data(tmp_path / "d.xlsx")
    result = CliRunner().invoke(main, ["evaluate", str(data), "--rules", str(rules), "--format", "csv"])
    assert result.exit_code == 1
    text = (tmp_path / "d.kade" / "客户.csv").read_text(encoding="utf-8-sig")
    assert "tier.reason" in text.splitlines()[0] and "金融" in text


def test_exit_2_on_bad_rules_bad_workbook_and_usage(tmp_path):
    rules = small_model(tmp_path / "rules")
    data = small_data(tmp_path / "d.xlsx")
    runner = CliRunner()
    missing = runner.invoke(main, ["evaluate", str(tmp_path / "nope.xlsx"), "--rules", str(rules)])
    assert missing.exit_code == 2 and "workbook not found" in missing.output
    broken = tmp_path / "broken.xlsx"
    broken.write_text("not excel")
    assert runner.invoke(main, ["evaluate", str(broken), "--rules", str(rules)]).exit_code == 2
    assert runner.invoke(main, ["evaluate", str(data), "--rules", str(tmp_path / "none")]).exit_code == 2
    same = runner.invoke(main, ["evaluate", str(data), "--rules", str(rules), "-o", str(data)])
    assert same.exit_code == 2 and "overwrite the input" in same.output
    assert runner.invoke(main, ["evaluate", str(data), "--format", "pdf"]).exit_code == 2


def test_bad_rule_cell_message_on_stderr(tmp_path):
    from tests.workbook_factory import small_model as model

    bad = ("tier", "clients", "F", [("input", "revenue"), ("output", "tier")], [("T1", ">= 1o0", '"gold"', "")], None)
    rules = model(tmp_path / "rules", {"tier.xlsx": [bad]})
    result = CliRunner().invoke(main, ["evaluate", str(small_data(tmp_path / "d.xlsx")), "--rules", str(rules)])
    assert result.exit_code == 2
    assert "tier.xlsx!tier!B6: expected a number after '>=', got '1o0'" in result.output


def test_help_documents_exit_codes():
    result = CliRunner().invoke(main, ["evaluate", "--help"])
    assert result.exit_code == 0
    for text in (
        "Exit status",
        "every row decided",
        "some rows are in error",
        "bad rule tables",
        "kade evaluate workbooks/key_accounts.xlsx",
    ):
        assert text in result.output


def test_check_command_text_report_json_and_audit(tmp_path):
    workbook = tmp_path / "key_accounts.xlsx"
    shutil.copy(ROOT / "workbooks" / "key_accounts.xlsx", workbook)
    audit_db, runner = tmp_path / "audit.sqlite", CliRunner()
    result = runner.invoke(
        main,
        [
            "check",
            str(workbook),
            "--rules",
            str(ROOT / "rules"),
            "--report",
            str(tmp_path / "check.xlsx"),
            "--audit",
            str(audit_db),
        ],
    )
    assert result.exit_code == 1, result.output  # findings, and three rows that cannot be checked
    assert "143 findings (70 error, 61 warning, 12 info) in 1,820 rows; 3 not checked" in result.output
    assert "合同 HT2026-0006 (row 7)" in result.output and (tmp_path / "check.xlsx").exists()
    assert "check (vectorized)" in runner.invoke(main, ["audit", "list", "--audit", str(audit_db)]).output
    doc = json.loads(
        runner.invoke(
            main, ["check", str(workbook), "--rules", str(ROOT / "rules"), "--format", "json", "--audit", str(audit_db)]
        ).output
    )
    assert doc["totals"]["findings"] == 143 and len(doc["findings"]) == 143 and doc["audit_run"]
    quiet = runner.invoke(
        main, ["check", str(workbook), "--rules", str(ROOT / "rules"), "-q", "--audit", str(audit_db)]
    )
    assert quiet.exit_code == 1 and quiet.output == ""
    same = runner.invoke(main, ["check", str(workbook), "--report", str(workbook)])
    assert same.exit_code == 2 and "overwrite the register" in same.output


def test_check_command_help_has_exit_status_and_examples():
    out = CliRunner().invoke(main, ["check", "--help"]).output
    for text in (
        "Exit status",
        "1  findings",
        "2  a recorded column cannot be checked",
        "kade check workbooks/key_accounts.xlsx",
    ):
        assert text in out


# ------------------------------------------------ exit codes and options --------


def _edit(path: Path, sheet: str, cells: dict) -> Path:
    book = openpyxl.load_workbook(path)
    for cell, value in cells.items():
        book[sheet][cell] = value
    book.save(path)
    return path


def test_rules_diff_exits_1_when_rules_or_row_decisions_differ(tmp_path):
    old, new = small_model(tmp_path / "old"), small_model(tmp_path / "new")
    data = small_data(tmp_path / "d.xlsx")
    same = CliRunner().invoke(main, ["rules", "diff", str(old), str(new), "--against", str(data)])
    assert same.exit_code == 0 and "0 row decision(s) change" in same.output
    _edit(new / "rules.xlsx", "tier", {"B6": ">= 3000"})  # C1 (2,560) is no longer gold
    changed = CliRunner().invoke(main, ["rules", "diff", str(old), str(new), "--against", str(data)])
    assert changed.exit_code == 1 and "2 row decision(s) change" in changed.output
    rules_only = CliRunner().invoke(main, ["rules", "diff", str(old), str(new)])
    assert rules_only.exit_code == 1 and "threshold 1000 → 3000" in rules_only.output


def test_outputs_go_into_folders_that_do_not_exist_yet(tmp_path):
    rules, data = small_model(tmp_path / "rules"), small_data(tmp_path / "d.xlsx")
    exported = CliRunner().invoke(main, ["rules", "export", str(rules), "-o", str(tmp_path / "a" / "b" / "m.dmn")])
    assert exported.exit_code == 0, exported.output
    dmn = ROOT / "tests" / "data" / "camunda" / "dish-decision.dmn11.xml"
    imported = CliRunner().invoke(main, ["rules", "import", str(dmn), "-o", str(tmp_path / "c" / "d" / "r.xlsx")])
    assert imported.exit_code == 0, imported.output
    evaluated = CliRunner().invoke(
        main, ["evaluate", str(data), "--rules", str(rules), "-o", str(tmp_path / "e" / "f" / "out.xlsx")]
    )
    assert evaluated.exit_code == 1 and (tmp_path / "e" / "f" / "out.xlsx").exists()  # rows in error: 1
    run_id = evaluated.output.split("audited as run ")[1].split(";")[0]
    exported_run = CliRunner().invoke(main, ["audit", "export", run_id, "-o", str(tmp_path / "g" / "h" / "run.json")])
    assert exported_run.exit_code == 0 and (tmp_path / "g" / "h" / "run.json").exists()
    assert (tmp_path / "a" / "b" / "m.dmn").exists() and (tmp_path / "c" / "d" / "r.xlsx").exists()


def _audit_options(command: click.Command) -> set[str]:
    return {p.name for p in command.params} & {"audit_location", "no_audit"}


def test_every_command_that_records_a_run_can_skip_it():
    readers = {("explain",), ("audit", "list"), ("audit", "show"), ("audit", "export"), ("audit", "verify")}
    checked = []
    for path in COMMANDS:
        command = main
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        if "audit_location" in _audit_options(command) and path not in readers:
            assert "no_audit" in _audit_options(command), " ".join(path)
            checked.append(path)
    assert {("evaluate",), ("check",), ("serve",)} <= set(checked)


# ------------------------------------------------------ the results workbook ----


def _summary_head(path: Path) -> dict:
    rows = list(openpyxl.load_workbook(path, read_only=True)["kade summary"].iter_rows(values_only=True))
    head = {}
    for row in rows[: [r[0] for r in rows].index(None)]:
        head.setdefault(row[0], []).append([v for v in row[1:] if v is not None])
    return head


def test_the_summary_says_which_run_files_and_hashes_made_it(tmp_path):
    from engine.audit import sha256_file

    rules, data = small_model(tmp_path / "rules"), small_data(tmp_path / "d.xlsx")
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(main, ["evaluate", str(data), "--rules", str(rules), "-o", str(out)])
    run_id = result.output.split("audited as run ")[1].split(";")[0]
    head = _summary_head(out)
    assert head["kade run"] == [[run_id]]
    assert head["workbook"] == [[str(data.resolve())]] and head["workbook sha256"] == [[sha256_file(data)]]
    assert head["rules"] == [
        ["glossary.xlsx", sha256_file(rules / "glossary.xlsx")],
        ["rules.xlsx", sha256_file(rules / "rules.xlsx")],
    ]
    assert head["engine"][0][0].startswith("vectorized (kade ")
    assert head["rows"] == [["clients 3, orders 5"]] and head["rows in error"] == [[2]]
    listed = CliRunner().invoke(main, ["audit", "show", run_id])
    assert head["time"][0][0] in listed.output  # the same run, the same time
    unrecorded = CliRunner().invoke(main, ["evaluate", str(data), "--rules", str(rules), "-o", str(out), "--no-audit"])
    assert unrecorded.exit_code == 1
    assert _summary_head(out)["kade run"] == [["not recorded (the audit trail is off)"]]
    as_json = tmp_path / "out.json"
    CliRunner().invoke(main, ["evaluate", str(data), "--rules", str(rules), "-o", str(as_json), "--no-audit"])
    run = json.loads(as_json.read_text(encoding="utf-8"))["summary"]["run"]
    assert run["workbook_sha256"] == sha256_file(data) and run["rows"] == {"clients": 3, "orders": 5}


def test_a_new_workbook_filters_every_column_and_highlights_error_rows(tmp_path):
    rules, data = small_model(tmp_path / "rules"), small_data(tmp_path / "d.xlsx")
    out = tmp_path / "out.xlsx"
    CliRunner().invoke(main, ["evaluate", str(data), "--rules", str(rules), "-o", str(out), "--new-workbook"])
    orders = openpyxl.load_workbook(out)["订单"]
    header = [c.value for c in orders[1]]
    last = openpyxl.utils.get_column_letter(len(header))
    assert orders.auto_filter.ref == f"A1:{last}6" and header[-1] == "kade.errors"
    [rule] = [r for cf in orders.conditional_formatting for r in cf.rules]
    assert rule.formula == [f"LEN(${last}2)>0"] and rule.dxf.fill.bgColor.rgb == "FFFCE4D6"


def test_inputs_of_other_kinds_keep_their_suffix_in_the_output_name(tmp_path):
    rules, data = small_model(tmp_path / "rules"), small_data(tmp_path / "register.xlsx")
    shutil.copy(data, tmp_path / "register.xlsm")  # another register of the same name
    for name in ("register.xlsx", "register.xlsm"):
        result = CliRunner().invoke(main, ["evaluate", str(tmp_path / name), "--rules", str(rules), "--no-audit"])
        assert result.exit_code == 1, result.output
    assert (tmp_path / "register.kade.xlsx").exists() and (tmp_path / "register.xlsm.kade.xlsx").exists()
