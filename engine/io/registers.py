"""Registers as read from files: every sheet of a workbook (.xlsx/.xlsm/.xls/.ods)
as header texts and untyped cells, and finding a sheet by one of its names.
Typing the cells and joining rows to their parent is ``engine.evaluation.bind``."""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import DataError, Position
from engine.io.xlsx_scan import ZIP_SUFFIXES, SheetScan, cell_name, scan_workbook


@dataclass
class Sheet:
    """A sheet as read: header texts and the cells below, untyped."""

    name: str
    frame: pd.DataFrame  # object dtype, one column per header, in sheet order
    origin: tuple[int, int] = (0, 0)  # 0-based (row, column) of the first header cell in the sheet
    # cells that hold no value a reader can give (an error value, a formula saved without its
    # result): column header -> {row index in frame: '#DIV/0! (E2)'}; the frame has None there
    unreadable: dict[str, dict[int, str]] = field(default_factory=dict)
    formulas_without_values: list[str] = field(default_factory=list)  # their A1 references


def normalize_header(header) -> str:
    """A header or sheet name as compared: case, spaces and full-width brackets ignored."""
    text = str(header).strip().casefold()
    return re.sub(r"\s+", "", text.replace("（", "(").replace("）", ")"))


def read_workbook(path: str | Path, *, scanned: Callable[[], None] | None = None) -> list[Sheet]:
    """Read every sheet of an .xlsx/.xlsm/.xls/.ods file, once ``engine.io.xlsx_scan``
    has found the file safe to read; or the rows of a .csv (``engine.io.tables``) or
    .json file (``_read_rows``) as one sheet named after the file. An .xlsx/.xlsm sheet
    in the usual form is read with numpy (``engine.io.xlsx_read``), any other sheet
    by python-calamine; both give the same frame.

    ``scanned`` is called when the numpy reader is done, before calamine reads: the
    copy writer's indexing starts there (``engine.pipeline``), so its pass over the
    sheet XML runs while calamine loads, which releases the interpreter, or beside
    binding and evaluating, and not beside the scan or the numpy reader, which need
    the interpreter as much as it does."""
    from python_calamine import CalamineWorkbook

    path = Path(path)
    if not path.exists():
        raise DataError(f"workbook not found: {path}")
    if path.suffix.lower() == ".csv":
        from engine.io.tables import read_tables  # imports this module

        return read_tables(path)
    if path.suffix.lower() == ".json":
        return [_read_rows(path)]
    if path.suffix.lower() == ".xlsb":
        raise DataError("kade reads .xlsx, .xlsm, .xls and .ods workbooks: save this one as .xlsx", Position(str(path)))
    scans = {scan.name: scan for scan in scan_workbook(path)}
    try:
        usual = _read_usual(path, scans) if path.suffix.lower() in ZIP_SUFFIXES and _numpy_reader() else {}
        if scanned is not None:
            scanned()
        book = CalamineWorkbook.from_path(str(path))
        sheets = []
        for name in book.sheet_names:
            if name in usual:
                sheets.append(_with_scan(usual[name], scans[name]))
                continue
            with _no_cycle_collection():  # millions of cells, no reference cycles: a collection would find nothing
                sheet = book.get_sheet_by_name(name)
                start = sheet.start or (0, 0)
                # rows from the first non-empty one, columns from the first non-empty one (iter_rows starts there)
                rows = itertools.islice(sheet.iter_rows(), start[0], None)
                frame = frame_from_rows(rows, expected=sheet.height - start[0] - 1)
                del sheet, rows  # calamine's copy of the cells, freed before the next sheet is read
                sheets.append(_with_scan(Sheet(name, frame, (start[0], start[1])), scans.get(name)))
    except DataError:
        raise
    except Exception as exc:  # calamine raises its own types for broken files
        text = str(exc) if len(str(exc)) <= 300 else str(exc)[:300] + "…"
        raise DataError(f"cannot read workbook: {text}", Position(str(path))) from exc
    return sheets


READER_ENV = "KADE_READER"  # 'calamine': every sheet read by python-calamine (the numpy reader left out)


