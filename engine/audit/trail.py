"""The audit trail: every run and every decided row, in a hash chain nobody can
quietly edit. SQLite by default (WAL, one writer transaction per run, so two
processes writing at once lose nothing); PostgreSQL when the location is a
postgresql:// URL.

Each entry's hash covers its sequence number, content and the previous entry's
hash: an entry altered, deleted, inserted or moved breaks the chain at that
point, and `verify` names the first bad entry.

A run is three kinds of entry: its header (JSON: who, when, files and their
SHA-256, the rules' annotations), its rows in chunks of CHUNK_ROWS (an Arrow IPC
stream, zstd-compressed: columnar, typed and cheap to write), and its end (JSON:
row counts). A row holds its key, sheet row, the input values used, and per
decision the outputs, the rule id(s), the error and the near misses.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import KadeError

GENESIS = "0" * 64
TABLE = "kade_audit"
CHUNK_ROWS = 5000


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

    def __init__(self, location: str):
        self.location = location
        self.conn = self._connect()
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
            records = [("run", "", "", _json_bytes(header))]
            records += [("rows", entity, key, payload) for entity, key, payload in chunks]
            records.append(("end", "", "", _json_bytes(footer)))
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
        import pyarrow.compute as pc

        out: list[tuple[str, dict]] = []
        for chunk in self.chunks(run_id):
            table = chunk.table()
            if key is not None:
                mask = pc.or_(pc.equal(table["key"], key), pc.equal(pc.cast(table["row"], "string"), key))
                table = table.filter(mask)
            out.extend((chunk.entity, row) for row in table.to_pylist())
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

    def verify(self) -> Verification:
        cur = self.conn.cursor()
        cur.execute(f"SELECT seq, run_id, kind, entity, row_key, payload, prev_hash, hash FROM {TABLE} ORDER BY seq")
        prev, expected_seq, count = GENESIS, 1, 0
        open_run = None
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
        if open_run is not None:
            return Verification(
                False, count, prev, f"run {open_run[0]} has no end entry: its last rows were deleted", expected_seq
            )
        return Verification(True, count, prev)


class SqliteStore(AuditStore):
    placeholder = "?"

    def _connect(self):
        import sqlite3

        path = Path(self.location)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=60, isolation_level=None)
            _switch_to_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
        except (sqlite3.Error, OSError) as exc:
            raise AuditError(f"cannot open the audit database {path}: {exc}") from exc
        return _AutoTx(conn)

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

    def _begin_exclusive_schema(self, cur):
        cur.execute("SELECT pg_advisory_xact_lock(740510)")  # the table may not exist yet: lock a number


def open_store(location: str | None = None) -> AuditStore:
    location = location or default_location()
    if location.startswith(("postgresql://", "postgres://")):
        return PostgresStore(location)
    return SqliteStore(location)


# ------------------------------------------------------- what is recorded ------


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class Origin:
    """Who started a run, from which front end, on which workbook - as the run's
    header records it. A file run names its path and the file is hashed; a button
    run names the workbook as Excel does and hashes the cells it sent."""

    front_end: str = "cli"  # cli | excel-desktop | serve
    workbook: str = ""  # a path, or a workbook's name when there is no file
    workbook_sha256: str | None = None  # None: the SHA-256 of the file at `workbook`
    user: str | None = None  # None: the operating-system user running kade


FRONT_ENDS = ("cli", "excel-desktop", "serve")


def run_header(
    *, command: str, engine: str, origin: Origin, rule_files: list[str], row_counts: dict, version: str
) -> dict:
    is_file = origin.workbook_sha256 is None
    return {
        "run_id": new_run_id(),
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "user": origin.user or _user(),
        "host": socket.gethostname(),
        "front_end": origin.front_end,
        "kade_version": version,
        "engine": engine,
        "command": command,
        "workbook": str(Path(origin.workbook).resolve()) if is_file else origin.workbook,
        "workbook_sha256": sha256_file(origin.workbook) if is_file else origin.workbook_sha256,
        "rule_files": [{"path": str(Path(f).resolve()), "sha256": sha256_file(f)} for f in rule_files],
        "rows": row_counts,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def _json_bytes(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")


def row_table(evaluation, entity: str):
    """One entity's audited rows as an Arrow table (typed columns, built per column)."""
    import pyarrow as pa

    from engine.evaluation.decisions import input_values

    rows = evaluation.rows[entity]
    n = len(rows)
    keys = pd.Series(rows.keys if rows.keys is not None else np.full(n, None, dtype=object), dtype=object)
    numbers = pd.Series(np.arange(2, n + 2)).astype(str)
    columns = {
        "key": pa.array(keys.where(keys.notna(), numbers).astype(str).to_numpy(dtype=object), type=pa.string()),
        "row": pa.array(np.arange(2, n + 2, dtype=np.int64)),
    }
    for name, col in input_values(evaluation, entity).items():
        columns[f"in.{name}"] = _arrow(col.type, col.values)
    for result in evaluation.for_entity(entity):
        table = result.decision
        for clause in table.outputs:
            col = result.outputs[clause.name]
            columns[f"{table.name}.{clause.name}"] = _arrow(col.type, col.values)
        columns[f"{table.name}.rule"] = _arrow("string", result.rules)
        columns[f"{table.name}.error"] = _arrow("string", result.errors)
        if result.near_misses is not None:
            columns[f"{table.name}.near_misses"] = _arrow("string", result.near_misses)
    return pa.table(columns)


