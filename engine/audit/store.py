"""The audit store: a hash chain of entries that nobody can quietly edit, in
SQLite by default (WAL, one writer transaction per run, so two processes writing
at once lose nothing) or PostgreSQL when the location is a postgresql:// URL.

Each entry's hash covers its sequence number, content and the previous entry's
hash: an entry altered, deleted, inserted or moved breaks the chain at that
point, and `verify` names the first bad entry. What a run's entries hold is
``engine.audit.records``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import KadeError

GENESIS = "0" * 64
TABLE = "kade_audit"


class AuditError(KadeError):
    """The audit store cannot be opened, written or read."""


def default_location() -> str:
    """$KADE_AUDIT, else ~/.local/share/kade/audit.sqlite ($XDG_DATA_HOME respected)."""
    if os.environ.get("KADE_AUDIT"):
        return os.environ["KADE_AUDIT"]
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return str(base / "kade" / "audit.sqlite")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entry_hash(seq: int, run_id: str, kind: str, entity: str, row_key: str, payload: bytes, prev: str) -> str:
    digest = hashlib.sha256("\x1f".join((str(seq), run_id, kind, entity, row_key, prev, "")).encode("utf-8"))
    digest.update(payload)
    return digest.hexdigest()


@dataclass
class Entry:
    seq: int
    run_id: str
    kind: str  # 'run' (header), 'rows' (a chunk of rows), 'end'
    entity: str
    row_key: str  # for 'rows': 'n=<rows> <first key>..<last key>'
    payload: bytes
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row) -> Entry:
        """From a (seq, run_id, kind, entity, row_key, payload, prev_hash, hash) database row."""
        seq, run_id, kind, entity, row_key, payload, prev_hash, digest = row
        return cls(seq, run_id, kind, entity, row_key, bytes(payload), prev_hash, digest)

    def data(self) -> dict:
        return json.loads(bytes(self.payload).decode("utf-8"))

    def table(self):
        """The chunk's rows as an Arrow table."""
        import pyarrow as pa

        with pa.ipc.open_stream(bytes(self.payload)) as reader:
            return reader.read_all()

    @property
    def row_count(self) -> int:
        return int(self.row_key.split(" ", 1)[0][2:]) if self.kind == "rows" else 0


@dataclass
class Verification:
    ok: bool
    checked: int
    head: str  # hash of the last entry: note it to detect truncation later
    problem: str | None = None
    seq: int | None = None


# ---------------------------------------------------------------- stores -------


