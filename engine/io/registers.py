"""Registers as read from files: every sheet of a workbook (.xlsx/.xlsm/.xls/.ods)
as header texts and untyped cells, and finding a sheet by one of its names.
Typing the cells and joining rows to their parent is ``engine.evaluation.bind``."""

from __future__ import annotations

import contextlib
import gc
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import DataError, Position


@dataclass
class Sheet:
    """A sheet as read: header texts and the cells below, untyped."""

    name: str
    frame: pd.DataFrame  # object dtype, one column per header, in sheet order
    origin: tuple[int, int] = (0, 0)  # 0-based (row, column) of the first header cell in the sheet


def normalize_header(header) -> str:
    """A header or sheet name as compared: case, spaces and full-width brackets ignored."""
    text = str(header).strip().casefold()
    return re.sub(r"\s+", "", text.replace("（", "(").replace("）", ")"))


def read_workbook(path: str | Path) -> list[Sheet]:
    """Read every sheet of an .xlsx/.xlsm/.xls/.ods file (python-calamine), or the
    rows of a .csv / .json file as one sheet named after the file (``_read_rows``)."""
    from python_calamine import CalamineWorkbook

    path = Path(path)
    if not path.exists():
        raise DataError(f"workbook not found: {path}")
    if path.suffix.lower() in (".csv", ".json"):
        return [_read_rows(path)]
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheets = []
        for name in book.sheet_names:
            with _no_cycle_collection():  # millions of cells, no reference cycles: a collection would find nothing
                sheet = book.get_sheet_by_name(name)
                rows = sheet.to_python(skip_empty_area=True)  # starts at sheet.start, the first non-empty cell
                start = sheet.start or (0, 0)
                sheets.append(Sheet(name, frame_from_rows(rows), (start[0], start[1])))
    except DataError:
        raise
    except Exception as exc:  # calamine raises its own types for broken files
        raise DataError(f"cannot read workbook: {exc}", Position(str(path))) from exc
    return sheets


def _read_rows(path: Path) -> Sheet:
    """A .csv (header row first, UTF-8) or .json file (a list of objects; a nested
    object's fields become columns ``Loan.amount``) as a sheet named after the file."""
    import csv
    import json

    try:
        if path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as f:
                return Sheet(path.stem, frame_from_rows([list(r) for r in csv.reader(f)]))
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
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


def frame_from_rows(rows: list[list]) -> pd.DataFrame:
    """A sheet grid (header row first) as an object DataFrame; empty cells become None."""
    if not rows:
        return pd.DataFrame()
    header = [str(h).strip() if h not in (None, "") else f"column {i + 1}" for i, h in enumerate(rows[0])]
    body = rows[1:]
    # drop trailing rows that are entirely empty (formatting left by Excel)
    while body and all(v in ("", None) for v in body[-1]):
        body.pop()
    columns = list(zip(*body)) if body else [() for _ in header]
    data = {}
    for i, h in enumerate(header):
        col = np.array(columns[i], dtype=object) if i < len(columns) else np.full(len(body), None, dtype=object)
        col[col == ""] = None
        data[h if h not in data else f"{h} ({i + 1})"] = col
    return pd.DataFrame(data, dtype=object)


ANY_SHEET = "*"  # an entity's sheet name meaning: whichever sheet has its columns (models imported from DMN)


def find_sheet(sheets: list[Sheet], names: tuple[str, ...]) -> Sheet | None:
    wanted = {normalize_header(n) for n in names}
    for sheet in sheets:
        if normalize_header(sheet.name) in wanted:
            return sheet
    return None