def _arrow(type_, values: np.ndarray):
    """A column as Arrow: numbers, booleans and dates typed; text as text; a column
    of mixed values (rare) as the JSON text of each value."""
    import pyarrow as pa

    if values.dtype.kind == "f":
        null = np.isnan(values)
        if type_ == "boolean":
            return pa.array(values == 1.0, mask=null)
        if type_ == "date":
            return pa.array(np.where(null, 0, values).astype("int32"), type=pa.date32(), mask=null)
        return pa.array(values, mask=null)
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pa.array(
            pd.Series(values, dtype=object)
            .map(lambda v: None if v is None else json.dumps(v, ensure_ascii=False, default=str))
            .to_numpy(dtype=object),
            type=pa.string(),
        )


def _ipc(table) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def row_chunks(evaluation) -> list[tuple[str, str, bytes]]:
    """(entity, 'n=<rows> <first>..<last>', IPC bytes) per chunk of CHUNK_ROWS rows."""
    out = []
    for entity in evaluation.rows:
        if not evaluation.for_entity(entity):
            continue
        table = row_table(evaluation, entity)
        for start in range(0, table.num_rows, CHUNK_ROWS):
            chunk = table.slice(start, CHUNK_ROWS)
            keys = chunk["key"]
            label = f"n={chunk.num_rows} {keys[0].as_py()}..{keys[chunk.num_rows - 1].as_py()}"
            out.append((entity, label, _ipc(chunk)))
    return out


def rule_annotations(rules) -> dict:
    """decision -> rule id -> annotation: kept once per run, not per row."""
    return {t.name: {r.id: r.annotation for r in t.rules} for t in rules.decisions}


def record(store: AuditStore, evaluation, *, command: str, engine: str, origin: Origin, version: str) -> str:
    """Write one evaluation to the audit store; returns the run id."""
    from engine.evaluation.results import error_rows

    chunks = row_chunks(evaluation)
    counts = {e: len(r) for e, r in evaluation.rows.items() if evaluation.for_entity(e)}
    header = run_header(
        command=command,
        engine=engine,
        origin=origin,
        rule_files=evaluation.rules.sources,
        row_counts=counts,
        version=version,
    )
    header["annotations"] = rule_annotations(evaluation.rules)
    return store.append_run(header, chunks, {"rows": sum(counts.values()), "rows_with_errors": error_rows(evaluation)})
