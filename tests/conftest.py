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


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server on loopback, started by the project's own script."""
    import os
    import subprocess
    from pathlib import Path

    url = os.environ.get("KADE_TEST_PG")
    if not url:
        script = Path(__file__).resolve().parent.parent / "scripts" / "pg-test-server.sh"
        url = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True, timeout=600).stdout.strip()
    return url


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
