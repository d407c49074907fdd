"""Binding a register to the rules: find each entity's sheet and columns through
the glossary, coerce values to the declared types, join child rows to their parent.

A value that cannot be coerced never stops the run: the cell is recorded as a
row error (column and value named) and only decisions that need it fail."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.errors import MissingColumnError, Position
from engine.evaluation.columns import Column
from engine.io.registers import Sheet, find_sheet, normalize_header
from engine.model import RuleSet, Variable
from engine.model.graph import referenced_names

_THOUSANDS = r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?"
_TRUE = {"true", "t", "yes", "y", "1", "是", "对", "有", "√", "✓", "真"}
_FALSE = {"false", "f", "no", "n", "0", "否", "不", "无", "×", "✗", "假"}
_DATE_FORMATS = ("ISO8601", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%d.%m.%Y")


@dataclass
class EntityRows:
    """One entity's rows, typed for evaluation."""

    entity: str
    sheet: str
    frame: pd.DataFrame  # as read, for writing results beside it
    columns: dict[str, Column]  # variable name -> typed values
    cell_errors: dict[str, np.ndarray] = field(default_factory=dict)  # variable -> message|None per row
    keys: np.ndarray | None = None  # row key as text (for reports)
    parent_index: np.ndarray | None = None  # row position in the parent entity, -1 if missing
    parent_missing: np.ndarray | None = None  # message|None per row

    def __len__(self) -> int:
        return len(self.frame)


# ------------------------------------------------------------ coercion ---------


def coerce(raw: np.ndarray, variable: Variable) -> tuple[Column, np.ndarray | None]:
    """Typed column plus, if some cells failed, an object array of messages."""
    series = pd.Series(raw, dtype=object)
    present = series.notna().to_numpy()
    if variable.type == "string":
        values, bad = _as_string(series), np.zeros(len(series), bool)
    elif variable.type == "number":
        values, bad = _as_number(series)
    elif variable.type == "boolean":
        values, bad = _as_boolean(series)
    else:
        values, bad = _as_date(series)
    column = Column(variable.type, values)
    messages = None
    if bad.any():
        messages = np.full(len(series), None, dtype=object)
        shown = series[bad].map(lambda v: str(v))  # only the bad cells, for the message
        header = variable.headers[0] if variable.headers else variable.name
        messages[bad] = (
            f"{header}: cannot read " + shown.map(repr) + f" as {_TYPE_NAME.get(variable.type or '', 'a value')}"
        ).to_numpy()
        column.values[bad] = np.nan if column.is_float else None
    if variable.allowed is not None:
        messages = _check_allowed(column, variable, present & ~bad, messages)
    return column, messages


_TYPE_NAME = {"number": "a number", "boolean": "true/false (是/否)", "date": "a date", "string": "text"}


def _as_string(series: pd.Series) -> np.ndarray:
    out = series.to_numpy(dtype=object).copy()
    if pd.api.types.infer_dtype(out, skipna=True) in ("string", "empty"):  # the usual case: trim with Arrow
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pa.array(out, type=pa.string(), from_pandas=True)
        trimmed = pc.utf8_trim_whitespace(text)
        changed = np.flatnonzero(
            pc.fill_null(pc.not_equal(pc.binary_length(trimmed), pc.binary_length(text)), False).to_numpy(
                zero_copy_only=False
            )
        )
        if len(changed):
            new = trimmed.take(pa.array(changed)).to_numpy(zero_copy_only=False)
            out[changed] = np.where(new == "", None, new)
        return out
    is_str = series.map(type).to_numpy() == str
    if is_str.any():
        stripped = series[is_str].str.strip()
        out[is_str] = stripped.where(stripped != "", None).to_numpy(dtype=object)
    other = ~is_str & series.notna().to_numpy()
    if other.any():
        out[other] = series[other].map(_scalar_text).to_numpy(dtype=object)
    return out


