"""Rule workbooks as stable, readable text: every decision table as an aligned
grid (hit policy, rule ids, entries, annotations), then the glossary, entities
and test sheets. Made for reviewers and for ``git diff`` (a textconv driver):

    # .gitattributes                      # once per clone
    rules/*.xlsx diff=kade-rules          git config diff.kade-rules.textconv "kade rules show --text"

``render_text(path)`` reads the workbook's cells as written, without resolving
names against the glossary: git hands the driver a lone temporary copy of one
file, and a diff must show a table even while it has errors. ``render_text(rules)``
renders a loaded RuleSet from the model instead. ``feel_text`` turns a parsed
cell back into S-FEEL text (used by the check and the diff as well).
"""

from __future__ import annotations

import datetime as dt
import io
import numbers
import unicodedata
from pathlib import Path

from openpyxl import load_workbook

from engine.feel import sfeel
from engine.model import HIT_POLICIES, DecisionTable, RuleSet, rulebook

TEST_SHEETS = {"tests", "测试"}
SEPARATOR = " | "
OUTPUT_SEPARATOR = " || "  # between the last input and the first output column


# ------------------------------------------------------------ S-FEEL text ------


def feel_literal(value) -> str:
    """A value as an S-FEEL literal: 1000, 29.1, "金融", true, date("2026-01-31"), null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Number):
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return f'date("{value.isoformat()}")'
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "=": 3,
    "!=": 3,
    "<": 3,
    "<=": 3,
    ">": 3,
    ">=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "**": 6,
}


def feel_text(node) -> str:
    """A parsed input or output entry back as S-FEEL text (canonical spelling:
    ``>= 1000``, ``[300..450)``, ``not("a", "b")``, ``standard_price * 1.2``)."""
    if node is None:
        return ""
    if isinstance(node, sfeel.AnyTest):
        return "-"
    if isinstance(node, sfeel.NullTest):
        return "null"
    if isinstance(node, sfeel.Compare):
        return feel_text(node.endpoint) if node.op == "=" else f"{node.op} {feel_text(node.endpoint)}"
    if isinstance(node, sfeel.Range):
        return f"{'[' if node.low_closed else '('}{feel_text(node.low)}..{feel_text(node.high)}{']' if node.high_closed else ')'}"
    if isinstance(node, sfeel.AnyOf):
        return ", ".join(feel_text(t) for t in node.tests)
    if isinstance(node, sfeel.Not):
        return f"not({feel_text(node.tests)})"
    if isinstance(node, sfeel.Literal):
        return feel_literal(node.value)
    if isinstance(node, sfeel.Name):
        return node.name
    if isinstance(node, sfeel.Unary):
        if node.op == "-":
            inner = feel_text(node.operand)
            return f"-{inner}" if isinstance(node.operand, (sfeel.Name, sfeel.Literal)) else f"-({inner})"
        return f"not({feel_text(node.operand)})"
    if isinstance(node, sfeel.Binary):
        mine = _PRECEDENCE[node.op]

        def side(child, right: bool) -> str:
            text = feel_text(child)
            if isinstance(child, sfeel.Binary):
                theirs = _PRECEDENCE[child.op]
                # operators associate to the left: a - (b - c) keeps its parentheses
                if theirs < mine or (right and theirs == mine):
                    return f"({text})"
            return text

        return f"{side(node.left, False)} {node.op} {side(node.right, True)}"
    call = getattr(sfeel, "Call", None)  # function invocations exist in the DMN dialect only
    if call is not None and isinstance(node, call):
        names = node.arg_names or (None,) * len(node.args)
        args = ", ".join(f"{n}: {feel_text(a)}" if n else feel_text(a) for n, a in zip(names, node.args))
        return f"{feel_text(node.function)}({args})"
    return str(node)


def shown_value(value) -> str:
    """A result or input value as a manager reads it: '2,560', '金融', '(empty)', lists comma-separated."""
    if value is None:
        return "(empty)"
    if isinstance(value, list):
        return ", ".join(shown_value(v) for v in value) if value else "(none)"
    return sfeel.format_value(value)


def json_value(value):
    """A value for JSON output: dates as ISO text, whole floats as integers."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


# ------------------------------------------------------------ text grids -------


def display_width(text: str) -> int:
    """Terminal columns: CJK characters take two, so Chinese headers still align."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


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
    glossary = [["variable", "entity", "column header", "type", "allowed values", "label", "description"]]
    for var in rules.variables.values():
        allowed = (
            ", ".join(feel_literal(v) for v in var.allowed_values) if var.allowed_values else feel_text(var.allowed)
        )
        glossary.append(
            [var.name, var.entity or "", " | ".join(var.headers), var.type or "", allowed, var.label, var.description]
        )
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