class AuditStore:
    """Common logic; subclasses provide the connection and the SQL dialect."""

    placeholder = "?"

    def __init__(self, location: str, *, create: bool = True):
        """Open the store at ``location``; with ``create`` (writing runs) the table is
        made if missing, without it (verifying) nothing is created or changed."""
        self.location = location
        self.create = create
        self.head: str | None = None  # the chain's last hash after this process's last append_run
        self.conn = self._connect()
        if create:
            self._create()

    # dialect hooks
    def _connect(self):
        raise NotImplementedError

    def _begin_exclusive(self, cur):
        raise NotImplementedError

    def _begin_exclusive_schema(self, cur):
        raise NotImplementedError

    def _create(self):
        seq_type, blob = ("INTEGER", "BLOB") if self.placeholder == "?" else ("BIGINT", "BYTEA")
        cur = self.conn.cursor()
        self._begin_exclusive_schema(cur)  # two first runs at once must not both create the table
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (seq {seq_type} PRIMARY KEY, run_id TEXT NOT NULL, kind TEXT NOT NULL, "
            f"entity TEXT NOT NULL, row_key TEXT NOT NULL, payload {blob} NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_row ON {TABLE} (run_id, row_key)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_kind ON {TABLE} (kind)")
        self.conn.commit()

    def close(self):
        self.conn.close()

    def _q(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    # writing
    def append_run(self, header: dict, chunks: list[tuple[str, str, bytes]], footer: dict) -> str:
        """Write one run atomically: header, row chunks (entity, 'n=.. first..last', IPC bytes), footer."""
        run_id = header["run_id"]
        cur = self.conn.cursor()
        try:
            self._begin_exclusive(cur)
            cur.execute(f"SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1")
            last = cur.fetchone()
            seq, prev = (last[0], last[1]) if last else (0, GENESIS)
            records = [("run", "", "", json_bytes(header))]
            records += [("rows", entity, key, payload) for entity, key, payload in chunks]
            records.append(("end", "", "", json_bytes(footer)))
            values = []
            for kind, entity, key, payload in records:
                seq += 1
                digest = entry_hash(seq, run_id, kind, entity, key, payload, prev)
                values.append((seq, run_id, kind, entity, key, payload, prev, digest))
                prev = digest
            cur.executemany(self._q(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)"), values)
            self.conn.commit()
        except Exception as exc:
            self.conn.rollback()
            raise AuditError(f"cannot write the audit record to {self.location}: {exc}") from exc
        self.head = prev
        return run_id

    # reading
    def _entries(self, where: str = "", params: tuple = ()) -> list[Entry]:
        cur = self.conn.cursor()
        cur.execute(
            self._q(
                f"SELECT seq, run_id, kind, entity, row_key, payload, prev_hash, hash FROM {TABLE} {where} ORDER BY seq"
            ),
            params,
        )
        return [Entry.from_row(row) for row in cur.fetchall()]

    def runs(self) -> list[dict]:
        headers = {e.run_id: e.data() for e in self._entries("WHERE kind = ?", ("run",))}
        footers = {e.run_id: e.data() for e in self._entries("WHERE kind = ?", ("end",))}
        return [{**h, **{f"end_{k}": v for k, v in footers.get(rid, {}).items()}} for rid, h in headers.items()]

    def run(self, run_id: str) -> dict:
        entries = self._entries("WHERE run_id = ? AND kind = ?", (run_id, "run"))
        if not entries:
            candidates = [r["run_id"] for r in self.runs() if r["run_id"].startswith(run_id)]
            if len(candidates) != 1:
                raise AuditError(
                    f"no audited run {run_id!r}" + (f" (ambiguous: {', '.join(candidates)})" if candidates else "")
                )
            entries = self._entries("WHERE run_id = ? AND kind = ?", (candidates[0], "run"))
        return entries[0].data()

    def chunks(self, run_id: str) -> list[Entry]:
        return self._entries("WHERE run_id = ? AND kind = ?", (run_id, "rows"))

    def rows(self, run_id: str, key: str | None = None) -> list[tuple[str, dict]]:
        """(entity, row) for every row of the run, or the rows whose key (or sheet row number) is ``key``."""
        from engine.audit.records import rows_with_key

        out: list[tuple[str, dict]] = []
        for chunk in self.chunks(run_id):
            table = chunk.table()
            if key is not None and "key" not in table.column_names:  # a Spark run's partition digests
                continue
            rows = table.to_pylist() if key is None else rows_with_key(table, key)
            out.extend((chunk.entity, row) for row in rows)
        return out

    def latest_run_for(self, workbook: str) -> dict | None:
        """The latest run of the workbook at this path; else the latest button run
        (kade serve records a workbook by its name only) of a workbook so named."""
        path = str(Path(workbook).resolve())
        runs = self.runs()
        matching = [r for r in runs if r.get("workbook") == path]
        if not matching:
            name = Path(workbook).name
            matching = [r for r in runs if r.get("workbook") == name]
        return matching[-1] if matching else None

    def verify(self, head: str | None = None) -> Verification:
        """Walk the whole chain. Not intact: a damaged database, a missing table, an
        empty chain, any entry altered, deleted, inserted or moved - and, given the
        ``head`` hash noted after an earlier run, a chain that no longer holds it
        (runs removed from the end)."""
        damage = self._damage()
        if damage:
            return Verification(False, 0, GENESIS, damage)
        if not self._has_table():
            return Verification(
                False, 0, GENESIS, f"{self.location} holds no audit table ({TABLE}): not an audit store, or dropped"
            )
        try:
            result = self._walk(head)
        except Exception as exc:  # a damaged page shows up as a failing read
            return Verification(False, 0, GENESIS, f"the audit database cannot be read: {exc}")
        return result

    def _damage(self) -> str | None:
        """The database's own integrity check, where it has one (SQLite)."""
        return None

    def _has_table(self) -> bool:
        raise NotImplementedError

    def _walk(self, head: str | None) -> Verification:
        cur = self.conn.cursor()
        cur.execute(f"SELECT seq, run_id, kind, entity, row_key, payload, prev_hash, hash FROM {TABLE} ORDER BY seq")
        prev, expected_seq, count = GENESIS, 1, 0
        open_run = None
        seen_head = head is None
        for row in cur:
            e = Entry.from_row(row)
            count += 1
            if e.seq != expected_seq:
                return Verification(
                    False,
                    count,
                    prev,
                    f"entry {expected_seq} is missing (next is {e.seq}): deleted or renumbered",
                    expected_seq,
                )
            if e.prev_hash != prev:
                return Verification(
                    False,
                    count,
                    prev,
                    f"entry {e.seq} does not follow entry {e.seq - 1}: inserted, deleted or reordered",
                    e.seq,
                )
            if entry_hash(e.seq, e.run_id, e.kind, e.entity, e.row_key, e.payload, e.prev_hash) != e.hash:
                return Verification(
                    False, count, prev, f"entry {e.seq} (run {e.run_id}, {e.kind} {e.row_key}) was altered", e.seq
                )
            if e.kind == "run":
                open_run = (e.run_id, 0)
            elif e.kind == "rows":
                open_run = (open_run[0], open_run[1] + e.row_count) if open_run and open_run[0] == e.run_id else None
                if open_run is None:
                    return Verification(False, count, prev, f"entry {e.seq} holds rows outside their run", e.seq)
            elif e.kind == "end":
                rows = e.data().get("rows")
                if not open_run or open_run[0] != e.run_id or open_run[1] != rows:
                    return Verification(
                        False,
                        count,
                        prev,
                        f"run {e.run_id} should hold {rows} rows, the chain has {open_run[1] if open_run else 0}",
                        e.seq,
                    )
                open_run = None
            prev, expected_seq = e.hash, expected_seq + 1
            seen_head = seen_head or (head is not None and e.hash.startswith(head.lower()))
        if open_run is not None:
            return Verification(
                False, count, prev, f"run {open_run[0]} has no end entry: its last rows were deleted", expected_seq
            )
        if count == 0:
            return Verification(False, 0, GENESIS, "the audit chain is empty: there is nothing to verify")
        if not seen_head:
            return Verification(
                False,
                count,
                prev,
                f"the chain does not hold the head {head}: records after it were removed "
                "(or the hash is from another audit store)",
                expected_seq,
            )
        return Verification(True, count, prev)


class SqliteStore(AuditStore):
    placeholder = "?"

    def _connect(self):
        import sqlite3

        path = Path(self.location)
        if not self.create and not path.is_file():
            raise AuditError(
                f"no audit database at {path} (nothing is created here: check the path, --audit or $KADE_AUDIT)"
            )
        try:
            if self.create:
                path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=60, isolation_level=None)
            if self.create:
                _switch_to_wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
        except (sqlite3.Error, OSError) as exc:
            raise AuditError(f"cannot open the audit database {path}: {exc}") from exc
        return _AutoTx(conn)

    def _damage(self) -> str | None:
        import sqlite3

        try:
            found = [row[0] for row in self.conn.cursor().execute("PRAGMA integrity_check(5)")]
        except sqlite3.DatabaseError as exc:
            return f"the audit database file is damaged: {exc}"
        if found != ["ok"]:
            return "the audit database file is damaged (SQLite integrity check: " + "; ".join(map(str, found)) + ")"
        return None

    def _has_table(self) -> bool:
        cur = self.conn.cursor()
        cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,))
        return cur.fetchone() is not None

    def _begin_exclusive(self, cur):
        cur.execute("BEGIN IMMEDIATE")  # takes the write lock before reading the chain head

    _begin_exclusive_schema = _begin_exclusive


