"""Binding a register to the rules: find each entity's sheet and columns through
the glossary, coerce values to the declared types, join child rows to their parent.

A value that cannot be coerced never stops the run: the cell is recorded as a
row error (column and value named) and only decisions that need it fail. So is
a value outside the glossary's allowed values (its domain) and an empty cell of
a required variable; both messages cite the glossary row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import MissingColumnError, Position
from engine.evaluation.aggregates import constant_column
from engine.evaluation.columns import NULL, Column
from engine.feel import feel_text
from engine.io.registers import ANY_SHEET, Sheet, find_sheet, normalize_header
from engine.model import RuleSet, Variable
from engine.model.graph import referenced_names
from engine.text import format_value

_THOUSANDS = r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?"
_TRUE = {"true", "t", "yes", "y", "1", "是", "对", "有", "√", "✓", "真"}
_FALSE = {"false", "f", "no", "n", "0", "否", "不", "无", "×", "✗", "假"}
_DATE_FORMATS = ("ISO8601", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%d.%m.%Y")
_cell_types = np.frompyfunc(type, 1, 1)  # each cell's type: an object array of types


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


def coerce(raw: np.ndarray | pd.Series, variable: Variable) -> tuple[Column, np.ndarray | None]:
    """Typed column plus, if some cells failed, an object array of messages.
    ``raw``: cells as read (an object array), or a typed pandas Series, whose values
    pass through when its dtype already is the variable's type."""
    series = raw if isinstance(raw, pd.Series) else pd.Series(raw, dtype=object)
    present = None  # the cells not blank: a pass over every cell, made only when needed
    if variable.type is None:
        present = series.notna().to_numpy()
        kind = _kind_of_cells(series[present])
    else:
        kind = variable.type
    factorized = None
    if kind == "string":
        values, factorized = _as_text(series)
        bad = np.zeros(len(series), bool)
    else:
        typed = _typed(series, kind)
        if typed is not None:
            values, bad = typed, np.zeros(len(series), bool)
        elif kind == "number":
            numbers = _only_numbers(series)
            if numbers is None:
                values, bad = _as_number(series)
            else:
                values, bad = numbers
                present = ~np.isnan(values) | bad  # cells of numbers, NaN or None: what notna() would say
        else:
            present = series.notna().to_numpy() if present is None else present
            series = series.astype(object).where(present, None)
            values, bad = _convert(series, kind)
    column = Column(kind, values, factorized)
    messages = None
    if bad.any():
        messages = np.full(len(series), None, dtype=object)
        shown = series[bad].map(_shown)  # only the bad cells, for the message
        header = variable.headers[0] if variable.headers else variable.name
        messages[bad] = (
            f"{header}: cannot read " + shown.map(repr) + f" as {_TYPE_NAME.get(kind, 'a value')}"
        ).to_numpy()
        column.set_null(bad)
    if variable.required:
        messages = _check_required(column, variable, bad, messages)
    if variable.allowed is not None:
        present = series.notna().to_numpy() if present is None else present
        messages = _check_allowed(column, variable, present & ~bad, messages)
    return column, messages


def _kind_of_cells(cells: pd.Series) -> str:
    """The type of a variable without one (Any, from a DMN model): what its cells hold."""
    kinds = {type(v) for v in cells}
    if kinds and kinds <= {bool, np.bool_}:
        return "boolean"
    if kinds and all(_is_number_type(k) for k in kinds):
        return "number"
    if kinds and all(issubclass(k, dt.date) for k in kinds):
        return "date"
    return "string"


def _glossary_rule(variable: Variable) -> str:
    """Where the glossary says it, for a row error's message: the workbook's name,
    not its path, so the message is the same wherever kade runs."""
    position = variable.position
    where = str(position.at(file=Path(position.file).name) if position.file else position)
    return f" (glossary {where})" if where else ""


def _check_required(column: Column, variable: Variable, bad: np.ndarray, messages):
    """A required variable left empty is a row error, never a value no rule tests."""
    empty = column.isnull() & ~bad
    if empty.any():
        if messages is None:
            messages = np.full(len(column), None, dtype=object)
        header = variable.headers[0] if variable.headers else variable.name
        messages[empty] = f"{header}: empty, but the glossary requires a value{_glossary_rule(variable)}"
    return messages


