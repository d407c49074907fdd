"""Audit trail: runs and rows recorded, hash chain verified, tampering found,
concurrent writers, SQLite and a real PostgreSQL server, explain/audit commands."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from cli import main
from engine import audit
from tests.workbook_factory import APPROVAL, TIER, small_data, small_model, write_decision_sheets

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def model(tmp_path):
    return small_model(tmp_path / "rules"), small_data(tmp_path / "d.xlsx")


def evaluate_cli(rules, data, *extra):
    return CliRunner().invoke(
        main, ["evaluate", str(data), "--rules", str(rules), "-o", str(data.with_suffix(".out.xlsx")), *extra]
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "trail.sqlite")
    return request.getfixturevalue("pg_url")


def test_run_and_rows_are_recorded(model, location):
    rules, data = model
    result = evaluate_cli(rules, data, "--audit", location)
    assert result.exit_code == 1 and "audited as run" in result.output
    with _open(location) as store:
        (run,) = store.runs()
        assert run["command"] == "evaluate" and run["engine"] == "vectorized"
        assert run["workbook_sha256"] == audit.sha256_file(data)
        assert {Path(f["path"]).name for f in run["rule_files"]} == {"glossary.xlsx", "rules.xlsx"}
        assert all(len(f["sha256"]) == 64 for f in run["rule_files"])
        assert run["rows"] == {"clients": 3, "orders": 5} and run["end_rows"] == 8
        ((entity, row),) = store.rows(run["run_id"], "C1")
        assert entity == "clients" and row["tier.tier"] == "gold" and row["tier.rule"] == "T1"
        assert run["annotations"]["tier"]["T1"] == "large finance clients"
        assert row["in.revenue"] == 2560 and row["in.industry"] == "金融"
        ((_, c3),) = store.rows(run["run_id"], "C3")
        # the rule that would have made the client gold, kept as its id (words are made when explained)
        assert c3["tier.near_misses"] == "T1"
        ((_, o1),) = store.rows(run["run_id"], "O1")
        assert o1["in.tier"] == "gold"  # a value from the client row (its decision) is kept with the order
        ((_, o3),) = store.rows(run["run_id"], "O3")
        assert o3["approval.error"] == "金额: cannot read '1,2O0' as a number"
        assert (
            o3["approval.approver"] is None and store.rows(run["run_id"], "O1")[0][1]["approval.approver"] == "director"
        )
        assert store.verify().ok


class _open:
    def __init__(self, location):
        self.store = audit.open_store(location)

    def __enter__(self):
        return self.store

    def __exit__(self, *exc):
        self.store.close()


def _tamper(location: str, sql: str, params=()):
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), params)
    else:
        with sqlite3.connect(location) as conn:
            conn.execute(sql, params)


def _flip_a_byte(location: str):
    """Change one byte of the first row chunk (as someone editing the database would)."""
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location) as conn:
            payload = bytes(conn.execute("SELECT payload FROM kade_audit WHERE seq = 2").fetchone()[0])
    else:
        with sqlite3.connect(location) as conn:
            payload = conn.execute("SELECT payload FROM kade_audit WHERE seq = 2").fetchone()[0]
    changed = payload[:-9] + bytes([payload[-9] ^ 1]) + payload[-8:]
    _tamper(location, "UPDATE kade_audit SET payload = ? WHERE seq = 2", (changed,))


@pytest.mark.parametrize(
    "attack, expected",
    [
        ("flip", "entry 2 (run {run}, rows n=3 C1..C3) was altered"),
        (
            "UPDATE kade_audit SET row_key = 'n=3 C1..C4' WHERE seq = 2",
            "entry 2 (run {run}, rows n=3 C1..C4) was altered",
        ),
        ("DELETE FROM kade_audit WHERE seq = 4", "entry 4 is missing"),
        ("UPDATE kade_audit SET seq = seq + 1000 WHERE seq = 5", "entry 5 is missing"),
        ("DELETE FROM kade_audit WHERE seq >= 8", "has no end entry"),
    ],
)
def test_verify_finds_tampering(model, location, attack, expected):
    rules, data = model
    evaluate_cli(rules, data, "--audit", location)
    evaluate_cli(rules, data, "--audit", location)
    with _open(location) as store:
        run = store.runs()[0]["run_id"]
        assert store.verify().ok and store.verify().checked == 8
    if attack == "flip":
        _flip_a_byte(location)
    else:
        _tamper(location, attack)
    result = CliRunner().invoke(main, ["audit", "verify", "--audit", location])
    assert result.exit_code == 1
    assert expected.format(run=run) in result.output


def test_inserted_record_is_found(model, tmp_path):
    rules, data = model
    location = str(tmp_path / "t.sqlite")
    evaluate_cli(rules, data, "--audit", location)
    with sqlite3.connect(location) as conn:
        # a forger shifts the later entries and writes a new one with a correct-looking hash for its own content
        conn.execute("UPDATE kade_audit SET seq = seq + 100 WHERE seq > 2")
        conn.execute("UPDATE kade_audit SET seq = seq - 99 WHERE seq > 100")
        prev, run_id = conn.execute("SELECT hash, run_id FROM kade_audit WHERE seq = 2").fetchone()
        payload = b"forged rows"
        digest = audit.entry_hash(3, run_id, "rows", "clients", "n=1 FAKE..FAKE", payload, prev)
        conn.execute(
            "INSERT INTO kade_audit VALUES (3, ?, 'rows', 'clients', 'n=1 FAKE..FAKE', ?, ?, ?)",
            (run_id, payload, prev, digest),
        )
    result = CliRunner().invoke(main, ["audit", "verify", "--audit", location])
    assert result.exit_code == 1 and "entry 4 does not follow entry 3" in result.output


WRITER = """
import sys
sys.path.insert(0, {root!r})
import engine
from engine import audit
rules = engine.load_rules({rules!r})
evaluation = engine.evaluate_workbook(rules, {data!r}, trace=True)
store = audit.open_store({location!r})
for _ in range(8):
    audit.record(store, evaluation, command="evaluate", engine="vectorized", origin=audit.Origin(workbook={data!r}), version="test")