def _numpy_reader() -> bool:
    """Whether .xlsx/.xlsm sheets are read with numpy (the default) - $KADE_READER=calamine
    leaves every sheet to python-calamine, the reader kade used before (same frames, slower)."""
    chosen = os.environ.get(READER_ENV, "").strip().lower()
    if chosen not in ("", "numpy", "calamine"):
        raise DataError(f"${READER_ENV} is 'numpy' (the default) or 'calamine', got {os.environ[READER_ENV]!r}")
    return chosen != "calamine"


def _read_usual(path: Path, scans: dict[str, SheetScan]) -> dict[str, Sheet]:
    """The sheets in the usual form, read with numpy (``engine.io.xlsx_read``);
    a sheet that reader leaves to calamine is not among them."""
    import zipfile

    from engine.io import xlsx_read

    out: dict[str, Sheet] = {}
    where = Position(str(path))
    with zipfile.ZipFile(path) as zf, open(path, "rb") as raw, _no_cycle_collection():
        book = None
        for name, scan in scans.items():
            if not scan.usual:
                continue
            try:
                book = book or xlsx_read.open_book(zf)
                read = xlsx_read.read_sheet(raw, zf.getinfo(scan.part), scan, book, where.at(sheet=name))
            except xlsx_read.Unusual:
                continue
            if read is None:
                out[name] = Sheet(name, pd.DataFrame())
            else:
                origin, grid = read
                out[name] = Sheet(name, frame_from_grid(grid), origin)
    return out


def _read_rows(path: Path) -> Sheet:
    """A .json file (a list of objects; a nested object's fields become columns
    ``Loan.amount``) as a sheet named after the file."""
    import json

    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot read {path.suffix[1:]} rows: {exc}", Position(str(path))) from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError("a .json file of rows holds a list of objects, one per row", Position(str(path)))
    flat = [_flatten(r) for r in records]
    header = list(dict.fromkeys(k for r in flat for k in r))
    return Sheet(path.stem, frame_from_rows([header] + [[r.get(h) for h in header] for r in flat]))