def _typed(series: pd.Series, type_: str | None) -> np.ndarray | None:
    """A column whose dtype already is ``type_`` (a DataFrame built in code, not cells
    read from a sheet), converted without looking at each value; None otherwise."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if (type_ == "number" and dtype.kind in "iuf") or (type_ == "boolean" and dtype.kind == "b"):
            return series.to_numpy(dtype=float)
        if type_ == "date" and dtype.kind == "M":
            days = series.to_numpy().astype("datetime64[D]")
            return np.where(np.isnat(days), np.nan, days.astype("int64").astype(float))
    elif (type_ == "number" and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)) or (
        type_ == "boolean" and pd.api.types.is_bool_dtype(dtype)
    ):
        return series.to_numpy(dtype=float, na_value=np.nan)  # nullable Int64, Float64, boolean
    return None


def _convert(series: pd.Series, type_: str) -> tuple[np.ndarray, np.ndarray]:
    """Boolean or date cells (objects, None for blanks) to a typed array and the cells
    that failed. Text true/false (是/否) and dates repeat: each distinct cell is converted once."""
    convert = _as_boolean if type_ == "boolean" else _as_date
    if pd.api.types.infer_dtype(series.to_numpy(), skipna=True) in ("string", "boolean", "date", "datetime"):
        # one kind of value, so equal cells are equal values (factorize would merge True, 1 and 1.0)
        codes, uniques = pd.factorize(series.to_numpy())
        values, bad = convert(pd.Series(uniques, dtype=object))
        return np.append(values, np.nan)[codes], np.append(bad, False)[codes]
    return convert(series)


def _shown(value) -> str:
    """A cell's value in a message: long text cut (the cell is named beside it)."""
    text = str(value)
    return text if len(text) <= 60 else text[:60] + "…"


_TYPE_NAME = {"number": "a number", "boolean": "true/false (是/否)", "date": "a date", "string": "text"}


def _as_text(series: pd.Series) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Text, trimmed; a cell of only spaces is empty. Objects (None for blanks) and,
    when the cells are all text, their factorisation (so the evaluators need not
    factorise again)."""
    if not isinstance(series.dtype, pd.StringDtype) and pd.api.types.infer_dtype(
        series.to_numpy(), skipna=True
    ) not in ("string", "empty"):
        return _as_string(series.astype(object).where(series.notna(), None)), None
    import pyarrow as pa
    import pyarrow.compute as pc

    # the cells are the strings themselves: factorised as they are, trimmed per distinct
    # value (in Arrow); only the values trimming changed become new strings
    codes, distinct = pd.factorize(series)
    uniques = np.asarray(distinct, dtype=object)
    raw = pa.array(uniques, type=pa.string())
    trimmed = pc.utf8_trim_whitespace(raw)
    changed = np.flatnonzero(
        pc.not_equal(pc.binary_length(trimmed), pc.binary_length(raw)).to_numpy(zero_copy_only=False)
    )
    if len(changed):
        cut = trimmed.take(pa.array(changed)).to_numpy(zero_copy_only=False)
        uniques[changed] = np.where(cut == "", None, cut)  # a cell of only spaces is empty; '' as typed stays ''
        merged, merged_uniques = pd.factorize(uniques)  # ' a' and 'a' are one value once trimmed
        uniques = np.asarray(merged_uniques, dtype=object)
        codes = np.where(codes < 0, -1, merged[codes])
    return np.append(uniques, NULL)[codes], (codes, uniques)


def _as_string(series: pd.Series) -> np.ndarray:
    """Cells of any kind as text: 1001.0 -> '1001', a date -> '2026-01-31'."""
    out = series.to_numpy(dtype=object).copy()
    is_str = _cell_types(series.to_numpy(dtype=object)) == str
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


def _is_number_type(kind: type) -> bool:
    """A cell of this type is a number: Python's int and float, numpy's; never a boolean."""
    return issubclass(kind, (int, float, np.integer, np.floating)) and not issubclass(kind, (bool, np.bool_))


def _number_cells(kinds: np.ndarray) -> np.ndarray:
    """Which cells are numbers, given each cell's type (tested once per distinct type)."""
    codes, distinct = pd.factorize(kinds)  # not kinds == np.float64: numpy reads that class as a dtype
    return np.array([_is_number_type(kind) for kind in distinct], dtype=bool)[codes]


_NUMBERS_OR_BLANKS = {"floating", "integer", "mixed-integer-float", "empty"}


def _only_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """The usual number column, whose cells are all numbers or blank, as floats in one
    pass (no per-cell types, which cost more than the conversion on a million rows);
    None when some cell is anything else (text, a boolean, a date)."""
    cells = series.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(cells, skipna=True) not in _NUMBERS_OR_BLANKS:
        return None
    try:
        out = cells.astype(float)  # None and NaN are NaN
    except TypeError:  # pd.NA or NaT among the numbers: the general path blanks them
        return None
    return _finite(out, np.zeros(len(out), bool))