store.close()
"""


def test_two_processes_writing_at_once_lose_nothing(model, location):
    rules, data = model
    code = WRITER.format(root=str(ROOT), rules=str(rules), data=str(data), location=location)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    with _open(location) as store:
        result = store.verify()
        assert result.ok, result.problem
        assert len(store.runs()) == 16 and result.checked == 16 * 4
        assert all(len(store.rows(run["run_id"])) == 8 for run in store.runs())


def test_explain_from_audit_and_fresh(model):
    rules, data = model
    evaluate_cli(rules, data)
    out = CliRunner().invoke(main, ["explain", str(data), "--row", "C3"])
    assert out.exit_code == 0, out.output
    assert "tier: tier = silver" in out.output and "rule:        T2" in out.output
    assert "why:         everyone else" in out.output
    assert "reason:      any case → silver (rule T2: everyone else)" in out.output
    assert "what would change it:\n      - would be gold if revenue were ≥ 1,000 (it is 50) — rule T1" in out.output
    assert "inputs used: industry = 金融, revenue = 50" in out.output
    fresh = CliRunner().invoke(
        main, ["explain", str(data), "--row", "O1", "--decision", "approval", "--fresh", "--rules", str(rules)]
    )
    assert (
        fresh.exit_code == 0
        and "a fresh evaluation" in fresh.output
        and "approval: approver = director" in fresh.output
    )
    other = data.with_name("other.xlsx")
    other.write_bytes(data.read_bytes())
    never = CliRunner().invoke(main, ["explain", str(other), "--row", "C1"])
    assert never.exit_code == 2 and "no audited run" in never.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--row", "C03"], "no row with key 'C03' in {data}; did you mean C3?"),
        (["--row", "NOPE"], "--row takes a row key or an Excel row number"),
        (["--row", "O1", "--decision", "aproval"], "no decision 'aproval' for this row; did you mean approval?"),
    ],
)
def test_explain_names_the_closest_row_or_decision(model, args, message):
    rules, data = model
    evaluate_cli(rules, data)
    out = CliRunner().invoke(main, ["explain", str(data), *args])
    assert out.exit_code == 2 and message.format(data=data) in out.output


def test_explain_never_answers_from_a_stale_run(model):
    rules, data = model
    evaluate_cli(rules, data)
    small_data(
        data, clients=[["客户编号", "年收入", "行业"], ["C1", 2560, "金融"], ["C2", 9, "政府"], ["C3", 5000, "金融"]]
    )
    out = CliRunner().invoke(main, ["explain", str(data), "--row", "C3"])
    assert out.exit_code == 0
    assert f"warning: {data} has changed since audited run" in out.output
    assert "tier: tier = gold" in out.output  # today's value, not the run's silver
    assert "audited:     tier = silver (rule T2) in run" in out.output
    evaluate_cli(rules, data)  # a new run: current again
    again = CliRunner().invoke(main, ["explain", str(data), "--row", "C3"])
    assert "warning" not in again.output and "From audited run" in again.output


def test_explain_after_a_rule_change_names_the_changed_threshold(model):
    rules, data = model
    evaluate_cli(rules, data)  # C1 (2,560, 金融) is gold by T1 (>= 1000)
    tier = (TIER[0], TIER[1], TIER[2], TIER[3], [("T1", ">= 3000", '"金融"', '"gold"', "large"), TIER[4][1]], None)
    write_decision_sheets(rules / "rules.xlsx", [tier, APPROVAL])  # the glossary stays as it was
    out = CliRunner().invoke(main, ["explain", str(data), "--row", "C1", "--decision", "tier"])
    assert "the rules have changed (rules.xlsx) since audited run" in out.output
    assert "tier: tier = silver" in out.output and "audited:     tier = gold (rule T1)" in out.output
    assert "- would be gold if revenue were ≥ 3,000 (it is 2,560) — rule T1" in out.output


def test_audit_list_show_export(model, tmp_path):
    rules, data = model
    evaluate_cli(rules, data)
    listing = CliRunner().invoke(main, ["audit", "list"])
    run_id = listing.output.split()[0]
    assert "evaluate (vectorized)" in listing.output and "[clients 3, orders 5]" in listing.output
    show = CliRunner().invoke(main, ["audit", "show", run_id[:15], "--row", "O1"])
    assert show.exit_code == 0 and "sha256" in show.output and "approval: approver = director" in show.output
    xlsx = tmp_path / "run.xlsx"
    assert CliRunner().invoke(main, ["audit", "export", run_id, "-o", str(xlsx)]).exit_code == 0
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["kade summary", "clients", "orders"]
    as_json = tmp_path / "run.json"
    assert CliRunner().invoke(main, ["audit", "export", run_id, "-o", str(as_json)]).exit_code == 0
    doc = json.loads(as_json.read_text(encoding="utf-8"))
    assert doc["run"]["run_id"] == run_id and len(doc["rows"]) == 8
    assert CliRunner().invoke(main, ["audit", "show", "nope"]).exit_code == 2


def test_no_audit_and_bad_location(model, tmp_path):
    rules, data = model
    assert "audited as run" not in evaluate_cli(rules, data, "--no-audit").output
    blocked = tmp_path / "file"
    blocked.write_text("x")
    bad = evaluate_cli(rules, data, "--audit", str(blocked / "audit.sqlite"))
    assert bad.exit_code == 2 and "cannot open the audit database" in bad.output
    pg = evaluate_cli(rules, data, "--audit", "postgresql://nobody@127.0.0.1:1/none")
    assert pg.exit_code == 2 and "cannot connect to the audit database" in pg.output


# ------------------------------------------------ nothing to verify is not intact


def test_verify_never_creates_a_store(tmp_path):
    missing = tmp_path / "mistyped" / "audit.sqlite"
    result = CliRunner().invoke(main, ["audit", "verify", "--audit", str(missing)])
    assert result.exit_code == 2 and "no audit database at" in result.output
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize(
    "attack, expected",
    [
        ("DELETE FROM kade_audit", "the audit chain is empty"),
        ("DROP TABLE kade_audit", "holds no audit table (kade_audit)"),
    ],
)
def test_an_empty_or_dropped_chain_is_not_intact(model, location, attack, expected):
    rules, data = model
    evaluate_cli(rules, data, "--audit", location)
    _tamper(location, attack)
    result = CliRunner().invoke(main, ["audit", "verify", "--audit", location])
    assert result.exit_code == 1 and expected in result.output and "intact:" not in result.output


def test_the_head_a_run_prints_finds_a_removed_last_run(model, location):
    rules, data = model
    evaluate_cli(rules, data, "--audit", location)
    second = evaluate_cli(rules, data, "--audit", location)
    head = second.output.split("audit chain head ")[1].split()[0]
    verified = CliRunner().invoke(main, ["audit", "verify", "--audit", location, "--head", head])
    assert verified.exit_code == 0 and f"head {head}" in verified.output
    with _open(location) as store:
        last = store.runs()[-1]["run_id"]
    _tamper(location, f"DELETE FROM kade_audit WHERE run_id = '{last}'")
    # the shorter chain is intact in itself: only the head noted before tells
    assert CliRunner().invoke(main, ["audit", "verify", "--audit", location]).exit_code == 0
    result = CliRunner().invoke(main, ["audit", "verify", "--audit", location, "--head", head[:16]])
    assert result.exit_code == 1 and f"does not hold the head {head[:16]}" in result.output


def test_verify_runs_sqlites_own_integrity_check(model, tmp_path):
    """A flipped byte in an index page: the chain (read through the table) is
    intact, SQLite's integrity check is not."""
    rules, data = model
    location = tmp_path / "t.sqlite"
    for _ in range(2):
        evaluate_cli(rules, data, "--audit", str(location))
    raw = bytearray(location.read_bytes())
    page_size = int.from_bytes(raw[16:18], "big")
    index_pages = [p for p in range(1, len(raw) // page_size) if raw[p * page_size] == 0x0A]  # leaf index b-tree
    assert index_pages
    last_byte = (index_pages[0] + 1) * page_size - 1  # cells are packed from the page's end
    raw[last_byte] ^= 0x55
    location.write_bytes(bytes(raw))
    with _open(str(location)) as store:
        assert store._walk(None).ok  # what the chain alone says
    result = CliRunner().invoke(main, ["audit", "verify", "--audit", str(location)])
    assert result.exit_code == 1 and "the audit database file is damaged" in result.output