def _flatten(record: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@contextlib.contextmanager
def _no_cycle_collection():
    """Python's cycle collector paused (as it was before, afterwards): building a
    sheet's cells as objects would trigger full collections that walk every cell
    made so far, which makes reading a 1M-row sheet about a quarter slower."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _with_scan(sheet: Sheet, scan: SheetScan | None) -> Sheet:
    if scan is None:
        return sheet
    return place_unreadable(sheet, scan.unreadable, scan.formulas_without_values)


def place_unreadable(sheet: Sheet, cells: dict[tuple[int, int], str], formulas: list[str] | None = None) -> Sheet:
    """Put the cells a reader had no value for (``engine.io.xlsx_scan``: 0-based
    (row, column) of the sheet -> '#DIV/0!') into ``sheet.unreadable``, by column
    and row of its frame; cells outside the data are left out."""
    top, left = sheet.origin
    columns = sheet.frame.columns
    for (row, column), what in cells.items():
        i, j = row - top - 1, column - left
        if 0 <= i < len(sheet.frame) and 0 <= j < len(columns):
            sheet.unreadable.setdefault(columns[j], {})[i] = f"{what} ({cell_name(row, column)})"
    sheet.formulas_without_values = list(formulas or [])
    return sheet


def formula_note(sheets: list[Sheet]) -> list[str]:
    """A warning when formulas were saved without their results (openpyxl and other
    libraries write them so): every reader sees those cells empty."""
    refs = [f"{sheet.name}!{ref}" for sheet in sheets for ref in sheet.formulas_without_values]
    if not refs:
        return []
    shown = ", ".join(refs[:3]) + (", …" if len(refs) > 3 else "")
    return [
        f"{len(refs):,} formula cell(s) have no stored result ({shown}): kade cannot see their values, and "
        "rows whose decisions need them are in error; open and save the workbook in Excel, which stores them"
    ]


ROWS_PER_BLOCK = 4096  # rows turned into columns at a time: few enough for their objects to stay in the caches
_NONE = np.array(None, dtype=object)
_SHARED_KINDS = ("floating", "integer", "string", "boolean")  # one type each: equal cells are equal values


def frame_from_rows(rows: Iterable[list], expected: int = 0) -> pd.DataFrame:
    """A sheet grid (header row first; a list or an iterator of rows) as an object
    DataFrame; empty cells become None, trailing empty rows are dropped. The rows
    are turned into columns a block at a time, and equal values within a column
    share one Python object (a register repeats its numbers and words): a
    1,048,575-row sheet takes a fraction of the memory of a cell object each.
    ``expected``: the rows below the header, when known (room is made as needed).

    The columns are written into one (columns x rows) array, which pandas takes as
    its block as it is: built from one array per column, pandas stacked them into a
    new block, a third copy of the cells that at a million rows took over a second
    (most of it the first touch of the new memory)."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return pd.DataFrame()
    header = _column_names(first)
    cells = np.empty((len(header), max(expected, 0)), dtype=object)  # None throughout
    filled = 0
    while chunk := list(itertools.islice(rows, ROWS_PER_BLOCK)):
        n = len(chunk)
        if filled + n > cells.shape[1]:  # more rows than expected: twice the room
            grown = np.empty((len(header), max(2 * cells.shape[1], filled + n)), dtype=object)
            grown[:, :filled] = cells[:, :filled]
            cells = grown
        columns = list(zip(*chunk))
        del chunk
        for i in range(min(len(header), len(columns))):  # shorter rows: the rest stays None
            col = np.array(columns[i], dtype=object)
            col[col == ""] = None
            cells[i, filled : filled + n] = _shared(col)
        filled += n
        del columns
    return _frame(cells[:, :filled], header)


def frame_from_grid(grid: np.ndarray) -> pd.DataFrame:
    """The frame of a sheet's cells given as (columns x rows) objects, the header
    row first (``engine.io.xlsx_read``): as ``frame_from_rows`` makes it of the same rows."""
    return _frame(grid[:, 1:], _column_names(grid[:, 0].tolist()))


def _column_names(first: list) -> list[str]:
    """A header row's cells as column names: stripped text, 'column 3' for an empty
    one, a name taken before followed by its column number: 'amount (4)'."""
    header = [str(h).strip() if h not in (None, "") else f"column {i + 1}" for i, h in enumerate(first)]
    names: dict[str, None] = {}
    for i, h in enumerate(header):
        names[h if h not in names else f"{h} ({i + 1})"] = None
    return list(names)


def _frame(cells: np.ndarray, names: list[str]) -> pd.DataFrame:
    # drop trailing rows that are entirely empty (formatting left by Excel)
    length = max((_used_length(cells[i]) for i in range(len(names))), default=0)
    return pd.DataFrame(cells[:, :length].T, columns=names, dtype=object, copy=False)


def _used_length(col: np.ndarray) -> int:
    """Rows up to the column's last value (looked for from the end: it is near there)."""
    end = len(col)
    while end > 0:
        start = max(0, end - ROWS_PER_BLOCK)
        found = np.flatnonzero(~np.equal(col[start:end], _NONE))
        if len(found):
            return start + int(found[-1]) + 1
        end = start
    return 0


def _shared(col: np.ndarray) -> np.ndarray:
    """The cells with equal values sharing one object, when the column holds values
    of one type (a float 1.0 and True would otherwise be merged) and repeats them."""
    kind = pd.api.types.infer_dtype(col, skipna=True)
    if kind not in _SHARED_KINDS:
        return col
    present = ~np.equal(col, _NONE)
    values = col[present]
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    if len(uniques) * 2 > len(values):  # mostly distinct: nothing worth sharing
        return col
    shared = np.asarray(uniques, dtype=object)[codes]
    if kind == "floating":
        from engine.io.xlsx_read import keep_zero_signs

        keep_zero_signs(shared, values.astype(np.float64))
    if len(shared) == len(col):
        return shared
    out = np.full(len(col), None, dtype=object)
    out[present] = shared
    return out


ANY_SHEET = "*"  # an entity's sheet name meaning: whichever sheet has its columns (models imported from DMN)


def find_sheet(sheets: list[Sheet], names: tuple[str, ...]) -> Sheet | None:
    wanted = {normalize_header(n) for n in names}
    for sheet in sheets:
        if normalize_header(sheet.name) in wanted:
            return sheet
    return None
