"""How kade shows a value to a manager - in reasons, explanations, summaries,
findings and reports: one formatter, for one value (``format_value``) and for a
column of them (``format_values``, vectorized with Arrow), which agree.

    2560.0 -> '2,560'   0.5 -> '0.5'   True -> 'true'   date -> '2026-01-31'
    None -> 'empty'     ['a', 'b'] -> 'a; b'   [] -> '(none)'

Also the width of text on screen (``display_width``: CJK characters take two
columns) and values for JSON output (``json_value``). FEEL source text of a value
is ``engine.feel.printer``, not this.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from typing import TYPE_CHECKING

import numpy as np

from engine.evaluation.columns import to_python

if TYPE_CHECKING:
    import pyarrow as pa

# pandas and pyarrow are imported by the column formatters only: format_value is
# all that rule loading and `kade rules check` need, and they start quickly.

EMPTY = "empty"  # an empty cell, a null value
NO_ITEMS = "(none)"  # a multi-hit result where no rule matched
LIST_SEPARATOR = "; "


def format_value(value) -> str:
    """A value as a manager reads it: 2560 -> '2,560', 0.5 -> '0.5', true -> 'true'."""
    if value is None:
        return EMPTY
    if isinstance(value, list):
        return LIST_SEPARATOR.join(format_value(v) for v in value) if value else NO_ITEMS
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return EMPTY
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def format_values(type_: str | None, values: np.ndarray) -> np.ndarray:
    """Object array of display strings ('2,560', '金融', 'true', '2026-01-31', 'empty')."""
    import pandas as pd

    if len(values) == 0:
        return np.empty(0, dtype=object)
    if values.dtype.kind == "f" and type_ in (None, "number"):
        return format_numbers(values)
    if values.dtype.kind == "f":
        uniques, inverse = np.unique(values, return_inverse=True)
        shown = np.array([format_value(v) for v in to_python(type_, uniques)], dtype=object)
        return shown[inverse.ravel()]
    if type_ == "list":  # multi-hit outputs: one list per row
        return (
            pd.Series(values, dtype=object)
            .map(lambda v: format_value(v) if isinstance(v, list) else EMPTY)
            .to_numpy(dtype=object)
        )
    out = values.astype(object).copy()
    out[pd.isna(out)] = EMPTY
    if pd.api.types.infer_dtype(out, skipna=True) != "string":  # numbers under an output without a declared type
        codes, uniques = pd.factorize(out)
        out = np.array([v if isinstance(v, str) else format_value(v) for v in uniques], dtype=object)[codes]
    return out


def value_text(type_: str | None, values: np.ndarray) -> pa.Array:
    """``format_values`` as an Arrow string array (reasons are built with Arrow)."""
    import pyarrow as pa

    if values.dtype.kind == "f" and type_ in (None, "number") and len(values):
        return number_text(values)
    return pa.array(format_values(type_, values), type=pa.string())


_SAMPLE = 1024  # values looked at to tell whether a column repeats its values


def number_text(values: np.ndarray) -> pa.Array:
    """Numbers as ``format_value`` shows them ('2,560', '40.44', '-0.5'),
    computed with numpy (``_digits_text``): formatting each value in Python would be
    a loop over the rows. Values that repeat (years, counts, scores) are formatted
    once each."""
    import pandas as pd
    import pyarrow as pa

    if len(values) > 4 * _SAMPLE and len(np.unique(values[:_SAMPLE])) * 2 > _SAMPLE:
        return _number_text(values)  # mostly distinct (amounts): finding the repeats would not pay
    codes, uniques = pd.factorize(values)  # NaN: code -1
    if len(uniques) * 2 > len(values):
        return _number_text(values)
    shown = pa.concat_arrays([_number_text(np.asarray(uniques, dtype=float)), pa.array([EMPTY], pa.string())])
    return shown.take(pa.array(np.where(codes < 0, len(uniques), codes)))


def _number_text(values: np.ndarray) -> pa.Array:
    import pyarrow as pa

    out = np.full(len(values), EMPTY, dtype=object)
    finite = np.isfinite(values)
    plain = finite & (np.abs(values) < 1e15)
    if plain.any():
        v = values[plain]
        v = np.where(np.abs(v) < 1e9, np.round(v, 6), v)  # np.round loses the last digits of big values
        whole = np.trunc(np.abs(v))
        micro = np.rint((np.abs(v) - whole) * 1e6).astype(np.int64)  # six decimals as a whole number
        shown = _digits_text((v < 0) & ((whole > 0) | (micro > 0)), whole.astype(np.int64), micro)
        if plain.all():
            return shown
        out[plain] = shown.to_numpy(zero_copy_only=False)
    rest = finite & ~plain  # huge values: the general formatter
    if rest.any():
        out[rest] = [format_value(float(x)) for x in values[rest]]
    return pa.array(out, type=pa.string())


# the text of a number laid out in a fixed-width byte row: sign, 15 digits with their
# 4 thousands separators right-aligned to _POINT, the decimal point, six decimals
_POINT = 20
_WIDTH = _POINT + 7
_POWERS = 10 ** np.arange(1, 15)


def _digits_text(negative: np.ndarray, whole: np.ndarray, micro: np.ndarray) -> pa.Array:
    """'-1,234.5' from the sign, the whole part (< 1e15) and the decimals in
    millionths, as Arrow text: the digits are written into one byte row per number
    with numpy and each row's used span becomes the string, so there is no Python
    string per value (formatting numbers was a fifth of evaluating with reasons)."""
    import pyarrow as pa

    n = len(whole)
    grid = np.empty((n, _WIDTH), dtype=np.uint8)
    digits = np.searchsorted(_POWERS, whole, side="right") + 1
    rest = whole.copy()
    for p in range(int(digits.max())):  # digit p from the right, a separator before every third
        rest, digit = np.divmod(rest, 10)
        grid[:, _POINT - 1 - p - p // 3] = digit
    grid[:, :_POINT] += 48  # digit values to characters (the columns left of the digits are not used)
    grid[:, [_POINT - 4 * g for g in range(1, 5)]] = ord(",")
    length = digits + (digits - 1) // 3
    grid[np.arange(n), _POINT - 1 - length] = ord("-")
    start = _POINT - length - negative
    # decimals: a rounding up to a whole millionth (1000000) shows as '.1', as it always did
    rest = np.where(micro >= 1_000_000, 100_000, micro)
    grid[:, _POINT] = ord(".")
    trailing = np.zeros(n, dtype=np.int64)  # trailing zeros of the six decimals
    zeros = np.ones(n, dtype=bool)
    for q in range(6):
        rest, digit = np.divmod(rest, 10)
        grid[:, _POINT + 6 - q] = 48 + digit
        zeros &= digit == 0
        trailing += zeros
    end = np.where(micro > 0, _POINT + 7 - trailing, _POINT)
    spans = _SPANS[start * (_WIDTH + 1) + end]  # per row: which columns are its text
    data = grid[spans]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(end - start, out=offsets[1:])
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


_SPANS = (np.arange(_WIDTH) >= np.arange(_WIDTH + 1).repeat(_WIDTH + 1)[:, None]) & (
    np.arange(_WIDTH) < np.tile(np.arange(_WIDTH + 1), _WIDTH + 1)[:, None]
)  # row start * (_WIDTH + 1) + end: the columns start <= c < end


def format_numbers(values: np.ndarray) -> np.ndarray:
    """``number_text`` as an object array."""
    return number_text(values).to_numpy(zero_copy_only=False)


def display_width(text: str) -> int:
    """Columns on screen (and in a spreadsheet column): CJK characters take two,
    so Chinese headers still align."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def json_value(value):
    """A value for JSON output: dates as ISO text, whole floats as integers."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def closest(word: str, candidates, n: int = 3) -> list[str]:
    """The candidates a mistyped ``word`` most likely meant, best first: the same
    letters and number (C023 -> C0023; case, full-width forms and separators
    ignored), then the most similar spellings."""
    key = _spelling_key(word)
    folded: dict[str, str] = {}
    same = []
    for candidate in dict.fromkeys(str(c) for c in candidates):
        if abs(len(candidate) - len(word)) > max(3, len(word) // 2):
            continue  # too long or short to be a typo of it (and a million keys stay quick)
        folded.setdefault(unicodedata.normalize("NFKC", candidate).lower(), candidate)
        if _spelling_key(candidate) == key:
            same.append(candidate)
    cutoff = 0.5 if len(word) <= 3 else 0.6  # one wrong character of two (金触 for 金融) is still close
    similar = difflib.get_close_matches(unicodedata.normalize("NFKC", word).lower(), list(folded), n=n, cutoff=cutoff)
    return list(dict.fromkeys(same + [folded[s] for s in similar]))[:n]


def did_you_mean(word: str, candidates, n: int = 3) -> str:
    """'did you mean client_score?' (or '' when nothing is close)."""
    found = closest(word, candidates, n)
    return f"did you mean {' or '.join(found)}?" if found else ""


def _spelling_key(text: str) -> str:
    """Case, full-width forms, separators and leading zeros of numbers ignored."""
    text = unicodedata.normalize("NFKC", text).lower().replace("-", "").replace("_", "").replace(" ", "")
    return re.sub(r"\d+", lambda m: str(int(m.group())), text)
