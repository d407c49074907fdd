"""What a run records: a header (JSON: who, from which front end, when, the
workbook and rule files with their SHA-256, the rules' annotations), its rows in
chunks of CHUNK_ROWS (an Arrow IPC stream, zstd-compressed: columnar, typed and
cheap to write) and an end (JSON: row counts). A row holds its key, sheet row,
the input values used, and per decision the outputs, the rule id(s), the error
and the near misses. ``record`` writes one run to an ``engine.audit.store``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.audit.store import AuditStore, sha256_file

CHUNK_ROWS = 5000  # rows per recorded chunk


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

    def __post_init__(self):
        if self.front_end not in FRONT_ENDS:
            raise ValueError(f"unknown front end {self.front_end!r}; one of {', '.join(FRONT_ENDS)}")


FRONT_ENDS = ("cli", "excel-desktop", "serve")


def now() -> str:
    """A run's time as recorded: UTC, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_header(
    *,
    command: str,
    engine: str,
    origin: Origin,
    rule_files: list[str],
    row_counts: dict,
    version: str,
    run_id: str | None = None,
    time: str | None = None,
) -> dict:
    is_file = origin.workbook_sha256 is None
    return {
        "run_id": run_id or new_run_id(),
        "time": time or now(),
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


def row_table(evaluation, entity: str, rows: slice = slice(None)):
    """One entity's audited rows (``rows``: some of them) as an Arrow table (typed
    columns, built per column)."""
    import pyarrow as pa

    return pa.table(
        {name: _arrow(type_, values[rows]) for name, (type_, values) in _row_columns(evaluation, entity).items()}
    )


def _row_columns(evaluation, entity: str) -> dict[str, tuple[str | None, Any]]:
    """The audited columns of one entity's rows as (type, values over all rows)."""
    from engine.evaluation.decisions import input_values

    rows = evaluation.rows[entity]
    n = len(rows)
    keys = pd.Series(rows.keys if rows.keys is not None else np.full(n, None, dtype=object), dtype=object)
    numbers = pd.Series(np.arange(2, n + 2)).astype(str)
    columns: dict[str, tuple[str | None, Any]] = {  # values: numpy, or Arrow for "arrow"
        "key": ("string", keys.where(keys.notna(), numbers).astype(str).to_numpy(dtype=object)),
        "row": ("row", np.arange(2, n + 2, dtype=np.int64)),
    }
    for name, col in input_values(evaluation, entity).items():
        columns[f"in.{name}"] = (col.type, col.values)
    for result in evaluation.for_entity(entity):
        table = result.decision
        for clause in table.outputs:
            col = result.outputs[clause.name]
            columns[f"{table.name}.{clause.name}"] = (col.type, col.values)
        columns[f"{table.name}.rule"] = ("string", result.rules)
        columns[f"{table.name}.error"] = ("string", result.errors)
        if result.near_misses is not None:
            columns[f"{table.name}.near_misses"] = ("arrow", _rule_lists(table, result.near_misses))
    return columns


def rows_with_key(table, key: str) -> list[dict]:
    """The rows of an audited table whose key, or sheet row number, is ``key``."""
    import pyarrow.compute as pc

    mask = pc.or_(pc.equal(table["key"], key), pc.equal(pc.cast(table["row"], "string"), key))
    return table.filter(mask).to_pylist()


def _rule_lists(table, ranked: np.ndarray):
    """Ranked rule indexes (KEEP, n; -1 none) as each row's rule ids, 'CT-04, CT-03':
    dictionary-encoded text, made once per distinct ranking - not once per row."""
    import pyarrow as pa

    width = len(table.rules) + 1
    code = np.zeros(ranked.shape[1], dtype=np.int64)
    for slot in ranked:  # one number per ranking (base: rules + 'none')
        code = code * width + (slot.astype(np.int64) + 1)
    inverse, distinct = pd.factorize(code)
    texts = []
    for value in distinct.tolist():
        ids = []
        for _ in range(len(ranked)):
            value, index = divmod(value, width)
            if index:
                ids.append(table.rules[index - 1].id)
        texts.append(", ".join(reversed(ids)))
    empty = np.array([t == "" for t in texts], dtype=bool)[inverse]  # rows with no near miss: null
    indices = pa.array(inverse.astype(np.int32), mask=empty)
    return pa.DictionaryArray.from_arrays(indices, pa.array(texts, pa.string()))


def _arrow(type_, values: np.ndarray):
    """A column as Arrow: numbers, booleans and dates typed; text as text; a column
    of mixed values (rare) as the JSON text of each value."""
    import pyarrow as pa

    if type_ == "arrow":  # already Arrow (near misses as dictionary-encoded rule ids)
        return values
    if type_ == "row":
        return pa.array(values)
    if type_ == "string" and values.dtype.kind == "O":  # keys, rule ids, errors, near misses, text inputs
        return pa.array(values, type=pa.string(), from_pandas=True)
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
    """(entity, 'n=<rows> <first>..<last>', IPC bytes) per chunk of CHUNK_ROWS rows.
    Each chunk is converted to Arrow on its own: a big run never holds a copy of
    every audited column at once."""
    import pyarrow as pa

    out = []
    for entity in evaluation.rows:
        if not evaluation.for_entity(entity):
            continue
        columns = _row_columns(evaluation, entity)
        # lists and values of mixed kinds take one Arrow type for the whole column (small columns)
        whole = {
            n: _arrow(t, v) for n, (t, v) in columns.items() if t not in ("string", "arrow") and v.dtype.kind == "O"
        }
        for start in range(0, len(evaluation.rows[entity]), CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            chunk = pa.table(
                {
                    name: whole[name].slice(start, CHUNK_ROWS) if name in whole else _arrow(type_, values[rows])
                    for name, (type_, values) in columns.items()
                }
            )
            keys = chunk["key"]
            label = f"n={chunk.num_rows} {keys[0].as_py()}..{keys[chunk.num_rows - 1].as_py()}"
            out.append((entity, label, _ipc(chunk)))
    return out


def rule_annotations(rules) -> dict:
    """decision -> rule id -> annotation: kept once per run, not per row."""
    return {t.name: {r.id: r.annotation for r in t.rules} for t in rules.decisions}


def record(
    store: AuditStore,
    evaluation,
    *,
    command: str,
    engine: str,
    origin: Origin,
    version: str,
    run_id: str | None = None,
    time: str | None = None,
) -> str:
    """Write one evaluation to the audit store; returns the run id (``run_id``
    and ``time`` when the results already name them)."""
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
        run_id=run_id,
        time=time,
    )
    header["annotations"] = rule_annotations(evaluation.rules)
    return store.append_run(header, chunks, {"rows": sum(counts.values()), "rows_with_errors": error_rows(evaluation)})
