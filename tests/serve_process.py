"""`kade serve` for real, in a process of its own on 127.0.0.1, for the tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`serve()` in its own process; records which xlwings modules it ever loaded."""

    def __init__(self, tmp: Path, **options):
        self.port = free_port()
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

    @classmethod
    def command(cls, tmp: Path, *args: str) -> Server:
        """The `kade serve` command itself, with ``args``."""
        server = cls.__new__(cls)
        server.port = free_port()
        server.url = f"http://127.0.0.1:{server.port}"
        server.modules_file = tmp / "none.json"
        server.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(server.port), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return server

    def wait_ready(self, timeout: float = 30) -> Server:
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
        stop_server(self.process)
        return json.loads(self.modules_file.read_text()) if self.modules_file.exists() else ["<no record>"]


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM (uvicorn shuts down cleanly, atexit runs); a server still running 30 s
    later is killed, so a hung one never outlives its test, and the test fails."""
    process.terminate()
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=30)
        raise
