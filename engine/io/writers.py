"""Write results: .xlsx, one .csv or .parquet per sheet, or .json.

An .xlsx input is copied with the decision columns appended to its sheets
(engine.io.xlsx_copy); other inputs, or an .xlsx kade cannot edit safely, get a
new workbook with the evaluated sheets (engine.io.xlsx_stream). Every write goes
to a temporary file beside the target and is renamed into place, so a crash
never leaves a half-written file under the real name."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import os
import socket
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from engine.evaluation.results import ERRORS_COLUMN
from engine.io import xlsx_copy, xlsx_stream
from engine.io.cells import cell_values
from engine.io.xlsx_stream import SheetSpec
from engine.text import display_width

log = logging.getLogger("kade")

FORMATS = ("xlsx", "csv", "json", "parquet")


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = ""):
    """Yield a temporary path in the target's folder; rename over the target on
    success. The file gets the target's permissions if it exists, else the
    usual ones for a new file (mkstemp would leave it readable by its owner only).
    Its name carries this host and process, so a later run removes what a killed
    one left behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(
        prefix=f"{_temporary_prefix(target)}{os.getpid()}.", suffix=suffix or target.suffix, dir=target.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _temporary_prefix(target: Path) -> str:
    host = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in socket.gethostname())[:40]
    return f".{target.name}.kade-{host}-"


