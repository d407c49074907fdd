"""xlwings' Office Scripts client (``js/xlwings.ts`` of the installed xlwings,
unchanged) run in node by tests/node/office_scripts.mjs, against a fake
``ExcelScript.Workbook`` made from a ``tests.clients.excel.Workbook``."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.clients.excel import Workbook

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
RUNNER = NODE_DIR / "office_scripts.mjs"
INSTALL_HINT = "bash scripts/node-test-tools.sh (node 18+ and npm; esbuild from tests/node/package.json)"


def xlwings_ts() -> Path:
    """The client shipped in the installed xlwings package (found without importing xlwings)."""
    spec = importlib.util.find_spec("xlwings")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("xlwings is not installed (pip install -e '.[test]')")
    return Path(next(iter(spec.submodule_search_locations))) / "js" / "xlwings.ts"


def missing() -> str | None:
    """What is missing to run the client, or None."""
    if shutil.which("node") is None:
        return "node is not on the PATH"
    if not (NODE_DIR / "node_modules" / "esbuild").is_dir():
        return "esbuild is not installed in tests/node/node_modules"
    if not xlwings_ts().is_file():
        return f"{xlwings_ts()} does not exist"
    return None


@dataclass
class ScriptRun:
    book: Workbook  # the workbook after the (last) run
    error: str | None  # what the script failed with (xlwings' alert is a thrown message)
    calls: list[dict]  # every setValues, with its size in bytes
    times_ms: list[float] = field(default_factory=list)
    request_bytes: int = 0
    reply: dict = field(default_factory=dict)  # status, content_length, content_encoding


def run_python(
    book: Workbook, url: str, *, auth: str = "", include: str = "", exclude: str = "", runs: int = 1
) -> ScriptRun:
    """``await runPython(workbook, url, {auth, include, exclude})`` in a script on ``book``
    (which is left as it was: the result has the book after the run)."""
    options = {k: v for k, v in {"auth": auth, "include": include, "exclude": exclude}.items() if v}
    request = {
        "xlwings_ts": str(xlwings_ts()),
        "url": url,
        "options": options,
        "runs": runs,
        "workbook": book.to_json(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        request_path, result_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        request_path.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
        done = subprocess.run(
            ["node", str(RUNNER), str(request_path), str(result_path)],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the Office Scripts runner failed:\n{done.stderr}")
        result = json.loads(result_path.read_text(encoding="utf-8"))
    return ScriptRun(
        book.from_json(result["workbook"]),
        result["error"],
        result["calls"],
        result["times_ms"],
        result.get("request_bytes", 0),
        result.get("reply", {}),
    )
