"""Small builders for tests: decision tables from compact cell text, and env
columns from plain Python lists. Cells go through the real S-FEEL parser, so a
table here means exactly what the same cells mean in a rule workbook."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np

from engine import feel
from engine.evaluation.columns import Column, date_to_days
from engine.evaluation.decisions import evaluate_table
from engine.model import DecisionTable, InputClause, OutputClause, Rule

_FLOAT_TYPES = ("number", "boolean", "date")


def table(name="T", *, inputs, outputs, rules, hit_policy="U", default=None, entity="rows") -> DecisionTable:
    """Build a DecisionTable.

    inputs:  [(expression text, type)], e.g. [("x", "number")]
    outputs: [(name, type or None, allowed values tuple)] (type None is inferred
             from the rules' literals like the rulebook does; computed -> number)
    rules:   [(id, [input cells], [output cells]) or (id, inputs, outputs, annotation)]
    default: [output cells] of the default row, or None (no default row)
    """
    in_clauses = tuple(InputClause(text, feel.parse_expression(text), type_) for text, type_ in inputs)
    built = []
    for spec in rules:
        rule_id, in_cells, out_cells = spec[:3]
        annotation = spec[3] if len(spec) > 3 else ""
        assert len(in_cells) == len(in_clauses) and len(out_cells) == len(outputs), f"rule {rule_id}: wrong cell count"
        tests = tuple(feel.parse_unary_tests(cell, c.type) for cell, c in zip(in_cells, in_clauses))
        exprs = tuple(feel.parse_expression(cell) for cell in out_cells)
        built.append(Rule(rule_id, tests, exprs, annotation))
    defaults = (
        [None] * len(outputs) if default is None else [feel.parse_expression(c) if c != "" else None for c in default]
    )
    out_clauses = []
    for k, (out_name, type_, allowed) in enumerate(outputs):
        if type_ is None:
            type_ = _infer_type([r.outputs[k] for r in built])
        out_clauses.append(OutputClause(out_name, type_, tuple(allowed or ()), defaults[k]))
    return DecisionTable(name, entity, hit_policy, in_clauses, tuple(out_clauses), tuple(built))


def _infer_type(exprs) -> str | None:
    types = {e.type for e in exprs if isinstance(e, feel.Literal) and e.type}
    if any(not isinstance(e, feel.Literal) for e in exprs):
        types.add("number")
    return types.pop() if len(types) == 1 else None


def column(type_: str, values) -> Column:
    """A Column from Python values (None = null)."""
    if type_ in _FLOAT_TYPES:
        out = []
        for v in values:
            if v is None:
                out.append(math.nan)
            elif type_ == "date":
                out.append(date_to_days(dt.date.fromisoformat(v) if isinstance(v, str) else v))
            else:
                out.append(float(v))
        return Column(type_, np.array(out, dtype=float))
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return Column(type_, arr)


def _guess_type(values) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    if present and all(isinstance(v, dt.date) for v in present):
        return "date"
    if present and all(isinstance(v, str) for v in present):
        return "string"
    return "number"


def env(**columns) -> dict[str, Column]:
    """env(x=[1, None, 3], s=["a", None], d=("date", ["2026-01-31", None]))."""
    out = {}
    for name, spec in columns.items():
        if isinstance(spec, Column):
            out[name] = spec
        elif isinstance(spec, tuple):
            out[name] = column(*spec)
        else:
            out[name] = column(_guess_type(spec), spec)
    return out


def run(tbl: DecisionTable, **kwargs):
    """Evaluate ``tbl`` on env(**columns); options strict/reasons/blocked via
    ``_strict`` etc. are passed as keyword arguments prefixed with an underscore."""
    options = {k[1:]: kwargs.pop(k) for k in list(kwargs) if k.startswith("_")}
    e = env(**kwargs)
    n = len(next(iter(e.values())))
    return evaluate_table(tbl, e, n, **options)


def values(result, name: str) -> list:
    """An output column as plain Python (None for null; lists stay lists)."""
    col = result.outputs[name]
    vals = col.values
    if vals.dtype.kind == "f":
        out = [None if math.isnan(v) else v for v in vals.tolist()]
        if col.type == "boolean":
            out = [None if v is None else v == 1.0 for v in out]
        return out
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in vals.tolist()]


# --------------------------------------------------- registers as tables ------

SAMPLE = Path(__file__).resolve().parent.parent / "workbooks" / "key_accounts.xlsx"
SAMPLE_KEYS = {"客户": "客户编号", "合同": "合同编号", "方案申请": "申请编号", "SLA订单": "订单编号"}


def sample_as_parquet(folder: Path) -> Path:
    """The sample register converted to a folder of Parquet files, one per sheet
    (客户.parquet ...): mixed columns, as a hand-typed sheet has, become text."""
    from engine.io.registers import read_workbook
    from engine.io.writers import write_parquet

    write_parquet({sheet.name: sheet.frame for sheet in read_workbook(SAMPLE)}, folder)
    return folder


def cells(value):
    """A cell as compared across engines: NaN/NaT -> None, arrays -> lists."""
    import pandas as pd

    if isinstance(value, np.ndarray):
        return [cells(v) for v in value.tolist()]
    if isinstance(value, list):
        return [cells(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (not isinstance(value, (list, str)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def assert_same_cells(expected, got, keys: list[str]) -> None:
    """Two result frames hold the same columns and, row for row (sorted by
    ``keys``), the same cells."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    expected = expected.sort_values(keys, kind="stable").reset_index(drop=True)
    got = got.sort_values(keys, kind="stable").reset_index(drop=True)
    for column in expected.columns:
        want = [cells(v) for v in expected[column].tolist()]
        have = [cells(v) for v in got[column].tolist()]
        wrong = [(i, w, h) for i, (w, h) in enumerate(zip(want, have)) if w != h]
        assert not wrong, f"{column}: {len(wrong)} cells differ, first (row, expected, got): {wrong[:3]}"
