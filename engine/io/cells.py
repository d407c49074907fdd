"""Values crossing spreadsheet cells, one converter each way: result values into
cells (files, the Excel buttons, reports) and values from a spreadsheet API back
to plain Python."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from engine.text import LIST_SEPARATOR


def cell_values(values: pd.Series | np.ndarray | Iterable, *, dates_as_datetime: bool = False) -> list:
    """Values a spreadsheet accepts: NaN/NaT -> None (a blank cell), numpy scalars and
    pandas timestamps -> Python, lists (multi-hit outputs) -> 'a; b'. With
    ``dates_as_datetime`` a date becomes a datetime at midnight (xlwings' clients
    only take datetimes). Works a kind at a time, not a cell at a time."""
    out = np.array(list(values), dtype=object) if not isinstance(values, (pd.Series, np.ndarray)) else None
    if out is None:
        out = np.asarray(values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values, dtype=object)
    if not len(out):
        return []
    kinds = pd.Series(out, dtype=object).map(type)
    out = out.copy()
    is_list = (kinds == list).to_numpy()
    if is_list.any():
        out[is_list] = [LIST_SEPARATOR.join("" if x is None else str(_scalar(x)) for x in v) for v in out[is_list]]
    is_generic = kinds.map(lambda k: issubclass(k, np.generic)).to_numpy()
    if is_generic.any():
        out[is_generic] = [v.item() for v in out[is_generic]]
    is_stamp = (kinds == pd.Timestamp).to_numpy() | (kinds == np.datetime64).to_numpy()
    if is_stamp.any():
        out[is_stamp] = pd.to_datetime(pd.Series(out[is_stamp])).dt.to_pydatetime()
    missing = pd.isna(out) & ~is_list
    out[missing] = None
    if dates_as_datetime:
        is_date = (kinds == dt.date).to_numpy()
        if is_date.any():
            out[is_date] = [dt.datetime(d.year, d.month, d.day) for d in out[is_date]]
    return out.tolist()


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def plain_value(value):
    """A value from a spreadsheet API as plain Python: pandas/numpy dates become
    datetimes; text, numbers, booleans, datetimes and None stay as they are."""
    if value is None or isinstance(value, (str, bool, int, float, dt.datetime)):
        return value
    return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
