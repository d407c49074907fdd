"""Write results: .xlsx (XlsxWriter, streaming), one .csv per sheet, or .json.
Every write goes to a temporary file beside the target and is renamed into
place, so a crash never leaves a half-written file under the real name."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .report import ERRORS_COLUMN

FORMATS = ("xlsx", "csv", "json")


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = ""):
    """Yield a temporary path in the target's folder; rename over the target on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _cell_values(series: pd.Series) -> list:
    """A column as Python values a spreadsheet accepts (NaN -> blank, lists -> 'a; b')."""
    values = series.to_numpy(dtype=object)
    if values.dtype == object:
        kinds = pd.Series(values).map(type)
        is_list = (kinds == list).to_numpy()
        if is_list.any():
            values = values.copy()
            values[is_list] = pd.Series(values[is_list]).map(lambda v: "; ".join("" if x is None else str(x) for x in v)).to_numpy()
        is_float = (kinds == float).to_numpy()
        if is_float.any():
            values = values.copy()
            nan = is_float & pd.isna(values)
            values[nan] = None
        is_np_dt = (kinds == np.datetime64).to_numpy() | (kinds == pd.Timestamp).to_numpy()
        if is_np_dt.any():
            values = values.copy()
            values[is_np_dt] = pd.to_datetime(pd.Series(values[is_np_dt])).dt.to_pydatetime()
    return values.tolist()


def write_xlsx(sheets: dict[str, pd.DataFrame], target: Path, summary_rows: list[list] | None = None):
    import xlsxwriter

    with atomic_path(target) as tmp:
        book = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "default_date_format": "yyyy-mm-dd", "strings_to_numbers": False,
                                              "strings_to_formulas": False, "strings_to_urls": False})
        header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        decision_header = book.add_format({"bold": True, "bg_color": "#E2EFDA", "border": 1})
        error_header = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
        if summary_rows:
            ws = book.add_worksheet("kade summary")
            for r, row in enumerate(summary_rows):
                ws.write_row(r, 0, row, header if r == 0 else None)
            ws.set_column(0, 0, 28)
            ws.set_column(1, 4, 16)
        for name, frame in sheets.items():
            ws = book.add_worksheet(name[:31])
            first_decision = frame.attrs.get("data_columns", len(frame.columns))
            for c, col in enumerate(frame.columns):
                fmt = error_header if col == ERRORS_COLUMN else decision_header if c >= first_decision else header
                ws.write(0, c, str(col), fmt)
                width = 60 if str(col).endswith(".reason") or col == ERRORS_COLUMN else max(10, min(30, _text_width(str(col)) + 2))
                ws.set_column(c, c, width)
            columns = [_cell_values(frame[c]) for c in frame.columns]
            for r, row in enumerate(zip(*columns), start=1):
                ws.write_row(r, 0, row)
            ws.freeze_panes(1, 1)
            if len(frame.columns):
                ws.autofilter(0, 0, len(frame), len(frame.columns) - 1)
        book.close()


def _text_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def write_csv(sheets: dict[str, pd.DataFrame], target: Path):
    """A folder with one UTF-8 (with BOM, so Excel shows Chinese) CSV per sheet."""
    target.mkdir(parents=True, exist_ok=True)
    for name, frame in sheets.items():
        out = pd.DataFrame({c: _cell_values(frame[c]) for c in frame.columns})
        with atomic_path(target / f"{_safe_name(name)}.csv") as tmp:
            out.to_csv(tmp, index=False, encoding="utf-8-sig")


def write_json(sheets: dict[str, pd.DataFrame], target: Path, summary: dict | None = None):
    doc = {"summary": summary or {}, "sheets": {name: [dict(zip(frame.columns, row)) for row in zip(*(_cell_values(frame[c]) for c in frame.columns))]
                                                 for name, frame in sheets.items()}}
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, indent=1, default=_json_default)


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
