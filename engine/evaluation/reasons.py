"""Reason text: 'annual revenue 2,560 ≥ 1,000 and industry 金融 → platinum
(rule CT-03: large finance clients)'. Built per rule for the rows that rule
decided; each distinct value is formatted once and gathered, so no row loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.evaluation.columns import Column, to_python
from engine.feel import sfeel


def format_values(type_: str | None, values: np.ndarray) -> np.ndarray:
    """Object array of display strings ('2,560', '金融', 'true', '2026-01-31', 'empty')."""
    if len(values) == 0:
        return np.empty(0, dtype=object)
    if values.dtype.kind == "f" and type_ in (None, "number"):
        return format_numbers(values)
    if values.dtype.kind == "f":
        uniques, inverse = np.unique(values, return_inverse=True)
        shown = np.array([sfeel.format_value(v) for v in to_python(type_, uniques)], dtype=object)
        shown[shown == "null"] = "empty"
        return shown[inverse.ravel()]
    if type_ == "list":  # multi-hit outputs: one list per row
        return (
            pd.Series(values, dtype=object)
            .map(lambda v: "; ".join(sfeel.format_value(x) for x in v) if isinstance(v, list) else "empty")
            .to_numpy(dtype=object)
        )
    out = values.astype(object).copy()
    out[pd.isna(out)] = "empty"
    if pd.api.types.infer_dtype(out, skipna=True) != "string":  # numbers under an output without a declared type
        codes, uniques = pd.factorize(out)
        out = np.array([v if isinstance(v, str) else sfeel.format_value(v) for v in uniques], dtype=object)[codes]
    return out


def value_text(type_: str | None, values: np.ndarray) -> pa.Array:
    """``format_values`` as an Arrow string array (reasons are built with Arrow)."""
    if values.dtype.kind == "f" and type_ in (None, "number") and len(values):
        return number_text(values)
    return pa.array(format_values(type_, values), type=pa.string())


def number_text(values: np.ndarray) -> pa.Array:
    """Numbers as ``sfeel.format_value`` shows them ('2,560', '40.44', '-0.5'),
    computed with Arrow string kernels: numbers rarely repeat, so formatting each
    distinct value in Python would be a loop over the rows."""
    out = np.full(len(values), "empty", dtype=object)
    finite = np.isfinite(values)
    plain = finite & (np.abs(values) < 1e15)
    if plain.any():
        v = values[plain]
        v = np.where(np.abs(v) < 1e9, np.round(v, 6), v)  # np.round loses the last digits of big values
        whole = np.trunc(np.abs(v))
        digits = pc.cast(pa.array(whole.astype(np.int64)), pa.string())
        # six decimals as digits, trailing zeros dropped: 0.44 -> '440000' -> '44'
        micro = np.rint((np.abs(v) - whole) * 1e6).astype(np.int64)
        frac = pc.utf8_rtrim(pc.utf8_lpad(pc.cast(pa.array(micro), pa.string()), width=6, padding="0"), characters="0")
        frac = pc.if_else(pa.array(micro > 0), pc.binary_join_element_wise(".", frac, ""), "")
        lengths = pc.utf8_length(digits).to_numpy()
        order, groups = [], []
        for length in np.unique(lengths):  # at most 15 distinct lengths: cut each group at fixed places
            rows = np.flatnonzero(lengths == length)
            part = digits.take(pa.array(rows))
            cuts = list(range(length % 3 or 3, length, 3))
            pieces = [pc.utf8_slice_codeunits(part, a, b) for a, b in zip([0] + cuts, cuts + [length])]
            groups.append(pc.binary_join_element_wise(*pieces, ",") if len(pieces) > 1 else part)
            order.append(rows)
        position = np.empty(len(v), dtype=np.int64)
        position[np.concatenate(order)] = np.arange(len(v))
        grouped = pa.concat_arrays(groups).take(pa.array(position))
        sign = pa.array(np.where((v < 0) & ((whole > 0) | (micro > 0)), "-", ""))
        shown = pc.binary_join_element_wise(sign, grouped, frac, "")
        if plain.all():
            return shown
        out[plain] = shown.to_numpy(zero_copy_only=False)
    rest = finite & ~plain  # huge values: the general formatter
    if rest.any():
        out[rest] = [sfeel.format_value(float(x)) for x in values[rest]]
    return pa.array(out, type=pa.string())


def format_numbers(values: np.ndarray) -> np.ndarray:
    """``number_text`` as an object array."""
    return number_text(values).to_numpy(zero_copy_only=False)


def label_of(clause, variables) -> str:
    if isinstance(clause.expr, sfeel.Name) and clause.expr.name in variables:
        return variables[clause.expr.name].display
    if isinstance(clause.expr, sfeel.Name):
        return clause.expr.name.replace("_", " ")
    return clause.label


def condition_text(test, label: str, shown: pa.Array) -> pa.Array:
    """One condition for many rows: label, the row's value, the test."""
    if isinstance(test, sfeel.NullTest):
        return pa.array([f"{label} is empty"] * len(shown), pa.string())
    if isinstance(test, sfeel.Compare) and test.op == "=":
        return pc.binary_join_element_wise(f"{label} ", shown, "")
    return pc.binary_join_element_wise(f"{label} ", shown, " " + sfeel.describe_test(test), "")


