"""`kade serve` for real: a uvicorn process on 127.0.0.1, pressed through xlwings'
VBA client (tests/clients/remote_bas.py, Remote.bas transcribed) and Office Scripts
client (js/xlwings.ts in node) on a model of the workbook; errors, limits, tokens
and CORS over plain HTTP."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

import engine
from cli import main
from engine.evaluation.results import result_frame
from engine.excel.errors import ServeError
from engine.excel.server import check_binding, is_loopback
from tests.clients import office_scripts, remote_bas
from tests.clients.excel import Workbook
from tests.serve_process import ROOT, RULES, Server

SAMPLE = ROOT / "workbooks" / "key_accounts.xlsx"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("serve")).wait_ready()
    yield running
    running.modules_loaded = running.stop()


@pytest.fixture
def sample() -> Workbook:
    """The sample register as Excel holds it, 客户 active."""
    return Workbook.from_xlsx(SAMPLE, active="客户", selection="A1")


def payload(book: Workbook, *, include: list[str] | None = None) -> dict:
    """The request xlwings' VBA client sends for ``book`` (``include``: the sheets sent)."""
    excluded = None if include is None else [s.name for s in book.worksheet_list() if s.name not in include]
    return json.loads(remote_bas.ConvertToJson(remote_bas.request_payload(book, excluded)))


def post(server, endpoint: str, body: dict | bytes, **headers) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    return httpx.post(
        f"{server.url}/xlwings/{endpoint}",
        content=content,
        timeout=60,
        headers={"Content-Type": "application/json", **headers},
    )


def press(server, book: Workbook, endpoint: str, **options) -> Workbook:
    """A VBA button: ``RunRemotePython url & endpoint, ...`` on ``book``."""
    remote_bas.run_server_python(book, f"{server.url}/xlwings/{endpoint}", **options)
    return book


def column(book: Workbook, sheet: str, header) -> list:
    grid = book.sheet(sheet).grid()
    c = grid[0].index(header)
    return [row[c] if c < len(row) else None for row in grid[1:]]


# ------------------------------------------------------------------ buttons ----


def test_evaluate_over_http_writes_what_kade_evaluate_decides(server, sample):
    expected = engine.evaluate_workbook(engine.load_rules(RULES), SAMPLE)
    book = press(server, sample, "evaluate")
    for entity, rows in expected.rows.items():
        frame = result_frame(expected, entity)
        for result in expected.for_entity(entity):
            name = result.decision.name
            assert column(book, rows.sheet, f"{name}.rule") == frame[f"{name}.rule"].tolist(), name
            assert column(book, rows.sheet, f"{name}.reason") == frame[f"{name}.reason"].tolist(), name
    assert (
        column(book, "合同", "required_approver")[:3]
        == result_frame(expected, "contracts")["required_approver"].tolist()[:3]
    )
    assert sum(v is not None for v in column(book, "合同", "kade.errors")) == 3  # the sample's three bad contracts
    assert sum(v is not None for v in column(book, "方案申请", "kade.errors")) == 1  # and a required cell left empty
    assert "4 row(s) in error" in book.message_boxes[0][1]


def test_evaluate_fills_the_kade_summary_sheet(server, sample):
    book = press(server, sample, "evaluate")
    grid = book.sheet("kade summary").grid()
    head = grid[: grid.index([])] if [] in grid else grid[: [r[0] for r in grid].index(None)]
    facts = {row[0]: row[1] for row in head}
    assert facts["kade run"] == "not recorded (the audit trail is off)" and facts["workbook"] == "key_accounts.xlsx"
    assert str(facts["time"]).startswith("2026") and engine.__version__ in facts["engine"]
    assert len(facts["workbook sha256"]) == 64 and facts["rows in error"] == 4
    rules = [row for row in head if row[0] == "rules"]
    assert len(rules) == len(engine.load_rules(RULES).sources) and all(len(r[2]) == 64 for r in rules)
    table = grid[grid.index(["decision", "rows over", "rows", "in error", "outcomes"]) :]
    assert [row[0] for row in table[1:]] == [
        s.decision for s in engine.summarize(engine.evaluate_workbook(engine.load_rules(RULES), SAMPLE))
    ]
    press(server, book, "evaluate")  # again: the same sheet, replaced
    assert [s.name for s in book.sheets].count("kade summary") == 1


def test_office_scripts_with_only_the_contracts_and_clients(server, sample, office_scripts_client):
    run = office_scripts.run_python(sample, f"{server.url}/xlwings/evaluate", include="客户,合同")
    assert column(run.book, "合同", "required_approver.rule")[0] is not None
    assert "required_approver.rule" not in run.book.sheet("SLA订单").grid()[0]  # not sent, not touched
    assert run.error.startswith("客户: 320 rows decided")  # Evaluate's message: the script's error


