"""Near misses: for each row, the closest rules that did not fire and which of
their conditions failed, with the row's values ('CT-04 → platinum not matched:
client score 410 is not ≥ 450'). Used by the audit trail and `kade explain`.
Vectorized per rule and condition, like the reasons."""

from __future__ import annotations

import numpy as np

from engine import feel
from engine.evaluation.columns import Column
from engine.evaluation.reasons import computed_names, label_of
from engine.evaluation.vectorized import test_mask
from engine.text import format_values

NOT_CANDIDATE = np.iinfo(np.int16).max


def _outputs_text(rule) -> str:
    return ", ".join(feel.describe_expr(e) for e in rule.outputs)


def _needs(test, variables) -> str:
    text = feel.describe_test(test, computed_names(variables))
    return text[2:] if text.startswith("= ") else text


def near_misses(
    table, inputs: list[Column], env, matrix: np.ndarray, rows: np.ndarray, variables, keep: int = 3
) -> np.ndarray:
    """Object array over all n rows: ' | '-joined near misses for ``rows`` (bool mask), None elsewhere."""
    n = matrix.shape[1]
    out = np.full(n, None, dtype=object)
    if not table.rules or not rows.any():
        return out
    masks: dict = {}
    fails = np.zeros((len(table.rules), n), dtype=np.int16)
    for r, rule in enumerate(table.rules):
        for j, test in enumerate(rule.inputs):
            if isinstance(test, feel.AnyTest):
                continue
            key = (j, test)
            if key not in masks:
                masks[key] = test_mask(test, inputs[j], env)
            fails[r] += ~masks[key]
    fails[matrix] = NOT_CANDIDATE  # rules that fired are not misses
    fails[:, ~rows] = NOT_CANDIDATE
    order = np.argsort(fails, axis=0, kind="stable")[:keep]
    acc = np.full(n, "", dtype=object)
    for slot in range(min(keep, len(table.rules))):
        chosen = order[slot]
        valid = fails[chosen, np.arange(n)] < NOT_CANDIDATE
        for r in np.unique(chosen[valid]):
            idx = np.flatnonzero(valid & (chosen == r))
            rule = table.rules[r]
            text = np.full(len(idx), "", dtype=object)
            for j, test in enumerate(rule.inputs):
                if isinstance(test, feel.AnyTest):
                    continue
                failed = ~masks[(j, test)][idx]
                if not failed.any():
                    continue
                shown = format_values(inputs[j].type, inputs[j].values[idx])
                part = label_of(table.inputs[j], variables) + " " + shown + f", needs {_needs(test, variables)}"
                text = np.where(failed, np.where(text == "", part, text + " and " + part), text)
            line = f"{rule.id} → {_outputs_text(rule)} not matched: " + text
            acc[idx] = np.where(acc[idx] == "", line, acc[idx] + " | " + line)
    filled = acc != ""
    out[filled] = acc[filled]
    return out
