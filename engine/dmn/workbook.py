"""Write a loaded DMN model in kade's rule-workbook layout (see
``engine.model.rulebook``): a Glossary sheet (input data with their types and allowed
values), an Entities sheet, and one sheet per decision - metadata rows, the
input/output/annotation row, the header with the hit policy in the corner, one
row per rule, the default row. As a rules folder: ``glossary.xlsx`` (Glossary
and Entities) and one workbook of the decision sheets, named after the model.

Names stay as DMN has them, spaces included (``Monthly Salary``,
``Approval Status``, ``Loan.amount`` for component ``amount`` of a structured
input ``Loan``); only a name no cell could refer to (``12 Months``, ``true``)
gets another, its DMN name kept as the variable's column header and label. An
input data without a type is ``any`` in the glossary. A model without kade's
entities gets one, ``rows``, read from whichever sheet has its input columns
(``engine.dmn.rules_source``). Business knowledge models have no place in a
workbook: a literal-expression BKM is written inline at each invocation; a
decision-table BKM is refused. Literal-expression decisions become a one-rule
table without inputs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from engine import feel
from engine.dmn.item_definitions import normalize_allowed
from engine.dmn.loader import load_dmn
from engine.dmn.model import DmnModel
from engine.dmn.rules_source import evaluable_rules
from engine.io.writers import atomic_path
from engine.model import DecisionTable, RuleSet, Variable
from engine.model.rulebook import DEFAULT_MARKERS, GLOSSARY_HEADER

_HEAD = PatternFill("solid", fgColor="DDEBF7")
_OUT = PatternFill("solid", fgColor="E2EFDA")
_NOTE = PatternFill("solid", fgColor="FFF2CC")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?$")
_RESERVED_WORDS = {"true", "false", "null", "not", "and", "or", "date"}


@dataclass
class WorkbookSummary:
    path: Path  # the workbook, or the rules folder
    decisions: list[str]
    variables: int
    renamed: dict[str, str] = field(default_factory=dict)  # DMN name -> workbook name
    notes: list[str] = field(default_factory=list)  # what the DMN loader read leniently
    files: list[Path] = field(default_factory=list)  # the workbooks written


def import_dmn(dmn: str | Path, target: str | Path) -> WorkbookSummary:
    """Load ``dmn`` and write it as the rule workbook ``target`` (a path ending in
    .xlsx) or as the rules folder ``target`` (any other path)."""
    model = load_dmn(dmn)
    if Path(target).suffix.lower() == ".xlsx":
        return write_rule_workbook(model, target)
    return write_rules_folder(model, target)


def write_rule_workbook(model: DmnModel, path: str | Path) -> WorkbookSummary:
    """Write ``model`` as one rule workbook; see the module docstring."""
    path = Path(path)
    wb = Workbook()
    wb.remove(wb.active)
    summary = _write(model, wb, wb)
    with atomic_path(path) as tmp:  # a missing folder is made; a half-written file never stays
        wb.save(tmp)
    summary.path, summary.files = path, [path]
    return summary


def write_rules_folder(model: DmnModel, folder: str | Path) -> WorkbookSummary:
    """Write ``model`` as a rules folder: glossary.xlsx and a workbook of its decisions."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    glossary, tables = Workbook(), Workbook()
    glossary.remove(glossary.active)
    tables.remove(tables.active)
    summary = _write(model, glossary, tables)
    stem = re.sub(r'[\\/:*?"<>|\s]+', "_", model.name).strip("_.") or "decisions"
    files = [folder / "glossary.xlsx", folder / f"{stem if stem.lower() != 'glossary' else 'decisions'}.xlsx"]
    for book, file in zip((glossary, tables), files):
        with atomic_path(file) as tmp:  # a half-written file never stays
            book.save(tmp)
    summary.path, summary.files = folder, files
    return summary


def _write(model: DmnModel, glossary_book, tables_book) -> WorkbookSummary:
    rules = evaluable_rules(model)
    names = _workbook_names(rules)
    rename: Callable[[str], str] = lambda n: names.get(n, n)
    variables = _glossary(model, rules, names)
    _write_glossary(glossary_book, variables)
    _write_entities(glossary_book, rules)
    aliases = _aliases(variables, {rename(o) for t in rules.decisions for o in t.output_names})
    sheet_names = {"glossary", "entities"}
    for table in rules.decisions:
        _write_table(tables_book, _renamed_table(table, rename), aliases, sheet_names)
    return WorkbookSummary(
        Path(),
        [rename(t.name) for t in rules.decisions],
        len(variables),
        {k: v for k, v in names.items() if k != v},
        list(model.notes),
    )