def _switch_to_wal(conn, seconds: float = 60.0):
    """Switching a new database to WAL needs it to itself and SQLite does not wait
    for that (no busy handler): when another process is creating it too, retry."""
    import sqlite3
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _AutoTx:
    """sqlite3 in autocommit mode with explicit BEGIN/COMMIT (commit/rollback are no-ops outside a transaction)."""

    def __init__(self, conn):
        self._conn = conn

    def cursor(self):
        return self._conn.cursor()

    def commit(self):
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def rollback(self):
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self):
        self._conn.close()


class PostgresStore(AuditStore):
    placeholder = "%s"

    def _connect(self):
        try:
            import psycopg
        except ImportError as exc:
            raise AuditError("PostgreSQL audit needs psycopg: pip install 'psycopg[binary]'") from exc
        try:
            return psycopg.connect(self.location, connect_timeout=10)
        except psycopg.Error as exc:
            raise AuditError(f"cannot connect to the audit database: {exc}") from exc

    def _begin_exclusive(self, cur):
        cur.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")  # one writer at a time; readers go on

    def _has_table(self) -> bool:
        cur = self.conn.cursor()
        cur.execute("SELECT to_regclass(%s)", (TABLE,))
        row = cur.fetchone()
        self.conn.rollback()  # end the read's transaction: verify reads in its own
        return row is not None and row[0] is not None

    def _begin_exclusive_schema(self, cur):
        cur.execute("SELECT pg_advisory_xact_lock(740510)")  # the table may not exist yet: lock a number


def open_store(location: str | None = None, *, create: bool = True) -> AuditStore:
    """The store at ``location`` (default: ``default_location()``). ``create=False``
    opens an existing store only, changing nothing (for verifying)."""
    location = location or default_location()
    if location.startswith(("postgresql://", "postgres://")):
        return PostgresStore(location, create=create)
    return SqliteStore(location, create=create)


def json_bytes(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")