def test_why_over_http(server, sample):
    sample.selection = "D4"
    book = press(server, sample, "why")
    lines = [row[0] for row in book.sheet("kade why").grid() if row[0]]
    assert lines[0].startswith("Why? 客户 row 4") and lines[1].startswith("clients C0003 (sheet row 4)")
    assert any(line.strip().startswith("client_tier:") for line in lines)
    title, message = book.message_boxes[0]
    assert title == "kade: why?" and message.splitlines()[0] == "clients C0003 (sheet row 4)"
    assert message.splitlines()[1].startswith("• client_tier = ")  # the final decision first


def test_replies_are_compressed_only_for_clients_that_ask(server, sample):
    """fetch (Office Scripts) asks for gzip; VBA's WinHttp does not, and gets plain JSON."""
    body = json.dumps(payload(sample), ensure_ascii=False).encode("utf-8")
    with httpx.Client() as client:
        del client.headers["Accept-Encoding"]
        plain = client.post(f"{server.url}/xlwings/evaluate", content=body)
        packed = client.post(f"{server.url}/xlwings/evaluate", content=body, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) * 10 < int(plain.headers["content-length"])
    data_sheets = lambda reply: [a for a in reply["actions"] if a["sheet_position"] in (0, 1, 2, 3)]
    assert data_sheets(packed.json()) == data_sheets(plain.json())  # ('kade summary' has the time)


def test_check_over_http(server, sample):
    book = press(server, sample, "check")
    lines = [row[0] for row in book.sheet("kade rules check").grid() if row[0]]
    assert lines[0] == f"Check rules: {RULES}" and "tables" in lines[-1]
    assert book.message_boxes[0][0] == "kade: check rules"


# ------------------------------------------------------------------- errors ----


def test_a_data_problem_is_plain_text_for_the_message_box(server, sample):
    contracts = sample.sheet("合同")
    contracts.cells = [row[:4] + row[5:] for row in contracts.cells]  # column E, 合同金额(万元), deleted
    response = post(server, "evaluate", payload(sample))
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("kade: ") and "合同金额" in response.text
    before = sample.copy()
    book = press(server, sample, "evaluate")  # what the VBA client shows: the text, and nothing written
    assert book.message_boxes == [("Error", response.text)]
    assert [s.cells for s in book.sheets] == [s.cells for s in before.sheets]


def test_why_without_a_data_row_is_plain_text(server, sample):
    response = post(server, "why", payload(sample))  # A1: the header row
    assert response.status_code == 400 and "header row" in response.text


def test_a_cell_error_the_vba_client_cannot_send_breaks_its_request(server, sample):
    """Remote.bas sends seven Excel errors as text; any other (#SPILL!...) becomes nothing,
    which is not JSON (WebHelpers ConvertToJson): the user reads why, nothing is written."""
    from tests.clients.excel import ExcelError

    sample.sheet("合同").put(3, 2, ExcelError("#SPILL!"))
    book = press(server, sample, "evaluate")
    assert book.message_boxes[0][0] == "Error" and "not JSON" in book.message_boxes[0][1]
    assert "required_approver" not in book.sheet("合同").grid()[0]


def test_a_bad_worksheet_query_is_plain_text(server, sample):
    response = post(server, "why?worksheet=0", payload(sample))
    assert response.status_code == 400 and "1 for the first" in response.text
    response = post(server, "why?worksheet=9", payload(sample))
    assert response.status_code == 400 and "not one of the 4 worksheets" in response.text


