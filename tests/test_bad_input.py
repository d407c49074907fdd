"""The bad-input corpus (tests/corpus/make_corpus.py) through the real thing:
each case runs the `kade` command in a fresh process (`kade evaluate`, `kade
rules check`, `kade rules import`) or is sent to a real `kade serve`, and must
end cleanly - an expected exit status (or HTTP status) with a message naming
file, sheet and cell where there is one; no traceback, no signal, no hang; the
input files byte for byte as they were. The commands run a few at a time in a
fixture; each case is one test.

The multi-GB cases (a 2.2 GB zip bomb, 1,048,576 rows x 60 columns) run with
``-m slow``."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.corpus.make_corpus import RULES, Case, cases

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300  # seconds for one command: a hang fails the case
WORKERS = 2  # commands at once (the machine's cores)
ALL = cases(None)  # names and expectations; the files are written by the fixture


@dataclass
class Outcome:
    status: int  # exit status (negative: killed by that signal; -999: no answer), or the HTTP status
    text: str  # stdout + stderr, or the response body
    written: str  # what the command wrote (out.json, out.csv/*), as text
    changed: list[str]  # inputs whose bytes changed or that are gone


def _digests(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class Kade:
    """Runs `kade` commands, each in a process of its own, forked from a process
    that has imported kade already (tests/corpus/forkrun.py: about 0.5 s less
    per command than starting Python)."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "corpus" / "forkrun.py")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, argv: list[str], where: Path, env: dict[str, str]) -> tuple[int, str]:
        out, err = where / ".stdout", where / ".stderr"
        job = {"argv": argv, "cwd": str(ROOT), "env": {**self.env, **env}, "stdout": str(out), "stderr": str(err)}
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({**job, "timeout": TIMEOUT}) + "\n")
        self.process.stdin.flush()
        status = json.loads(self.process.stdout.readline())["status"]
        text = out.read_text(encoding="utf-8", errors="replace") + err.read_text(encoding="utf-8", errors="replace")
        out.unlink()
        err.unlink()
        return status, text if status != -999 else f"no answer in {TIMEOUT} s"

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _run(kade: Kade, case: Case, where: Path) -> list[Outcome]:
    rules = where / "rules" if (where / "rules").is_dir() else RULES
    outcomes = []
    for run in case.runs:
        before = _digests(where, RULES)
        status, text = kade.run([a.format(dir=where, rules=rules) for a in run.argv], where, case.env)
        after = _digests(where, RULES)
        written = [p.read_text(encoding="utf-8-sig", errors="replace") for p in sorted(where.glob("out.json"))]
        written += [p.read_text(encoding="utf-8-sig") for p in sorted(where.glob("out.csv/*.csv"))]
        changed = [p for p, digest in before.items() if after.get(p) != digest]
        outcomes.append(Outcome(status, text, "".join(written), changed))
    return outcomes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KadeServe:
    """`kade serve` in its own process, its log in a file."""

    def __init__(self, folder: Path, env: dict[str, str], rules: Path = RULES):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"serve-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "serve", "--port", str(self.port), "--rules", str(rules), "--no-audit"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("kade serve did not start")

    def post(self, endpoint: str, body: bytes) -> httpx.Response:
        return httpx.post(
            f"{self.url}/xlwings/{endpoint}",
            content=body,
            timeout=TIMEOUT,
            headers={"Content-Type": "application/json"},
        )

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        return self.log.read_text()


def kade_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADE_MAX")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, request):
    """Every selected case run once, a few processes at a time; the serve cases
    against one `kade serve`."""
    wanted = {
        item.callspec.params["case"].name
        for item in request.session.items
        if hasattr(item, "callspec") and "case" in item.callspec.params
    }
    folder = tmp_path_factory.mktemp("corpus")
    made = {c.name: c for c in cases(folder, slow=any(c.slow and c.name in wanted for c in ALL))}
    env = kade_env()
    server = KadeServe(folder, env)
    workers = queue.Queue()
    for _ in range(WORKERS):
        workers.put(Kade(env))
    try:

        def one(case: Case) -> tuple[str, list[Outcome]]:
            if case.request is not None:
                response = server.post(*case.request)
                return case.name, [Outcome(response.status_code, response.text, "", [])]
            kade = workers.get()
            try:
                return case.name, _run(kade, case, folder / case.name)
            finally:
                workers.put(kade)

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            outcomes = dict(pool.map(one, [made[name] for name in made if name in wanted]))
        alive = server.process.poll() is None
    finally:
        log = server.stop()
        while not workers.empty():
            workers.get().close()
    yield folder, outcomes, log, alive


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else []) for c in ALL])
def test_bad_input_ends_cleanly(corpus, case):
    folder, outcomes, serve_log, serve_alive = corpus
    for run, outcome in zip(case.runs, outcomes[case.name], strict=True):
        shown = f"kade {' '.join(run.argv) or case.request} -> {outcome.status}\n{outcome.text[-3000:]}"
        assert "Traceback" not in outcome.text, shown
        if case.request is not None:
            assert outcome.status in case.statuses, shown
            assert serve_alive and "Traceback" not in serve_log, serve_log[-3000:]
        else:
            assert outcome.status != -999, shown
            assert outcome.status >= 0, f"killed by signal {-outcome.status}: {shown}"
            assert outcome.status in run.exits, shown
            assert not outcome.changed, f"inputs changed: {outcome.changed}"
        for words in run.says:
            assert words in outcome.text or words in outcome.written, f"{words!r} not said: {shown}"
    if case.check is not None:
        case.check(folder / case.name)
