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


def computed_names(variables) -> dict[str, str]:
    """Computed glossary values as reasons show them: '★ cut-off 36.5'."""
    return {
        name: f"{var.display} {format_value(var.value)}"
        for name, var in (variables or {}).items()
        if var.computed is not None and var.value is not None
    }


def input_texts(
    table, inputs: list[Column], rule_rows: dict[int, np.ndarray], lo: int, hi: int, cache: dict
) -> list[tuple[pa.Array, np.ndarray] | None]:
    """Each input column's values as text for the rows lo..hi, formatted once on the
    rows whose rules test that input (``rule_rows``: rule index -> its rows, all in
    lo..hi) instead of once per rule: formatting has a fixed cost per call. Returns
    per input (texts, at): ``at[row - lo]`` is the row's place in the texts.
    ``cache`` keeps the text of each distinct value of a text column between blocks."""
    out: list[tuple[pa.Array, np.ndarray] | None] = []
    for k, column in enumerate(inputs):
        needed = np.zeros(hi - lo, dtype=bool)
        for i, rows in rule_rows.items():
            if not isinstance(table.rules[i].inputs[k], feel.AnyTest):
                needed[rows - lo] = True
        if not needed.any():
            out.append(None)
            continue
        at = np.cumsum(needed) - 1  # row -> position among the formatted rows
        if column.type == "string":  # text repeats: each distinct value once, then gathered
            codes, uniques = column.factorized()
            if k not in cache:
                cache[k] = value_text("string", np.append(uniques, NULL))
            codes = codes[lo:hi][needed]
            shown = cache[k].take(pa.array(np.where(codes < 0, len(uniques), codes)))
        else:
            shown = value_text(column.type, column.values[lo:hi][needed])
        out.append((shown, at))
    return out


OUTPUT = -1  # in a reason template: where the output text goes


def reason_templates(table, variables) -> list[list[str | int]]:
    """Per rule, its reason as pieces: text, ``k`` for the value of input k, and
    ``OUTPUT`` for the output text ('annual revenue ', 0, ' ≥ 1,000 and industry ',
    1, ' → ', OUTPUT, ' (rule CT-03)'). Built once per table: only the values differ
    from row to row."""
    names = computed_names(variables)
    labels = [label_of(clause, variables) for clause in table.inputs]
    out = []
    for rule in table.rules:
        pieces: list[str | int] = []
        for k, test in enumerate(rule.inputs):
            if isinstance(test, feel.AnyTest):
                continue
            sep = " and " if pieces else ""
            if isinstance(test, feel.NullTest):
                pieces.append(f"{sep}{labels[k]} is empty")
                continue
            pieces += [f"{sep}{labels[k]} ", k]
            if not (isinstance(test, feel.Compare) and test.op == "="):
                pieces.append(" " + feel.describe_test(test, names))
        pieces += [" → " if pieces else "any case → ", OUTPUT]
        pieces.append(f" (rule {rule.id}: {rule.annotation})" if rule.annotation else f" (rule {rule.id})")
        out.append(pieces)
    return out


def rule_reasons(
    template: list[str | int], inputs: list, rows: np.ndarray, said: pa.Array | str, lo: int = 0
) -> pa.Array:
    """Reasons for the rows (positions) one rule decided, as Arrow text: its
    template (``reason_templates``) with the rows' input values (``input_texts`` of
    the block starting at ``lo``) and output text (``said``: per row, or one text
    for all) put in. Adjacent texts are joined first: every piece costs a pass over
    the rows."""
    pieces: list = []
    for piece in template:
        if piece == OUTPUT:
            piece = said
        elif isinstance(piece, int):
            shown, at = inputs[piece]
            piece = shown.take(pa.array(at[rows - lo]))
        if isinstance(piece, str) and pieces and isinstance(pieces[-1], str):
            pieces[-1] += piece
        else:
            pieces.append(piece)
    if len(pieces) == 1:  # no value of its own: the same text on every row
        return pa.repeat(pa.scalar(pieces[0], pa.string()), len(rows))
    return pc.binary_join_element_wise(*pieces, "")


def joined(parts: list[tuple[np.ndarray, pa.Array]], separator: str = "; ") -> tuple[np.ndarray, pa.Array]:
    """Per row, the texts of every part that has it, in the order of ``parts``,
    joined: the reasons of a multi-hit row, one per matching rule. ``parts`` are
    (rows, texts) pairs; returns the rows (ascending, each once) and their texts."""
    rows = np.concatenate([r for r, _ in parts])
    # a counting sort by row, a row's texts in the parts' order: each part holds a row once
    low = int(rows.min())
    counts = np.bincount(rows - low)
    starts = np.cumsum(counts) - counts
    seen = np.zeros(len(counts), dtype=np.int64)
    place = np.empty(len(rows), dtype=np.int64)
    at = 0
    for part, _ in parts:
        k = part - low
        place[at : at + len(part)] = starts[k] + seen[k]
        seen[k] += 1
        at += len(part)
    order = np.empty(len(rows), dtype=np.int64)
    order[place] = np.arange(len(rows))
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