def test_a_workbook_cut_off_on_the_way_says_so(server, sample):
    body = json.dumps(payload(sample), ensure_ascii=False).encode("utf-8")
    for cut in (body[:-1], body[: len(body) // 2], body[: body.index("客".encode()) + 1]):  # mid-character too
        response = post(server, "evaluate", cut)
        assert response.status_code == 400 and "arrived cut off" in response.text and "timeout" in response.text
    assert "not JSON" in post(server, "evaluate", body[:-1] + b"x}").text  # not cut off: broken


@pytest.mark.parametrize(
    "method, path, body, status, words",
    [
        ("POST", "/xlwings/evaluate", b"{not json", 400, "not JSON"),
        ("POST", "/xlwings/evaluate", b"[1, 2]", 400, "expected a JSON object"),
        ("GET", "/xlwings/evaluate", None, 405, "takes POST"),
        ("POST", "/xlwings/nothing", b"{}", 404, "no such endpoint"),
    ],
)
def test_bad_requests_get_plain_text(server, method, path, body, status, words):
    response = httpx.request(method, server.url + path, content=body)
    assert response.status_code == status and words in response.text
    assert response.headers["content-type"].startswith("text/plain")


def test_the_server_never_loaded_xlwings(tmp_path, sample):
    # the module fixture stops the server after the last test; check in a fresh one here
    fresh = Server(tmp_path).wait_ready()
    try:
        assert post(fresh, "evaluate", payload(sample)).status_code == 200  # it did real work
    finally:
        assert fresh.stop() == []


# ------------------------------------------------------- limits and tokens ----


def test_request_size_limit(tmp_path, sample):
    small = Server(tmp_path, max_request_mb=1).wait_ready()
    try:
        big = json.dumps(payload(sample) | {"padding": "x" * (1 << 20)}).encode()
        response = post(small, "evaluate", big)
        assert response.status_code == 413 and "limit of 1 MB" in response.text
        chunked = httpx.post(f"{small.url}/xlwings/evaluate", content=iter([big[:700_000], big[700_000:]]))
        assert chunked.status_code == 413  # no Content-Length: counted as it arrives
        sample.selection = "A2"
        assert post(small, "why", payload(sample)).status_code == 200
    finally:
        small.stop()


def test_token(tmp_path, sample):
    guarded = Server(tmp_path, tokens={"token": "s3cret"}).wait_ready()
    try:
        body = payload(sample, include=["客户"])
        assert post(guarded, "evaluate", body).status_code == 401
        wrong = press(guarded, sample.copy(), "evaluate", auth="guess", include="客户")
        assert wrong.message_boxes[0][0] == "Error" and "missing or wrong token" in wrong.message_boxes[0][1]
        right = press(guarded, sample.copy(), "evaluate", auth="s3cret", include="客户")
        assert right.message_boxes[0][1].startswith("客户: 320 rows decided")
        assert post(guarded, "evaluate", body, Authorization="Bearer s3cret").status_code == 200
    finally:
        guarded.stop()


def test_a_public_address_needs_a_token(tmp_path):
    refused = Server(tmp_path, host="0.0.0.0")
    _out, err = refused.process.communicate(timeout=60)
    assert refused.process.returncode != 0 and "--token" in err


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("kade.example.com", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback
    if loopback:
        check_binding(host, None)
    else:
        with pytest.raises(ServeError):
            check_binding(host, None)
        check_binding(host, {"token": "s3cret"})


def test_office_scripts_origin_may_call_when_allowed(tmp_path, sample):
    origin = "https://abc.officescripts.microsoftusercontent.com"
    allowed = Server(tmp_path, cors_origins=("https://*.officescripts.microsoftusercontent.com",)).wait_ready()
    try:
        preflight = httpx.options(
            f"{allowed.url}/xlwings/evaluate",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
        other = httpx.options(
            f"{allowed.url}/xlwings/evaluate",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers
        response = post(allowed, "evaluate", payload(sample, include=["客户"]), Origin=origin)
        assert response.status_code == 200 and response.headers["access-control-allow-origin"] == origin
    finally:
        allowed.stop()


# ------------------------------------------------------------------- audit ----


def test_kade_serve_audits_evaluate_under_the_token_name_and_explain_answers(tmp_path, sample):
    """The real `kade serve` command: an Evaluate press is a run that `kade audit list`
    shows with its front end and user, and `kade explain` answers for one of its rows;
    the button's 'kade summary' sheet names the run."""
    audit_db = tmp_path / "serve-audit.sqlite"
    server = Server.command(
        tmp_path, "--rules", str(RULES), "--audit", str(audit_db), "--token", "wang=s3cret", "--token", "li=0ther"
    )
    try:
        server.wait_ready()
        book = press(server, sample, "evaluate", auth="Bearer 0ther", include="客户")
    finally:
        server.stop()
    runner = CliRunner()
    listed = runner.invoke(main, ["audit", "list", "--audit", str(audit_db)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert len(lines) == 1 and " li@" in lines[0] and "serve: evaluate (button)" in lines[0]
    assert "key_accounts.xlsx" in lines[0] and "clients 320" in lines[0]
    run_id = book.sheet("kade summary").get(1, 2)
    assert run_id in lines[0]
    explained = runner.invoke(main, ["explain", str(SAMPLE), "--row", "C0007", "--audit", str(audit_db)])
    assert explained.exit_code == 0, explained.output
    assert "by li" in explained.output and "client_tier" in explained.output and run_id in explained.output


def test_a_token_must_have_a_name_and_a_value():
    from engine.excel.server import parse_tokens

    assert parse_tokens(["s3cret", "li=0ther"]) == {"token": "s3cret", "li": "0ther"}
    for bad in (["li="], ["=x"], ["a=1", "a=2"]):
        with pytest.raises(ServeError):
            parse_tokens(bad)
