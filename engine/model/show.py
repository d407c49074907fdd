"""Rule workbooks as stable, readable text: every decision table as an aligned
grid (hit policy, rule ids, entries, annotations), then the glossary, entities
and test sheets. Made for reviewers and for ``git diff`` (a textconv driver):

    # .gitattributes                      # once per clone
    rules/*.xlsx diff=kade-rules          git config diff.kade-rules.textconv "kade rules show --text"

``render_text(path)`` reads the workbook's cells as written, without resolving
names against the glossary: git hands the driver a lone temporary copy of one
file, and a diff must show a table even while it has errors. ``render_text(rules)``
renders a loaded RuleSet from the model instead; parsed cells are printed by
``engine.feel.printer``.
"""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook

from engine.feel import feel_literal, feel_text
from engine.model import HIT_POLICIES, DecisionTable, RuleSet, rulebook
from engine.text import display_width, format_value

TEST_SHEETS = {"tests", "测试"}
SEPARATOR = " | "
OUTPUT_SEPARATOR = " || "  # between the last input and the first output column


def _cell(text: str) -> str:
    # one line per row, and a '|' inside a cell must not read as a column break
    return text.replace("\r\n", "\n").replace("\n", "↵").replace("|", "\\|")


def grid(rows: list[list[str]], split_after: int | None = None) -> list[str]:
    """Rows of cell texts as aligned lines. The last column is not padded (it is
    usually the annotation), so a longer annotation changes one line only.
    ``split_after``: index of the last input column, followed by ' || '."""
    if not rows:
        return []
    width = max(len(r) for r in rows)
    cells = [[_cell(r[c]) if c < len(r) else "" for c in range(width)] for r in rows]
    widths = [max(display_width(row[c]) for row in cells) for c in range(width)]
    lines = []
    for row in cells:
        parts = []
        for c, text in enumerate(row):
            last = c == width - 1
            parts.append(text if last else text + " " * (widths[c] - display_width(text)))
            if not last:
                parts.append(OUTPUT_SEPARATOR if split_after is not None and c == split_after else SEPARATOR)
        lines.append("".join(parts).rstrip())
    return lines


def _policy(letter: str) -> str:
    name = HIT_POLICIES.get(letter.upper())
    return f"{letter} ({name.lower()})" if name else letter


# ---------------------------------------------------- workbook as written ------


def _sheet_kind(name: str, rows: list[list[str]]) -> str:
    key = name.strip().lower()
    if key in rulebook.GLOSSARY_SHEETS:
        return "glossary"
    if key in rulebook.ENTITY_SHEETS:
        return "entities"
    if key in TEST_SHEETS:
        return "tests"
    first = rows[0][0] if rows and rows[0] else ""
    return "decision" if rulebook._META_KEYS.get(first.strip().lower()) == "decision" else "sheet"


def _trim(rows: list[list[str]]) -> list[list[str]]:
    """Drop trailing empty cells and trailing empty rows (Excel formatting leftovers)."""
    out = []
    for row in rows:
        while row and row[-1] == "":
            row = row[:-1]
        out.append(row)
    while out and not out[-1]:
        out.pop()
    return out


def _decision_sheet_lines(rows: list[list[str]]) -> list[str]:
    kind_row = next(
        (
            r
            for r, row in enumerate(rows)
            if any(rulebook._KINDS.get(v.strip().lower()) in ("input", "output") for v in row[1:])
        ),
        None,
    )
    lines = []
    meta_end = kind_row if kind_row is not None else len(rows)
    for row in rows[:meta_end]:
        if any(row):
            lines.append(f"{row[0]}: {' '.join(v for v in row[1:] if v)}".rstrip())
    if kind_row is None:
        return lines
    end = kind_row + 2
    while end < len(rows) and any(rows[end]):
        end += 1  # the table ends at the first empty row, as the rulebook reads it
    table = rows[kind_row:end]
    kinds = [rulebook._KINDS.get(v.strip().lower()) for v in table[0]]
    inputs = [c for c, k in enumerate(kinds) if k == "input"]
    if len(table) > 1 and table[1]:
        lines.append(f"hit policy: {_policy(table[1][0].strip())}")
    lines.append("")
    lines.extend(grid(table, split_after=inputs[-1] if inputs else None))
    rest = [row for row in rows[end:] if any(row)]
    if rest:
        lines += ["", "below the table:"] + grid(rest)
    return lines