def _is_workbook_name(name: str) -> bool:
    return name.lower() not in _RESERVED_WORDS and feel.is_name(name)


def _workbook_names(rules: RuleSet) -> dict[str, str]:
    """kade name -> name for the workbook (the same where cells can refer to it as it is)."""
    wanted = list(rules.variables) + [n for t in rules.decisions for n in (t.name, *t.output_names)]
    names: dict[str, str] = {}
    used = {n for n in wanted if _is_workbook_name(n)}
    for name in wanted:
        if name in names:
            continue
        if _is_workbook_name(name):
            names[name] = name
            continue
        base = re.sub(r"[^\w.]+", "_", name).strip("_.") or "name"
        base = base if not base[0].isdigit() and base.lower() not in _RESERVED_WORDS else f"_{base}"
        candidate, k = base, 2
        while candidate in used or not _is_workbook_name(candidate):
            candidate, k = f"{base}_{k}", k + 1
        used.add(candidate)
        names[name] = candidate
    return names


def _renamed_table(table: DecisionTable, rename) -> DecisionTable:
    def names(node):
        return feel.map_names(node, rename) if node is not None else None

    return dataclasses.replace(
        table,
        name=rename(table.name),
        inputs=tuple(dataclasses.replace(c, expr=names(c.expr)) for c in table.inputs),
        outputs=tuple(dataclasses.replace(o, name=rename(o.name), default=names(o.default)) for o in table.outputs),
        rules=tuple(
            dataclasses.replace(r, inputs=tuple(map(names, r.inputs)), outputs=tuple(map(names, r.outputs)))
            for r in table.rules
        ),
    )


# -------------------------------------------------------------- glossary -----


def _glossary(model: DmnModel, rules: RuleSet, names: dict[str, str]) -> list[Variable]:
    """Glossary entries, renamed. A model from another tool also gets entries for
    decision outputs whose type or allowed values it declares (P and O tables
    take their priorities from there)."""
    variables = []
    for variable in rules.variables.values():
        variables.append(_renamed_variable(variable, names))
    if not model.kade_authored:
        known = set(rules.variables)
        for table in rules.decisions:
            for clause in table.outputs:
                if clause.name in known or (clause.type is None and not clause.allowed_values):
                    continue
                type_ = clause.type or _type_of_values(clause.allowed_values)
                allowed, values = (None, ())
                if clause.allowed_values:
                    allowed, values = normalize_allowed(
                        feel.AnyOf(tuple(feel.Compare("=", feel.Literal(v, type_)) for v in clause.allowed_values))
                    )
                variables.append(
                    _renamed_variable(
                        Variable(
                            clause.name,
                            table.entity,
                            (),
                            type_,
                            allowed,
                            values,
                            "",
                            f"output of decision {table.name}",
                        ),
                        names,
                    )
                )
                known.add(clause.name)
    return variables


def _renamed_variable(variable: Variable, names: dict[str, str]) -> Variable:
    new = names.get(variable.name, variable.name)
    if new == variable.name:
        return variable
    return dataclasses.replace(
        variable, name=new, headers=variable.headers or (variable.name,), label=variable.label or variable.name
    )


def _type_of_values(values) -> str:
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        return feel.BOOLEAN
    if kinds <= {int, float}:
        return feel.NUMBER
    return feel.STRING


def _aliases(variables: list[Variable], outputs: set[str]) -> dict[str, str]:
    """What a header may say for each name, as the rule-workbook reader resolves it."""
    aliases: dict[str, str] = {}
    for var in variables:
        for alias in (var.label, *var.headers):
            if alias:
                aliases.setdefault(alias, var.name)
                aliases.setdefault(alias.lower(), var.name)
    for name in outputs:
        aliases.setdefault(name, name)
    for var in variables:
        aliases[var.name] = var.name
    return aliases


# --------------------------------------------------------------- writing -----


def _put(ws, row: int, col: int, value, *, bold=False, fill=None):
    cell = ws.cell(row, col)
    if isinstance(value, str) and _PLAIN_NUMBER.match(value):
        number = float(value)
        value = int(number) if number.is_integer() and "." not in value else number
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text, not a formula
    if bold:
        cell.font = Font(bold=True)
    if fill is not None:
        cell.fill = fill
    return cell


