"""Typed columns as the evaluators see them.

number, boolean and date values live in float64 arrays (NaN = FEEL null; booleans
1/0; dates as days since 1970-01-01) so every comparison is one numpy call.
Strings live in object arrays (None = null) and are factorised once, so a test
is evaluated on the distinct values and gathered back by code.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(1970, 1, 1)
FLOAT_TYPES = ("number", "boolean", "date")
NULL = np.array(None, dtype=object)  # None as a 0-d array: numpy's type stubs refuse a bare None in array calls


def is_none(values: np.ndarray) -> np.ndarray:
    """Element-wise ``value is None`` over an object array (messages, string columns)."""
    return np.equal(values, NULL)


class Column:
    __slots__ = ("type", "values", "_factorized")

    def __init__(self, type_: str | None, values: np.ndarray, factorized: tuple[np.ndarray, np.ndarray] | None = None):
        self.type = type_
        self.values = values
        self._factorized = factorized  # (codes, uniques) when the values were built from them

    def set_null(self, rows: np.ndarray) -> None:
        """Make the values at ``rows`` (a mask or positions) null: cells that could not be used."""
        self.values[rows] = np.nan if self.is_float else None
        self._factorized = None

    def __len__(self) -> int:
        return len(self.values)

    @property
    def is_float(self) -> bool:
        return self.values.dtype.kind == "f"

    def isnull(self) -> np.ndarray:
        if self.is_float:
            return np.isnan(self.values)
        if self._factorized is not None:
            return self._factorized[0] < 0
        import pandas as pd  # here, not at start-up: rule loading needs only numpy

        return pd.isna(self.values)

    def factorized(self) -> tuple[np.ndarray, np.ndarray]:
        """(codes, uniques); null has code -1."""
        if self._factorized is None:
            import pandas as pd

            codes, uniques = pd.factorize(self.values, use_na_sentinel=True)
            self._factorized = (codes, np.asarray(uniques, dtype=object))
        return self._factorized

    def between(self, lo: int, hi: int) -> Column:
        """Rows lo..hi, a view. The factorisation comes along when it has no more
        distinct values than the block has rows (a test is decided once per distinct
        value: on a column of mostly distinct values, every block would decide them all)."""
        cut = self._factorized
        if cut is not None and len(cut[1]) <= hi - lo:
            cut = (cut[0][lo:hi], cut[1])
        else:
            cut = None
        return Column(self.type, self.values[lo:hi], cut)

    def take(self, index: np.ndarray) -> Column:
        """Rows by position; -1 gives null (a child row whose parent is missing)."""
        null = np.nan if self.is_float else NULL
        if not len(self.values) or self.values.dtype.kind not in "fO":
            return Column(self.type, np.append(self.values, null)[index])
        # gathered in place, not from a copy with a null appended: on an object column that
        # copy touches every value's object twice more, slow once they no longer fit the caches
        missing = index < 0
        vals = self.values[np.where(missing, 0, index) if missing.any() else index]
        vals[missing] = null
        return Column(self.type, vals)

    def python_values(self, index: np.ndarray | None = None) -> np.ndarray:
        """Values as Python objects of the column's type (for output and reasons)."""
        vals = self.values if index is None else self.values[index]
        return to_python(self.type, vals)


def to_python(type_: str | None, vals: np.ndarray) -> np.ndarray:
    """Typed values as Python objects (float, bool, date; None for NaN). Values that
    repeat (scores, tiers as numbers, flags) share one object each: a million rows
    then cost a pointer each instead of an object each."""
    out = np.empty(len(vals), dtype=object)
    if vals.dtype.kind != "f":
        out[:] = vals
        return out
    if len(vals) > _SHARED_FROM and not np.any(np.signbit(vals) & (vals == 0)):  # -0.0 is not merged with 0.0
        import pandas as pd

        codes, uniques = pd.factorize(vals)  # NaN: -1, the None appended below
        if len(uniques) * 4 < len(vals):
            return np.append(to_python(type_, np.asarray(uniques)), NULL)[codes]
    null = np.isnan(vals)
    if type_ == "boolean":
        out[:] = vals == 1.0
    elif type_ == "date":
        days = np.where(null, 0, vals).astype("int64")
        out[:] = (np.datetime64("1970-01-01") + days.astype("timedelta64[D]")).astype(object)
    else:
        out[:] = vals
    out[null] = None
    return out


_SHARED_FROM = 4096  # values from which converting each distinct value once pays


def date_to_days(value: dt.date) -> float:
    if isinstance(value, dt.datetime):
        value = value.date()
    return float((value - EPOCH).days)


def literal_value(type_: str | None, value):
    """A literal as stored in a column of ``type_`` (numbers/booleans/dates as float)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, dt.date):
        return date_to_days(value)
    return value
