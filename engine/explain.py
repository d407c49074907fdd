"""Plain-language explanation of one audited row (the text `kade explain` prints)."""
from __future__ import annotations

import json


def explain_row(entity: str, key: str, payload: str, decision: str | None = None) -> str:
    data = json.loads(payload)
    lines = [f"{entity} {key} (sheet row {data.get('row')})"]
    decisions = []
    for field in data:
        if field.endswith(".rule"):
            decisions.append(field[: -len(".rule")])
    if decision is not None:
        if decision not in decisions:
            return f"{entity} {key}: no decision {decision!r} (decisions: {', '.join(decisions)})"
        decisions = [decision]
    inputs = {k[3:]: v for k, v in data.items() if k.startswith("in.")}
    for name in decisions:
        outputs = {k.split(".", 1)[1]: v for k, v in data.items()
                   if k.startswith(name + ".") and k.split(".", 1)[1] not in ("rule", "reason", "error", "annotation", "near_misses")}
        lines.append("")
        if data.get(f"{name}.error"):
            lines.append(f"  {name}: not decided — {data[f'{name}.error']}")
            continue
        shown = ", ".join(f"{k} = {_value(v)}" for k, v in outputs.items())
        lines.append(f"  {name}: {shown}")
        lines.append(f"    rule:        {data.get(f'{name}.rule')}")
        if data.get(f"{name}.annotation"):
            lines.append(f"    why:         {data[f'{name}.annotation']}")
        lines.append(f"    reason:      {data.get(f'{name}.reason')}")
        misses = data.get(f"{name}.near_misses")
        if misses:
            lines.append("    near misses:")
            lines.extend(f"      - {m}" for m in misses.split(" | "))
    if inputs:
        lines.append("")
        lines.append("  inputs used: " + ", ".join(f"{k} = {_value(v)}" for k, v in inputs.items()))
    return "\n".join(lines)


def _value(value) -> str:
    from .sfeel import format_value

    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "empty" if value is None else format_value(value)
