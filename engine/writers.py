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

from . import xlsxstream
from .report import ERRORS_COLUMN
from .xlsxstream import SheetSpec

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
        kinds = pd.Series(values, dtype=object).map(type)
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
    """Results workbook: an optional summary sheet, then each sheet with its data
    columns (blue header), decision columns (green) and kade.errors (orange)."""
    specs = []
    if summary_rows:
        summary = pd.DataFrame(summary_rows[1:], columns=[str(c) for c in summary_rows[0]])
        specs.append(SheetSpec("kade summary", summary, widths=[28] + [16] * (len(summary.columns) - 1), freeze=(1, 0), autofilter=False))
    for name, frame in sheets.items():
        first_decision = frame.attrs.get("data_columns", len(frame.columns))
        kinds, widths = [], []
        for c, col in enumerate(frame.columns):
            kinds.append("error" if col == ERRORS_COLUMN else "decision" if c >= first_decision else "data")
            long_text = str(col).endswith(".reason") or col == ERRORS_COLUMN
            widths.append(60 if long_text else max(10, min(30, _text_width(str(col)) + 2)))
        specs.append(SheetSpec(name[:31], _lists_joined(frame), kinds, widths))
    with atomic_path(target) as tmp:
        xlsxstream.write(tmp, specs)


def _lists_joined(frame: pd.DataFrame) -> pd.DataFrame:
    """Multi-hit outputs (lists) as 'a; b' text; every other value is written as it is."""
    out = {}
    for c in frame.columns:
        values = frame[c].to_numpy(dtype=object)
        if pd.api.types.infer_dtype(values, skipna=True) in ("mixed", "unknown-array"):
            values = np.array(_cell_values(frame[c]), dtype=object)
        out[c] = pd.Series(values, dtype=object)
    return pd.DataFrame(out)


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
