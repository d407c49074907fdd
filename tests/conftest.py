import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.workbook_factory import write_data


@pytest.fixture
def write_xlsx(tmp_path):
    """write_xlsx("rules/x.xlsx", {"Sheet": [[row values], ...]}) -> path of a new workbook."""

    def write(relpath: str, sheets: dict[str, list[list]]):
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_data(path, sheets)

    return write


@pytest.fixture(autouse=True)
def _private_audit(tmp_path, monkeypatch):
    """Every test records into its own audit database, never the user's."""
    monkeypatch.setenv("KADE_AUDIT", str(tmp_path / "audit.sqlite"))


def require_system_tool(what: str, problem: str | None, install: str) -> None:
    """Tests that need a system tool run only when it is there. The tests never
    install or start it: on a user's machine they skip, saying which command
    installs it; under CI (CI=true) a missing tool fails, so CI cannot pass by
    skipping them (.ci/run installs and starts the tools first)."""
    if problem is None:
        return
    message = f"needs {what}, but {problem}; install with: {install}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


PG_DEFAULT = "postgresql://postgres@127.0.0.1:54329/postgres"  # what scripts/pg-test-server.sh starts


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server on loopback: $KADE_TEST_PG, else the one
    scripts/pg-test-server.sh starts."""
    import psycopg

    url = os.environ.get("KADE_TEST_PG") or PG_DEFAULT
    try:
        with psycopg.connect(url, connect_timeout=5):
            problem = None
    except psycopg.Error as exc:
        problem = f"no server answers at {url}: {str(exc).strip().splitlines()[0]}"
    require_system_tool(
        "a PostgreSQL server", problem, "bash scripts/pg-test-server.sh (or set KADE_TEST_PG to a server's URL)"
    )
    return url


@pytest.fixture(scope="session")
def render_tools() -> str:
    """LibreOffice (soffice), poppler's pdftoppm and a font with Chinese glyphs:
    the path of soffice. Installed by scripts/ensure-render-tools.sh."""
    missing = [tool for tool in ("soffice", "pdftoppm", "fc-list") if shutil.which(tool) is None]
    if not missing:
        fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=60).stdout
        missing += [] if fonts.strip() else ["a Chinese font"]
    require_system_tool(
        "LibreOffice, pdftoppm and a Chinese font",
        f"{', '.join(missing)} not found" if missing else None,
        "sudo bash scripts/ensure-render-tools.sh",
    )
    return shutil.which("soffice") or "soffice"


@pytest.fixture(scope="session")
def office_scripts_client() -> None:
    """node and esbuild, to run xlwings' Office Scripts client (tests/clients/office_scripts.py).
    Installed by scripts/node-test-tools.sh."""
    from tests.clients import office_scripts

    require_system_tool("node with esbuild", office_scripts.missing(), office_scripts.INSTALL_HINT)


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the test server for one test."""
    import uuid

    import psycopg

    name = "kade_" + uuid.uuid4().hex[:10]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


NODE_TOOLS = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="session")
def dmn_moddle():
    """Runs tests/node/dmn-moddle-read.mjs (dmn-moddle, the DMN parser under dmn-js
    and Camunda Modeler) on a .dmn file: what it saw, as a dict."""
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not (NODE_TOOLS / "node_modules" / "dmn-moddle" / "package.json").is_file():
        problem = "the npm package dmn-moddle is not in tests/node/node_modules"
    require_system_tool("node and dmn-moddle", problem, "bash scripts/node-test-tools.sh")

    def read(path) -> dict:
        done = subprocess.run(
            ["node", "dmn-moddle-read.mjs", str(Path(path).resolve())],
            cwd=NODE_TOOLS,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return read


def _java_problem() -> str | None:
    """None when Java 17+ is on the PATH (Spark 4 needs it), else what is wrong."""
    java = shutil.which("java")
    if java is None:
        return "java is not on the PATH"
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    version = out.split('"')[1] if '"' in out else ""
    major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
    return None if major >= 17 else f"java is version {version or 'unknown'}, Spark 4 needs 17+"


@pytest.fixture(scope="session")
def spark():
    """One real local Spark (local[2]) for the whole test session: small file
    splits and few shuffle partitions, so the sample register spreads over
    several partitions and the tests stay quick."""
    require_system_tool("Java 17+", _java_problem(), "bash scripts/ensure-java.sh")
    from engine.spark import session

    spark = session(
        "local[2]",
        conf={
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "4",
            "spark.sql.files.maxPartitionBytes": "16k",
            "spark.sql.files.openCostInBytes": "1k",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()