def _finite(out: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An infinite number ('1e309', or a stored inf) is no amount a register holds: a bad cell."""
    infinite = np.isinf(out)
    if infinite.any():
        bad |= infinite
        out[infinite] = np.nan
    return out, bad


def _as_number(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells of any kind (blanks as read: None, NaN, pd.NA...) as numbers and the cells
    that failed: text is parsed ('1,234.5', full-width digits), anything else is bad."""
    cells = series.to_numpy(dtype=object)
    kinds = _cell_types(cells)  # one pass over the cells; the masks below look at their types only
    numeric = _number_cells(kinds)
    out = np.full(len(series), np.nan)
    out[numeric] = cells[numeric].astype(float)
    bad = np.zeros(len(series), bool)
    is_str = kinds == str
    if is_str.any():
        text = series[is_str].str.strip()
        parsed = _parse_numbers(text)
        typed = (text != "").to_numpy()
        failed = np.isnan(parsed) & typed
        if failed.any():  # full-width digits an input method typed (１２３，４５６) are the same number
            parsed[failed] = _parse_numbers(text[failed].str.translate(_FULL_WIDTH).str.strip())
        out[is_str] = parsed
        bad[is_str] = np.isnan(parsed) & typed
    other = np.flatnonzero(~numeric & ~is_str)
    bad[other] = pd.notna(cells[other])  # booleans, dates, times in a number column; not blanks
    return _finite(out, bad)


_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，－＋ｅＥ\u3000", "0123456789.,-+eE ")


def _parse_numbers(text: pd.Series) -> np.ndarray:
    """'1,234.5', '-7', '2e3' as floats; NaN for anything else."""
    text = text.where(~text.str.fullmatch(_THOUSANDS), text.str.replace(",", "", regex=False))
    number = text.str.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
    return np.array(pd.to_numeric(text.where(number, None), errors="coerce"), dtype=float)


def _as_boolean(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    kinds = _cell_types(series.to_numpy(dtype=object))
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
    kinds = _cell_types(series.to_numpy(dtype=object))
    out = np.full(len(series), np.nan)
    is_date = (kinds == dt.date) | (kinds == dt.datetime) | (kinds == pd.Timestamp)
    if is_date.any():
        stamps = pd.to_datetime(
            series[is_date].map(lambda d: d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day))
        )
        out[is_date] = (stamps.to_numpy().astype("datetime64[D]").astype("int64")).astype(float)
    is_num = _number_cells(kinds)
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


def _mark_unreadable(cells: dict[int, str] | None, column: Column, variable: Variable, messages):
    """Cells the reader had no value for (an error value, a formula saved without
    its result) are row errors naming the cell, never empty values."""
    if not cells:
        return messages
    rows = np.fromiter(cells, dtype=np.int64, count=len(cells))
    header = variable.headers[0] if variable.headers else variable.name
    if messages is None:
        messages = np.full(len(column), None, dtype=object)
    messages[rows] = [f"{header}: {what}" for what in cells.values()]
    column.values[rows] = np.nan if column.is_float else None
    return messages


def _check_allowed(column: Column, variable: Variable, present: np.ndarray, messages):
    from engine.evaluation.vectorized import test_mask

    ok = test_mask(variable.allowed, column, {})
    outside = present & ~ok
    if outside.any():
        if messages is None:
            messages = np.full(len(column), None, dtype=object)
        header = variable.headers[0] if variable.headers else variable.name
        shown = pd.Series(column.python_values(np.flatnonzero(outside))).map(format_value)
        if variable.allowed_values:
            allowed = ", ".join(map(str, variable.allowed_values))
            why = f" is not an allowed value (allowed: {allowed}){_glossary_rule(variable)}"
        else:
            why = f" is outside the allowed values {feel_text(variable.allowed)}{_glossary_rule(variable)}"
        messages[outside] = (f"{header}: " + shown + why).to_numpy()
        column.set_null(outside)
    return messages


# ----------------------------------------------------------- binding -----------


def needed_variables(rules: RuleSet) -> dict[str, dict[str, list[str]]]:
    """entity -> variable -> decisions that need it."""
    need: dict[str, dict[str, list[str]]] = {}
    for table in rules.decisions:
        for name in sorted(referenced_names(table)):
            var = rules.variables.get(name)
            if var is None or rules.producer(name) is not None or var.entity is None or var.computed:
                continue
            need.setdefault(var.entity, {}).setdefault(name, []).append(table.name)
    return need


def _sheet_with_columns(sheets: list[Sheet], variables: list[Variable]) -> Sheet | None:
    """The sheet with the most of ``variables``' columns (the first of equals), if it has any."""
    found = [sum(variable_column(v, s.frame.columns) is not None for v in variables) for s in sheets]
    best = max(range(len(sheets)), key=lambda k: found[k], default=None)
    return sheets[best] if best is not None and found[best] > 0 else None


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
        if sheet is None and ANY_SHEET in entity_def.sheets:
            sheet = _sheet_with_columns(sheets, [rules.variables[v] for v in need.get(name, {})])
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
            column, messages = coerce(sheet.frame[header], var)
            messages = _mark_unreadable(sheet.unreadable.get(header), column, var, messages)
            columns[var_name] = column
            if messages is not None:
                errors[var_name] = messages
        for var in rules.variables.values():  # computed from the rules: the same on every row
            if var.computed is not None and var.entity == name:
                columns[var.name] = constant_column(var, len(sheet.frame))
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
    link, _codes = _as_text(rows.frame[header])
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