def _read_cells(path: Path) -> list[tuple[str, list[list[str]]]]:
    # From bytes: git's temporary copies need not end in .xlsx, and openpyxl checks the suffix.
    book = load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
    try:
        return [
            (ws.title, _trim([[rulebook.cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]))
            for ws in book.worksheets
        ]
    finally:
        book.close()


def render_workbook(path: str | Path) -> str:
    """One rule workbook (decision sheets, glossary, entities, tests) as text."""
    sections = []
    for name, rows in _read_cells(Path(path)):
        kind = _sheet_kind(name, rows)
        if kind == "decision":
            body = _decision_sheet_lines(rows)
        else:
            body = grid(rows) or ["(empty)"]
        sections.append("\n".join([f"== {kind} sheet {name} ==", *body]))
    return "\n\n".join(sections) + "\n"


# ------------------------------------------------------------ loaded model -----


def table_lines(table: DecisionTable) -> list[str]:
    """A decision table from the model, in the same layout as its sheet."""
    lines = [f"decision: {table.name}"]
    if table.title:
        lines.append(f"title: {table.title}")
    if table.entity:
        lines.append(f"rows: {table.entity}")
    lines += [f"hit policy: {_policy(table.hit_policy)}", ""]
    n_in = len(table.inputs)
    rows = [
        [""] + ["input"] * n_in + ["output"] * len(table.outputs) + ["annotation"],
        [table.hit_policy] + [c.label for c in table.inputs] + [o.name for o in table.outputs] + ["annotation"],
    ]
    for rule in table.rules:
        rows.append(
            [rule.id] + [feel_text(t) for t in rule.inputs] + [feel_text(e) for e in rule.outputs] + [rule.annotation]
        )
    if table.has_default:
        rows.append(["default"] + [""] * n_in + [feel_text(o.default) for o in table.outputs] + [""])
    lines.extend(grid(rows, split_after=n_in if n_in else None))
    return lines


def render_ruleset(rules: RuleSet) -> str:
    """Every decision (grouped by the file it came from), the glossary and entities."""
    sections = []
    for table in sorted(rules.decisions, key=lambda t: t.position.file or ""):  # stable: graph order within a file
        where = f"{table.position.file}!{table.position.sheet}" if table.position.file else table.name
        sections.append("\n".join([f"== decision sheet {where} ==", *table_lines(table)]))
    # required / computed columns only when some entry uses them: older rule sets read as before
    extra = any(v.required or v.computed is not None for v in rules.variables.values())
    glossary = [
        ["variable", "entity", "column header", "type", "allowed values", "label", "description"]
        + (["required", "computed"] if extra else [])
    ]
    for var in rules.variables.values():
        allowed = (
            ", ".join(feel_literal(v) for v in var.allowed_values) if var.allowed_values else feel_text(var.allowed)
        )
        row = [var.name, var.entity or "", " | ".join(var.headers), var.type or "", allowed, var.label, var.description]
        if extra:
            computed = f"{var.computed.text} = {format_value(var.value)}" if var.computed is not None else ""
            row += ["yes" if var.required else "", computed]
        glossary.append(row)
    sections.append("\n".join(["== glossary ==", *grid(glossary)]))
    entities = [["entity", "sheet", "key", "parent", "link"]]
    for ent in rules.entities.values():
        entities.append([ent.name, " | ".join(ent.sheets), ent.key, ent.parent or "", " | ".join(ent.link or ())])
    sections.append("\n".join(["== entities ==", *grid(entities)]))
    return "\n\n".join(sections) + "\n"


def render_text(source: str | Path | RuleSet) -> str:
    """A rule workbook (path) or a loaded RuleSet as stable text."""
    if isinstance(source, RuleSet):
        return render_ruleset(source)
    return render_workbook(source)
