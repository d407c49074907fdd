"""Reason text: 'annual revenue 2,560 ≥ 1,000 and industry 金融 → platinum
(rule CT-03: large finance clients)'. Built per rule for the rows that rule
decided; each distinct value is formatted once and gathered, so no row loop."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine import feel
from engine.evaluation.columns import NULL, Column
from engine.text import format_value, value_text


def label_of(clause, variables) -> str:
    if isinstance(clause.expr, feel.Name) and clause.expr.name in variables:
        return variables[clause.expr.name].display
    if isinstance(clause.expr, feel.Name):
        return clause.expr.name.replace("_", " ")
    return clause.label


def condition_text(test, label: str, shown: pa.Array, variables=None) -> pa.Array:
    """One condition for many rows: label, the row's value, the test."""
    if isinstance(test, feel.NullTest):
        return pa.array([f"{label} is empty"] * len(shown), pa.string())
    if isinstance(test, feel.Compare) and test.op == "=":
        return pc.binary_join_element_wise(f"{label} ", shown, "")
    return pc.binary_join_element_wise(
        f"{label} ", shown, " " + feel.describe_test(test, computed_names(variables)), ""
    )


def computed_names(variables) -> dict[str, str]:
    """Computed glossary values as reasons show them: '★ cut-off 36.5'."""
    return {
        name: f"{var.display} {format_value(var.value)}"
        for name, var in (variables or {}).items()
        if var.computed is not None and var.value is not None
    }


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
            if not isinstance(table.rules[i].inputs[k], feel.AnyTest):
                needed[rows] = True
        if not needed.any():
            out.append(None)
            continue
        at = np.cumsum(needed) - 1  # row -> position among the formatted rows
        if column.type == "string":  # text repeats: each distinct value once, then gathered
            codes, uniques = column.factorized()
            shown = value_text("string", np.append(uniques, NULL)).take(
                pa.array(np.where(codes < 0, len(uniques), codes)[needed])
            )
        else:
            shown = value_text(column.type, column.values[needed])
        out.append((shown, at))
    return out


def rule_reasons(
    table, rule_index: int, inputs: list, rows: np.ndarray, outputs_shown: pa.Array, variables
) -> pa.Array:
    """Reasons for the rows (positions) that rule `rule_index` decided, as Arrow
    text; ``inputs`` are the input values as text (``input_texts``)."""
    rule = table.rules[rule_index]
    parts = []
    for clause, texts, test in zip(table.inputs, inputs, rule.inputs):
        if isinstance(test, feel.AnyTest):
            continue
        shown, at = texts
        parts.append(condition_text(test, label_of(clause, variables), shown.take(pa.array(at[rows])), variables))
    if not parts:
        parts = [pa.array(["any case"] * len(rows), pa.string())]
    note = f" (rule {rule.id}: {rule.annotation})" if rule.annotation else f" (rule {rule.id})"
    text = pc.binary_join_element_wise(*parts, " and ")
    return pc.binary_join_element_wise(text, " → ", outputs_shown, note, "")


def joined(parts: list[tuple[np.ndarray, pa.Array]], separator: str = "; ") -> tuple[np.ndarray, pa.Array]:
    """Per row, the texts of every part that has it, in the order of ``parts``,
    joined: the reasons of a multi-hit row, one per matching rule. ``parts`` are
    (rows, texts) pairs; returns the rows (ascending, each once) and their texts."""
    rows = np.concatenate([r for r, _ in parts])
    order = np.argsort(rows, kind="stable")  # stable: a row's texts stay in the parts' order
    rows = rows[order]
    texts = pa.concat_arrays([t for _, t in parts]).take(pa.array(order))
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    offsets = pa.array(np.append(starts, len(rows)).astype(np.int32))
    return rows[starts], pc.binary_join(pa.ListArray.from_arrays(offsets, texts), separator)


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