def _scalar_text(value) -> str:
    """A non-text cell in a text column: 1001.0 -> '1001', a date -> '2026-01-31'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _as_number(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    kinds = series.map(type).to_numpy()
    numeric = (kinds == float) | (kinds == int)
    out = np.full(len(series), np.nan)
    out[numeric] = series[numeric].to_numpy(dtype=float)
    bad = np.zeros(len(series), bool)
    is_str = kinds == str
    if is_str.any():
        text = series[is_str].str.strip()
        text = text.where(~text.str.fullmatch(_THOUSANDS), text.str.replace(",", "", regex=False))
        parsed = pd.to_numeric(
            text.where(text.str.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"), None), errors="coerce"
        ).to_numpy(dtype=float)
        out[is_str] = parsed
        bad[is_str] = np.isnan(parsed) & (text != "").to_numpy()
    other = ~numeric & ~is_str & series.notna().to_numpy()
    bad |= other  # booleans, dates, times in a number column
    return out, bad


def _as_boolean(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    kinds = series.map(type).to_numpy()
    out = np.full(len(series), np.nan)
    is_bool = kinds == bool
    out[is_bool] = series[is_bool].to_numpy(dtype=float)
    rest = ~is_bool & series.notna().to_numpy()
    bad = np.zeros(len(series), bool)
    if rest.any():
        text = series[rest].map(_scalar_text).str.strip().str.lower()
        value = np.where(text.isin(_TRUE), 1.0, np.where(text.isin(_FALSE), 0.0, np.nan))
        empty = (text == "").to_numpy()
        out[rest] = value
        bad[rest] = np.isnan(value) & ~empty
    return out, bad


def _as_date(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    kinds = series.map(type).to_numpy()
    out = np.full(len(series), np.nan)
    is_date = (kinds == dt.date) | (kinds == dt.datetime) | (kinds == pd.Timestamp)
    if is_date.any():
        stamps = pd.to_datetime(
            series[is_date].map(lambda d: d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day))
        )
        out[is_date] = (stamps.to_numpy().astype("datetime64[D]").astype("int64")).astype(float)
    is_num = (kinds == float) | (kinds == int)
    if is_num.any():  # an Excel serial number that lost its date format
        out[is_num] = np.floor(series[is_num].to_numpy(dtype=float)) - 25569.0
    is_str = kinds == str
    bad = np.zeros(len(series), bool)
    if is_str.any():
        text = series[is_str].str.strip()
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
        for fmt in _DATE_FORMATS:
            todo = parsed.isna() & (text != "")
            if not todo.any():
                break
            parsed[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        days = parsed.to_numpy().astype("datetime64[D]")
        vals = np.where(np.isnat(days), np.nan, days.astype("int64").astype(float))
        out[is_str] = vals
        bad[is_str] = np.isnan(vals) & (text != "").to_numpy()
    other = ~is_date & ~is_num & ~is_str & series.notna().to_numpy()
    bad |= other
    return out, bad


def _check_allowed(column: Column, variable: Variable, present: np.ndarray, messages):
    from engine.evaluation.vectorized import test_mask

    ok = test_mask(variable.allowed, column, {})
    outside = present & ~ok
    if outside.any():
        if messages is None:
            messages = np.full(len(column), None, dtype=object)
        header = variable.headers[0] if variable.headers else variable.name
        shown = pd.Series(column.python_values(np.flatnonzero(outside))).map(str)
        allowed = ", ".join(map(str, variable.allowed_values)) if variable.allowed_values else "see glossary"
        messages[outside] = (f"{header}: " + shown + f" is not an allowed value (allowed: {allowed})").to_numpy()
        column.values[outside] = np.nan if column.is_float else None
    return messages


# ----------------------------------------------------------- binding -----------


def needed_variables(rules: RuleSet) -> dict[str, dict[str, list[str]]]:
    """entity -> variable -> decisions that need it."""
    need: dict[str, dict[str, list[str]]] = {}
    for table in rules.decisions:
        for name in sorted(referenced_names(table)):
            var = rules.variables.get(name)
            if var is None or rules.producer(name) is not None or var.entity is None:
                continue
            need.setdefault(var.entity, {}).setdefault(name, []).append(table.name)
    return need


def bind(rules: RuleSet, sheets: list[Sheet], source: str = "") -> dict[str, EntityRows]:
    """Typed rows per entity present in the workbook. Raises MissingColumnError
    (all missing columns at once) when a needed column is absent."""
    need = needed_variables(rules)
    used_entities = {t.entity for t in rules.decisions if t.entity}
    wanted = set(used_entities)
    for entity in list(used_entities):
        parent = rules.entities[entity].parent if entity in rules.entities else None
        while parent:
            wanted.add(parent)
            parent = rules.entities[parent].parent
    found: dict[str, EntityRows] = {}
    missing: list[str] = []
    for name in [e for e in rules.entities if e in wanted]:
        entity_def = rules.entities[name]
        sheet = find_sheet(sheets, entity_def.sheets + (name,))
        if sheet is None:
            continue
        columns, errors = {}, {}
        variables = dict(need.get(name, {}))
        key_var = rules.variables.get(entity_def.key)
        if key_var is not None:
            variables.setdefault(entity_def.key, [])
        for var_name, users in variables.items():
            var = rules.variables[var_name]
            header = variable_column(var, sheet.frame.columns)
            if header is None:
                shown = " / ".join((*var.headers, var.name)) if var.headers else var.name
                needed = f"needed by {', '.join(users)}" if users else "the row key"
                missing.append(f"sheet {sheet.name!r} has no column {shown} ({needed})")
                continue
            column, messages = coerce(sheet.frame[header].to_numpy(dtype=object), var)
            columns[var_name] = column
            if messages is not None:
                errors[var_name] = messages
        keys = None
        if entity_def.key in columns:
            keys = columns[entity_def.key].python_values()
        found[name] = EntityRows(name, sheet.name, sheet.frame, columns, errors, keys)
        if keys is not None:
            key_series = pd.Series(keys, dtype=object)
            mark_duplicate_keys(rules, found[name], (key_series.duplicated() & key_series.notna()).to_numpy())
    if missing:
        raise MissingColumnError("; ".join(missing), Position(source or None))
    for rows in found.values():
        _link_parent(rules, rows, found, missing)
    if missing:
        raise MissingColumnError("; ".join(missing), Position(source or None))
    for entity in used_entities:
        parent = rules.entities[entity].parent if entity in rules.entities else None
        if entity in found and parent and parent not in found and _uses_parent(rules, entity):
            sheets_wanted = " / ".join(rules.entities[parent].sheets)
            raise MissingColumnError(
                f"no sheet {sheets_wanted}: decisions over {entity} need {parent} values", Position(source or None)
            )
    return found


def variable_column(variable: Variable, columns) -> str | None:
    """The column of a sheet that holds a glossary variable: one of its headers, its
    name or its label (compared as ``normalize_header`` does)."""
    return find_column(columns, (*variable.headers, variable.name, variable.label))


def find_column(columns, names) -> str | None:
    """The first of ``names`` that is one of ``columns``."""
    headers = {normalize_header(h): h for h in columns}
    return next((headers[normalize_header(h)] for h in names if h and normalize_header(h) in headers), None)


def mark_duplicate_keys(rules: RuleSet, rows: EntityRows, duplicate: np.ndarray):
    """A key used twice is a row error on the later rows (``duplicate``: those rows);
    links use the first."""
    if not duplicate.any() or rows.keys is None:
        return
    name = rules.entities[rows.entity].key
    variable = rules.variables[name]
    header = variable.headers[0] if variable.headers else name
    messages = rows.cell_errors.get(name, np.full(len(rows.keys), None, dtype=object)).copy()
    messages[duplicate] = (
        f"{header} "
        + pd.Series(rows.keys[duplicate], dtype=object).astype(str)
        + " appears more than once; the first row is used for links"
    ).to_numpy()
    rows.cell_errors[name] = messages


def _uses_parent(rules: RuleSet, entity: str) -> bool:
    own = {entity}
    for table in rules.decisions:
        if table.entity != entity:
            continue
        for name in referenced_names(table):
            producer = rules.producer(name)
            owner = producer.entity if producer else (rules.variables[name].entity if name in rules.variables else None)
            if owner is not None and owner not in own:
                return True
    return False


def _link_parent(rules: RuleSet, rows: EntityRows, found: dict[str, EntityRows], missing: list[str]):
    entity = rules.entities[rows.entity]
    if not entity.parent or entity.parent not in found:
        return
    parent = found[entity.parent]
    links = entity.link or ()
    header = find_column(rows.frame.columns, links)
    if header is None:
        missing.append(
            f"sheet {rows.sheet!r} has no column {' / '.join(links)} (links each row to its {entity.parent} row)"
        )
        return
    if parent.keys is None:
        missing.append(f"sheet {parent.sheet!r} has no key column {entity.key}")
        return
    link = _as_string(pd.Series(rows.frame[header].to_numpy(dtype=object), dtype=object))
    parent_keys = pd.Series(parent.keys, dtype=object)
    first = ~parent_keys.duplicated().to_numpy() & parent_keys.notna().to_numpy()  # an empty key is nobody's
    index = pd.Index(parent_keys[first])
    found_at = index.get_indexer(pd.Index(link, dtype=object))
    found_at[pd.isna(link)] = -1  # an empty link finds no parent, even a row with an empty key
    positions = np.append(np.flatnonzero(first), -1)  # found_at -1 (not found) -> -1, also with no parent rows
    rows.parent_index = positions[found_at]
    absent = rows.parent_index < 0
    if absent.any():
        msg = np.full(len(rows), None, dtype=object)
        shown = pd.Series(link[absent], dtype=object).map(lambda v: "(empty)" if v is None else str(v))
        msg[absent] = (f"{header} " + shown + f" not found in sheet {parent.sheet}").to_numpy()
        rows.parent_missing = msg
