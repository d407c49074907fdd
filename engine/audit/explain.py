"""Plain-language explanation of one audited row (the text `kade explain` prints)."""

from __future__ import annotations

from engine.text import format_value

_NOT_OUTPUTS = ("rule", "error", "near_misses", "reason", "annotation")


def explain_row(entity: str, row: dict, annotations: dict | None = None, decision: str | None = None) -> str:
    """``row``: one audited row (engine.audit.row_table); ``annotations``:
    decision -> rule id -> annotation, from the run header."""
    annotations = annotations or {}
    lines = [f"{entity} {row.get('key')} (sheet row {row.get('row')})"]
    decisions = [field[: -len(".rule")] for field in row if field.endswith(".rule")]
    if decision is not None:
        if decision not in decisions:
            return f"{entity} {row.get('key')}: no decision {decision!r} (decisions: {', '.join(decisions)})"
        decisions = [decision]
    for name in decisions:
        lines.append("")
        if row.get(f"{name}.error"):
            lines.append(f"  {name}: not decided — {row[f'{name}.error']}")
            continue
        outputs = {
            k.split(".", 1)[1]: v
            for k, v in row.items()
            if k.startswith(name + ".") and k.split(".", 1)[1] not in _NOT_OUTPUTS
        }
        lines.append(f"  {name}: " + ", ".join(f"{k} = {format_value(v)}" for k, v in outputs.items()))
        rule_ids = row.get(f"{name}.rule") or ""
        lines.append(f"    rule:        {rule_ids}")
        why = [annotations.get(name, {}).get(i) for i in rule_ids.split(", ")]
        if any(why):
            lines.append(f"    why:         {' / '.join(w for w in why if w)}")
        misses = row.get(f"{name}.near_misses")
        if misses:
            lines.append("    near misses:")
            lines.extend(f"      - {m}" for m in misses.split(" | "))
    inputs = {k[3:]: v for k, v in row.items() if k.startswith("in.")}
    if inputs:
        lines.append("")
        lines.append("  inputs used: " + ", ".join(f"{k} = {format_value(v)}" for k, v in inputs.items()))
    return "\n".join(lines)
