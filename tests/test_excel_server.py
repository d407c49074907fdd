"""`kade serve` for real: a uvicorn process on 127.0.0.1, HTTP POSTs of payloads
built from real .xlsx files as the VBA and Office Scripts clients build them,
the returned actions replayed onto the file with openpyxl, assertions on cells."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openpyxl
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent

import engine  # noqa: E402
from cli import main  # noqa: E402
from engine.evaluation.results import result_frame  # noqa: E402
from engine.excel.clients import OFFICE_SCRIPTS, apply_actions, payload_from_xlsx  # noqa: E402
from engine.excel.errors import ServeError  # noqa: E402
from engine.excel.server import check_binding, is_loopback  # noqa: E402

SAMPLE = ROOT / "workbooks" / "key_accounts.xlsx"
RULES = ROOT / "rules"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`serve()` in its own process; records which xlwings modules it ever loaded."""

    def __init__(self, tmp: Path, **options):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.modules_file = tmp / f"modules-{self.port}.json"
        options = {"host": "127.0.0.1", "port": self.port, "rules_path": str(RULES), "log_level": "warning", **options}
        script = (
            "import atexit, json, signal, sys\n"
            # uvicorn re-raises SIGTERM after its clean shutdown: exit normally so atexit runs
            "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
            f"atexit.register(lambda: open({str(self.modules_file)!r}, 'w').write("
            "json.dumps(sorted(m for m in sys.modules if m.startswith('xlwings')))))\n"
            "from engine.excel.server import serve\n"
            f"serve(**{options!r})\n"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", script], cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait_ready(self, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).text == "ok":
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> list[str]:
        self.process.terminate()  # uvicorn shuts down cleanly on SIGTERM, atexit runs
        self.process.communicate(timeout=30)
        return json.loads(self.modules_file.read_text()) if self.modules_file.exists() else ["<no record>"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("serve")).wait_ready()
    yield running
    running.modules_loaded = running.stop()


@pytest.fixture
def sample(tmp_path):
    return Path(shutil.copy(SAMPLE, tmp_path / "key_accounts.xlsx"))


def post(server, endpoint: str, payload: dict | bytes, **headers) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return httpx.post(
        f"{server.url}/xlwings/{endpoint}",
        content=body,
        timeout=60,
        headers={"Content-Type": "application/json", **headers},
    )


def replay(path: Path, response: httpx.Response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    wb = openpyxl.load_workbook(path)
    alerts = apply_actions(wb, response.json()["actions"])
    wb.save(path)
    return openpyxl.load_workbook(path), alerts


def column(ws, header) -> list:
    headers = [c.value for c in ws[1]]
    c = headers.index(header) + 1
    return [ws.cell(r, c).value for r in range(2, ws.max_row + 1)]


# ------------------------------------------------------------------ buttons ----


def test_evaluate_over_http_writes_what_kade_evaluate_decides(server, sample):
    expected = engine.evaluate_workbook(engine.load_rules(RULES), sample)
    wb, alerts = replay(sample, post(server, "evaluate", payload_from_xlsx(sample)))
    for entity, rows in expected.rows.items():
        frame = result_frame(expected, entity)
        ws = wb[rows.sheet]
        for result in expected.for_entity(entity):
            name = result.decision.name
            assert column(ws, f"{name}.rule") == frame[f"{name}.rule"].tolist(), name
            assert column(ws, f"{name}.reason") == [None if v is None else v for v in frame[f"{name}.reason"]], name
    contracts = wb["合同"]
    assert (
        column(contracts, "required_approver")[:3]
        == result_frame(expected, "contracts")["required_approver"].tolist()[:3]
    )
    assert sum(v is not None for v in column(contracts, "kade.errors")) == 3  # the sample's three bad contracts
    assert sum(v is not None for v in column(wb["方案申请"], "kade.errors")) == 1  # and a required cell left empty
    assert "4 row(s) in error" in alerts[0][1]


def test_data_cells_survive_the_round_trip(server, sample):
    before = openpyxl.load_workbook(sample)
    wb, _ = replay(sample, post(server, "evaluate", payload_from_xlsx(sample)))
    for name in before.sheetnames:
        old, new = before[name], wb[name]
        for row in old.iter_rows():
            for cell in row:
                assert new.cell(cell.row, cell.column).value == cell.value, f"{name}!{cell.coordinate}"


def test_office_scripts_payload_with_only_the_contracts_and_clients(server, sample):
    payload = payload_from_xlsx(sample, client=OFFICE_SCRIPTS, include=["客户", "合同"])
    wb, alerts = replay(sample, post(server, "evaluate", payload))
    assert column(wb["合同"], "required_approver.rule")[0] is not None
    assert "required_approver.rule" not in [c.value for c in wb["SLA订单"][1]]  # not sent, not touched
    assert alerts == []  # Office Scripts shows messages only as errors: the summary is left out


def test_why_over_http(server, sample):
    payload = payload_from_xlsx(sample, active_sheet="客户", selection="D4")
    wb, alerts = replay(sample, post(server, "why", payload))
    lines = [r[0] for r in wb["kade why"].iter_rows(values_only=True) if r[0]]
    assert lines[0].startswith("Why? 客户 row 4") and lines[1].startswith("clients C0003 (sheet row 4)")
    assert any(line.strip().startswith("client_tier:") for line in lines)
    message = alerts[0][1].splitlines()
    assert alerts[0][0] == "kade: why?" and message[0] == "clients C0003 (sheet row 4)"
    assert message[1].startswith("• client_tier = ")  # the final decision first


def test_check_over_http(server, sample):
    wb, alerts = replay(sample, post(server, "check", payload_from_xlsx(sample)))
    lines = [r[0] for r in wb["kade rules check"].iter_rows(values_only=True) if r[0]]
    assert lines[0] == f"Check rules: {RULES}" and "tables" in lines[-1]
    assert alerts[0][0] == "kade: check rules"


# ------------------------------------------------------------------- errors ----


def test_a_data_problem_is_plain_text_for_the_message_box(server, sample):
    wb = openpyxl.load_workbook(sample)
    wb["合同"].delete_cols(5)  # 合同金额(万元)
    wb.save(sample)
    response = post(server, "evaluate", payload_from_xlsx(sample))
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("kade: ") and "合同金额" in response.text


def test_why_without_a_data_row_is_plain_text(server, sample):
    response = post(server, "why", payload_from_xlsx(sample, active_sheet="客户", selection="A1"))
    assert response.status_code == 400 and "header row" in response.text


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


def test_the_server_never_loaded_xlwings(server, sample):
    post(server, "evaluate", payload_from_xlsx(sample))  # make sure it did real work first
    # the module fixture stops the server after the last test; check in a fresh one here
    fresh = Server(sample.parent).wait_ready()
    assert post(fresh, "evaluate", payload_from_xlsx(sample)).status_code == 200
    assert fresh.stop() == []


# ------------------------------------------------------- limits and tokens ----


def test_request_size_limit(tmp_path, sample):
    small = Server(tmp_path, max_request_mb=1).wait_ready()
    try:
        big = json.dumps(payload_from_xlsx(sample) | {"padding": "x" * (1 << 20)}).encode()
        response = post(small, "evaluate", big)
        assert response.status_code == 413 and "limit of 1 MB" in response.text
        chunked = httpx.post(f"{small.url}/xlwings/evaluate", content=iter([big[:700_000], big[700_000:]]))
        assert chunked.status_code == 413  # no Content-Length: counted as it arrives
        assert post(small, "why", payload_from_xlsx(sample, active_sheet="客户", selection="A2")).status_code == 200
    finally:
        small.stop()


def test_token(tmp_path, sample):
    guarded = Server(tmp_path, tokens={"token": "s3cret"}).wait_ready()
    try:
        payload = payload_from_xlsx(sample, include=["客户"])
        assert post(guarded, "evaluate", payload).status_code == 401
        wrong = post(guarded, "evaluate", payload, Authorization="guess")
        assert wrong.status_code == 401 and "token" in wrong.text
        assert post(guarded, "evaluate", payload, Authorization="s3cret").status_code == 200
        assert post(guarded, "evaluate", payload, Authorization="Bearer s3cret").status_code == 200
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
        response = post(
            allowed, "evaluate", payload_from_xlsx(sample, client=OFFICE_SCRIPTS, include=["客户"]), Origin=origin
        )
        assert response.status_code == 200 and response.headers["access-control-allow-origin"] == origin
    finally:
        allowed.stop()


# ------------------------------------------------------------------- audit ----


def test_kade_serve_audits_evaluate_under_the_token_name_and_explain_answers(tmp_path, sample):
    """The real `kade serve` command: an Evaluate press is a run that `kade audit list`
    shows with its front end and user, and `kade explain` answers for one of its rows."""
    audit_db = tmp_path / "serve-audit.sqlite"
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--port",
            str(port),
            "--rules",
            str(RULES),
            "--audit",
            str(audit_db),
            "--token",
            "wang=s3cret",
            "--token",
            "li=0ther",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server.__new__(Server)
    server.process, server.url, server.port = process, f"http://127.0.0.1:{port}", port
    server.modules_file = tmp_path / "none.json"
    try:
        server.wait_ready()
        payload = payload_from_xlsx(sample, include=["客户"])
        assert post(server, "evaluate", payload, Authorization="Bearer 0ther").status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=30)
    runner = CliRunner()
    listed = runner.invoke(main, ["audit", "list", "--audit", str(audit_db)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert len(lines) == 1 and " li@" in lines[0] and "serve: evaluate (button)" in lines[0]
    assert "key_accounts.xlsx" in lines[0] and "clients 320" in lines[0]
    explained = runner.invoke(main, ["explain", str(sample), "--row", "C0007", "--audit", str(audit_db)])
    assert explained.exit_code == 0, explained.output
    assert "by li" in explained.output and "client_tier" in explained.output


def test_a_token_must_have_a_name_and_a_value():
    from engine.excel.server import parse_tokens

    assert parse_tokens(["s3cret", "li=0ther"]) == {"token": "s3cret", "li": "0ther"}
    for bad in (["li="], ["=x"], ["a=1", "a=2"]):
        with pytest.raises(ServeError):
            parse_tokens(bad)