def remove_stale_temporaries(target: Path) -> None:
    """Delete the temporary files of ``target`` that a kade on this host left when
    it was killed while writing (its process is gone)."""
    prefix = _temporary_prefix(target)
    try:
        leftovers = [p for p in target.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for path in leftovers:
        pid = path.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            with contextlib.suppress(OSError):
                path.unlink()
                log.info("removed %s, left by a kade that was stopped while writing", path)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (True when that cannot be told)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill would terminate it there
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's process
        return True
    return True


def _umask() -> int:
    """The process umask, read without changing it (os.umask sets it, which races with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def source_for(workbook: Path, *, start: bool = True) -> xlsx_copy.Source | None:
    """The input prepared for a results copy (its sheets are indexed in the
    background from now on, or from ``Source.start()``), or None when it is not
    an .xlsx file."""
    return xlsx_copy.Source(workbook, start=start) if Path(workbook).suffix.lower() == ".xlsx" else None


def write_xlsx(
    sheets: dict[str, pd.DataFrame],
    target: Path,
    summary_rows: list[list] | None = None,
    source: xlsx_copy.Source | None = None,
    origins: dict[str, tuple[int, int]] | None = None,
    summary_head: list[list] | None = None,
    computed: dict[str, dict] | None = None,
) -> str:
    """Results workbook with a 'kade summary' sheet first (``summary_head``: rows
    above its table - the run, the files and their hashes). With ``source`` (and
    the ``origins`` of its sheets as read): a copy of it with the decision
    columns (green headers) and kade.errors (orange) appended to each evaluated
    sheet. Otherwise, or when the source cannot be edited safely: a new
    workbook of the evaluated sheets, data columns with blue headers. Either
    way each evaluated sheet's autofilter covers its data and decisions, and
    rows with an error are filled orange. ``computed``: per sheet, columns whose
    text is made as they are written (``xlsx_stream.SheetSpec.computed``).
    Returns 'copy' or 'new', the layout written."""
    computed = computed or {}
    summary = None
    if summary_rows:
        frame = pd.DataFrame(summary_rows[1:], columns=[str(c) for c in summary_rows[0]])
        summary = SheetSpec(
            xlsx_copy.SUMMARY_SHEET,
            frame,
            widths=[28.0] + [16.0] * (len(frame.columns) - 1),
            freeze=None if summary_head else (1, 0),
            autofilter=False,
            top=summary_head,
        )
    if source is not None:
        try:
            appended = [
                _appended(name, frame, (origins or {}).get(name), computed.get(name)) for name, frame in sheets.items()
            ]
            with atomic_path(target) as tmp:
                source.write(tmp, appended, summary)
            return "copy"
        except xlsx_copy.NotAppendable as exc:
            source.why_not = str(exc)
            log.info("writing a new workbook instead of a copy of %s: %s", source.path, exc)
    specs = [summary] if summary is not None else []
    for name, frame in sheets.items():
        first_decision = frame.attrs.get("data_columns", len(frame.columns))
        kinds = [_kind(c, i >= first_decision) for i, c in enumerate(frame.columns)]
        widths = [_width(c) for c in frame.columns]
        specs.append(
            SheetSpec(
                name[:31], _lists_joined(frame), kinds, widths, highlight=ERRORS_COLUMN, computed=computed.get(name)
            )
        )
    with atomic_path(target) as tmp:
        xlsx_stream.write(tmp, specs)
    return "new"


def _appended(
    name: str, frame: pd.DataFrame, origin: tuple[int, int] | None, computed: dict | None = None
) -> xlsx_copy.Appended:
    if origin is None:
        raise xlsx_copy.NotAppendable(f"sheet {name!r} was not read from the source")
    if frame.attrs.get("replaced_columns"):
        raise xlsx_copy.NotAppendable(
            f"sheet {name!r} already has columns {frame.attrs['replaced_columns']} (a results workbook?)"
        )
    width = frame.attrs.get("data_columns", 0)
    decisions = frame.iloc[:, width:]
    return xlsx_copy.Appended(
        name,
        _lists_joined(decisions),
        origin,
        width,
        [_kind(c, True) for c in decisions.columns],
        [_width(c) for c in decisions.columns],
        computed,
    )


def _kind(column: str, decision: bool) -> str:
    return "error" if column == ERRORS_COLUMN else "decision" if decision else "data"


def _width(column) -> float:
    long_text = str(column).endswith(".reason") or column == ERRORS_COLUMN
    return 60 if long_text else max(10, min(30, display_width(str(column)) + 2))


def _lists_joined(frame: pd.DataFrame) -> pd.DataFrame:
    """Multi-hit outputs (lists) as 'a; b' text; every other value is written as it
    is (and not copied: a million rows' columns are not held twice)."""
    changed: dict[int, np.ndarray] = {}
    for i in range(len(frame.columns)):
        column = frame.iloc[:, i]
        if isinstance(column.dtype, pd.ArrowDtype):  # Arrow text (reasons): written as it is
            continue
        if isinstance(column.dtype, np.dtype) and column.dtype.kind == "f":  # numbers: no lists among them
            continue
        values = column.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(values, skipna=True) in ("mixed", "unknown-array"):
            changed[i] = np.array(cell_values(column), dtype=object)
        elif column.dtype != object:
            changed[i] = values
    if not changed:
        return frame
    out = frame.copy(deep=False)
    for i, replacement in changed.items():
        # a Series of objects: an array would be turned into pandas' string dtype here
        out.isetitem(i, pd.Series(replacement, dtype=object))  # type: ignore[arg-type]
    return out


def write_csv(sheets: dict[str, pd.DataFrame], target: Path):
    """A folder with one UTF-8 (with BOM, so Excel shows Chinese) CSV per sheet.
    Text that a spreadsheet would take for a formula is written as text."""
    target.mkdir(parents=True, exist_ok=True)
    for name, frame in sheets.items():
        out = pd.DataFrame({_csv_text(str(c)): _csv_cells(frame[c]) for c in frame.columns})
        with atomic_path(target / f"{_safe_name(name)}.csv") as tmp:
            out.to_csv(tmp, index=False, encoding="utf-8-sig")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(text: str) -> str:
    """Text starting like a formula ('=HYPERLINK(…)', '+1', '@SUM', '-2+3', a tab) gets a
    leading apostrophe, as OWASP advises against CSV injection: Excel and LibreOffice
    then show it as the text it is instead of running it."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_cells(column: pd.Series) -> list:
    values = cell_values(column)
    if column.dtype == object:
        values = [_csv_text(v) if isinstance(v, str) else v for v in values]
    return values


def write_parquet(sheets: dict[str, pd.DataFrame], target: Path):
    """A folder with one Parquet file per sheet (客户.parquet ...): columns typed
    from their values (engine.io.tables.arrow_table)."""
    import pyarrow.parquet as pq

    from engine.io.tables import arrow_table

    target.mkdir(parents=True, exist_ok=True)
    for name, frame in sheets.items():
        with atomic_path(target / f"{_safe_name(name)}.parquet") as tmp:
            pq.write_table(arrow_table(frame), tmp)


def write_json(sheets: dict[str, pd.DataFrame], target: Path, summary: dict | None = None):
    doc = {
        "summary": summary or {},
        "sheets": {
            name: [dict(zip(frame.columns, row)) for row in zip(*(_json_cells(frame[c]) for c in frame.columns))]
            for name, frame in sheets.items()
        },
    }
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=1, default=_json_default)


def _json_cells(column: pd.Series) -> list:
    """A column's cells for JSON: infinity (a register can hold 1e309) as text,
    which every JSON reader takes; json.dump would write the non-standard Infinity."""
    values = cell_values(column)
    if column.dtype == object or column.dtype.kind == "f":
        values = [str(v) if isinstance(v, float) and not math.isfinite(v) else v for v in values]
    return values


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