def input_texts(
    table, inputs: list[Column], rule_rows: dict[int, np.ndarray], n: int
) -> list[tuple[pa.Array, np.ndarray] | None]:
    """Each input column's values as text, formatted once on the rows whose
    rules test that input (``rule_rows``: rule index -> rows it decided/matched)
    instead of once per rule: formatting has a fixed cost per call."""
    out: list[tuple[pa.Array, np.ndarray] | None] = []
    for k, column in enumerate(inputs):
        needed = np.zeros(n, dtype=bool)
        for i, rows in rule_rows.items():
            if not isinstance(table.rules[i].inputs[k], sfeel.AnyTest):
                needed[rows] = True
        if not needed.any():
            out.append(None)
            continue
        at = np.cumsum(needed) - 1  # row -> position among the formatted rows
        shown = value_text(column.type, column.values[needed])
        out.append((shown, at))
    return out


def rule_reasons(
    table, rule_index: int, inputs: list, rows: np.ndarray, outputs_shown: pa.Array, variables
) -> np.ndarray:
    """Reasons for the rows (positions) that rule `rule_index` decided, as an
    object array; ``inputs`` are the input values as text (``input_texts``)."""
    rule = table.rules[rule_index]
    parts = []
    for clause, texts, test in zip(table.inputs, inputs, rule.inputs):
        if isinstance(test, sfeel.AnyTest):
            continue
        shown, at = texts
        parts.append(condition_text(test, label_of(clause, variables), shown.take(pa.array(at[rows]))))
    if not parts:
        parts = [pa.array(["any case"] * len(rows), pa.string())]
    note = f" (rule {rule.id}: {rule.annotation})" if rule.annotation else f" (rule {rule.id})"
    text = pc.binary_join_element_wise(*parts, " and ")
    return pc.binary_join_element_wise(text, " → ", outputs_shown, note, "").to_numpy(zero_copy_only=False)


def outputs_text(table, values: dict[str, Column], rows: np.ndarray) -> pa.Array:
    """'platinum' for one output; 'legal review true, finance review false' for several."""
    shown = []
    for clause in table.outputs:
        col = values[clause.name]
        text = value_text(col.type, col.values[rows])
        shown.append(
            text
            if len(table.outputs) == 1
            else pc.binary_join_element_wise(f"{clause.name.replace('_', ' ')} ", text, "")
        )
    return shown[0] if len(shown) == 1 else pc.binary_join_element_wise(*shown, ", ")