def _write_glossary(wb, variables: list[Variable]):
    ws = wb.create_sheet("Glossary")
    header = list(GLOSSARY_HEADER)
    for c, text in enumerate(header, start=1):
        _put(ws, 1, c, text, bold=True, fill=_HEAD)
    for r, var in enumerate(variables, start=2):
        row = [
            var.name,
            var.entity or "",
            " | ".join(var.headers),
            var.type or "any",
            feel.unary_tests_text(var.allowed) if var.allowed is not None else "",
            var.label,
            var.description,
            var.records or "",
            var.compare or "",
            "yes" if var.required else "",
            var.computed.text if var.computed is not None else "",
        ]
        for c, value in enumerate(row, start=1):
            ws.cell(r, c).value = value if value != "" else None
            if isinstance(value, str) and value.startswith("="):
                ws.cell(r, c).data_type = "s"
    for c in range(1, len(header) + 1):
        ws.column_dimensions[get_column_letter(c)].width = 24
    ws.freeze_panes = "A2"


def _write_entities(wb, rules: RuleSet):
    ws = wb.create_sheet("Entities")
    for c, text in enumerate(["entity", "sheet", "key", "parent", "link"], start=1):
        _put(ws, 1, c, text, bold=True, fill=_HEAD)
    for r, entity in enumerate(rules.entities.values(), start=2):
        row = [entity.name, " | ".join(entity.sheets), entity.key, entity.parent, " | ".join(entity.link or ())]
        for c, value in enumerate(row, start=1):
            ws.cell(r, c).value = value or None
    ws.freeze_panes = "A2"


def _sheet_title(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "decision"
    title, k = base, 2
    while title.lower() in used:
        suffix = f"_{k}"
        title, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(title.lower())
    return title


def _input_header(clause, aliases: dict[str, str]) -> str:
    """The clause's label where the workbook reader resolves it to the same
    expression; the expression's text otherwise."""
    if isinstance(clause.expr, feel.Name):
        target = aliases.get(clause.label) or aliases.get(clause.label.lower())
        if target == clause.expr.name:
            return clause.label
    return feel.expression_text(clause.expr)


def _write_table(wb, table: DecisionTable, aliases: dict[str, str], used: set[str]):
    ws = wb.create_sheet(_sheet_title(table.name, used))
    meta = [("decision", table.name), ("title", table.title), ("rows", table.entity)]
    r = 1
    for key, value in meta:
        if value:
            _put(ws, r, 1, key, bold=True)
            _put(ws, r, 2, value)
            r += 1
    r += 1  # a blank row, as in the shipped workbooks
    kinds = ["input"] * len(table.inputs) + ["output"] * len(table.outputs) + ["annotation"]
    headers = [_input_header(c, aliases) for c in table.inputs] + [o.name for o in table.outputs] + ["annotation"]
    kind_row, header_row = r, r + 1
    _put(ws, header_row, 1, table.hit_policy, bold=True, fill=_HEAD)
    for c, (kind, header) in enumerate(zip(kinds, headers), start=2):
        fill = _OUT if kind == "output" else _NOTE if kind == "annotation" else _HEAD
        _put(ws, kind_row, c, kind, bold=True, fill=fill)
        _put(ws, header_row, c, header, bold=True, fill=fill)
    r = header_row + 1
    for index, rule in enumerate(table.rules, start=1):
        rule_id = rule.id if rule.id and rule.id.strip().lower() not in DEFAULT_MARKERS else f"R{index}"
        cells = (
            [feel.unary_tests_text(t) for t in rule.inputs]
            + [feel.expression_text(e) for e in rule.outputs]
            + [rule.annotation or None]
        )
        _put(ws, r, 1, rule_id)
        for c, value in enumerate(cells, start=2):
            _put(ws, r, c, value)
        r += 1
    if table.has_default:
        _put(ws, r, 1, "default")
        for k, clause in enumerate(table.outputs):
            if clause.default is not None:
                _put(ws, r, 2 + len(table.inputs) + k, feel.expression_text(clause.default))
    ws.column_dimensions["A"].width = 14
    for c in range(2, len(headers) + 2):
        ws.column_dimensions[get_column_letter(c)].width = 60 if c == len(headers) + 1 else 18
    ws.freeze_panes = ws.cell(header_row + 1, 2).coordinate
