"""Read rule workbooks (rules/*.xlsx) into the rule model.

Layout of a decision sheet (docs/rule-tables.md has the manager's version)::

    A1 decision | client_tier          <- metadata: name, title, rows (entity)
    A2 title    | Client tier 客户分级
    A3 rows     | clients
    (blank)
       (empty)  | input     | input    | output      | annotation   <- kind row
       F        | annual_revenue | industry | client_tier | why     <- header; A = hit policy
       CT-01    | >= 1000   | "金融"    | "platinum"  | large finance clients
       default  |           |          | "silver"    |              <- optional

Glossary sheet ("Glossary" / "术语表"): variable, entity, column header, type,
allowed values, label, description. Entities sheet ("Entities" / "数据表"):
entity, sheet, key, parent, link. Every problem found is collected and raised
together as ``RuleErrors``, each naming file!sheet!cell.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from engine import feel
from engine.errors import (
    DataError,
    ErrorCollector,
    FeelSyntaxError,
    FeelTypeError,
    Position,
    RuleError,
    RuleStructureError,
)
from engine.evaluation.hitpolicy import validate as validate_hit_policy
from engine.io.xlsx_scan import SheetScan, scan_workbook
from engine.model import (
    AGGREGATES,
    AGGREGATING,
    HIT_POLICIES,
    Aggregate,
    DecisionTable,
    Entity,
    InputClause,
    OutputClause,
    Rule,
    RuleSet,
    Variable,
)
from engine.model.graph import ancestors, order_decisions
from engine.text import closest, did_you_mean, format_value

ANY_TYPE = {"any", "任意"}  # a glossary type: values are read as the register's cells hold them (DMN's Any)
_NAME_RULE = "must be a name: words of letters, digits and _ (single spaces between words allowed)"
GLOSSARY_SHEETS = {"glossary", "术语表", "词汇表"}
ENTITY_SHEETS = {"entities", "数据表", "实体"}
IGNORED_SHEETS = {"tests", "测试", "readme", "说明", "notes", "备注"}

_META_KEYS = {
    "decision": "decision",
    "决策": "decision",
    "title": "title",
    "标题": "title",
    "名称": "title",
    "rows": "rows",
    "applies to": "rows",
    "数据": "rows",
    "数据表": "rows",
    "对象": "rows",
    "description": "description",
    "说明": "description",
    "source": "description",
    "来源": "description",
}
_KINDS = {
    "input": "input",
    "输入": "input",
    "条件": "input",
    "output": "output",
    "输出": "output",
    "结果": "output",
    "annotation": "annotation",
    "注释": "annotation",
    "说明": "annotation",
    "依据": "annotation",
}
_HIT_ALIASES = {
    **{k: k for k in HIT_POLICIES},
    **{v: k for k, v in HIT_POLICIES.items()},
    "RULE_ORDER": "R",
    "OUTPUT_ORDER": "O",
    "C SUM": "C+",
    "C MIN": "C<",
    "C MAX": "C>",
    "C COUNT": "C#",
    "SUM": "C+",
    "MIN": "C<",
    "MAX": "C>",
    "COUNT": "C#",
    "唯一": "U",
    "任一": "A",
    "优先": "P",
    "首个": "F",
    "第一": "F",
    "规则顺序": "R",
    "输出顺序": "O",
    "汇总": "C",
    "求和": "C+",
    "最小": "C<",
    "最大": "C>",
    "计数": "C#",
}
_TYPES = {
    "number": "number",
    "数字": "number",
    "数值": "number",
    "numeric": "number",
    "string": "string",
    "text": "string",
    "文本": "string",
    "字符串": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "布尔": "boolean",
    "是否": "boolean",
    "date": "date",
    "日期": "date",
}
_GLOSSARY_COLUMNS = {
    "variable": "variable",
    "变量": "variable",
    "name": "variable",
    "entity": "entity",
    "实体": "entity",
    "数据表": "entity",
    "rows": "entity",
    "column header": "headers",
    "header": "headers",
    "列名": "headers",
    "column": "headers",
    "type": "type",
    "类型": "type",
    "allowed values": "allowed",
    "允许值": "allowed",
    "取值": "allowed",
    "domain": "allowed",
    "input values": "allowed",
    "值域": "allowed",
    "取值范围": "allowed",
    "label": "label",
    "标签": "label",
    "显示名": "label",
    "description": "description",
    "说明": "description",
    "描述": "description",
    "records": "records",
    "recorded": "records",
    "记录": "records",
    "对应决策": "records",
    "compare": "compare",
    "比较": "compare",
    "required": "required",
    "必填": "required",
    "computed": "computed",
    "计算": "computed",
    "计算值": "computed",
}
_COMPARE = {
    "at least": "at least",
    ">=": "at least",
    "≥": "at least",
    "不低于": "at least",
    "at most": "at most",
    "<=": "at most",
    "≤": "at most",
    "不高于": "at most",
    "equal": "equal",
    "=": "equal",
    "等于": "equal",
}
_ENTITY_COLUMNS = {
    "entity": "entity",
    "实体": "entity",
    "sheet": "sheets",
    "工作表": "sheets",
    "key": "key",
    "主键": "key",
    "parent": "parent",
    "上级": "parent",
    "link": "link",
    "关联列": "link",
    "link column": "link",
}
DEFAULT_MARKERS = {"default", "默认", "缺省"}
GLOSSARY_HEADER = (
    "variable",
    "entity",
    "column header",
    "type",
    "allowed values",
    "label",
    "description",
    "records",
    "compare",
    "required",
    "computed",
)
ENTITY_HEADER = ("entity", "sheet", "key", "parent", "link")


def add_glossary_sheets(wb, glossary, entities):
    """Append the Glossary and Entities sheets to an openpyxl workbook: the
    English headers (as many glossary columns as the longest row needs, at
    least through 'allowed values'), then the rows as given. Returns both sheets."""
    width = max([5, *(len(row) for row in glossary)])
    sheets = []
    for title, header, rows in (("Glossary", GLOSSARY_HEADER[:width], glossary), ("Entities", ENTITY_HEADER, entities)):
        ws = wb.create_sheet(title)
        ws.append(list(header))
        for row in rows:
            ws.append(list(row))
        sheets.append(ws)
    return sheets


def add_decision_sheet(wb, name: str, rows: str, hit: str, columns, rules, default=None, title: str | None = None):
    """Append one decision table in the layout this module reads: 'decision',
    optional 'title' and 'rows' lines, a blank row, the kinds row, the header
    row with the hit policy in its corner, the rules (id, cells, annotation),
    then the default row (marker, outputs[, annotation]). ``columns`` are
    (kind, header) pairs. Returns the sheet."""
    ws = wb.create_sheet(name[:31])
    ws.append(["decision", name])
    if title:
        ws.append(["title", title])
    ws.append(["rows", rows])
    ws.append([])
    ws.append([None] + [k for k, _ in columns] + ["annotation"])
    ws.append([hit] + [h for _, h in columns] + ["annotation"])
    for rule in rules:
        ws.append(list(rule))
    if default:
        inputs = sum(1 for k, _ in columns if k == "input")
        ws.append([default[0]] + [None] * inputs + list(default[1:]))
    return ws


def cell_text(value) -> str:
    """A cell as S-FEEL source text. Excel turns `1000` into a number and
    `2026-01-31` into a date; both come back as the literal the manager meant."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return f'date("{value.date().isoformat()}")'
    if isinstance(value, dt.date):
        return f'date("{value.isoformat()}")'
    return str(value).strip()


def _key(value) -> str:
    return cell_text(value).strip().lower()


def split_alternatives(text: str) -> tuple[str, ...]:
    """'年收入(百万元) | annual revenue' -> both headers."""
    parts = [p.strip() for chunk in text.replace("｜", "|").replace("\n", "|").split("|") for p in [chunk]]
    return tuple(p for p in parts if p)


class _Sheet:
    """A worksheet as a grid of values, with cell names for messages. With the
    sheet's scan (``engine.io.xlsx_scan``), only its used range is read and the
    cells that hold no readable value are kept aside, empty in the grid."""

    def __init__(self, file: str, ws, scan: SheetScan | None = None):
        self.file, self.name = file, ws.title
        self.unreadable: dict[tuple[int, int], str] = {}
        if scan is None:
            self.rows = [list(r) for r in ws.iter_rows(values_only=True)]
            return
        # the used range, not the sheet's own <dimension>: openpyxl pads every row to that
        used = ws.iter_rows(max_row=scan.bottom + 1, max_col=scan.right + 1, values_only=True)
        self.rows = [list(r) for r in used] if scan.bottom >= 0 else []
        for (row, col), what in scan.unreadable.items():
            if row < len(self.rows) and col < len(self.rows[row]):
                self.rows[row][col] = None
                self.unreadable[(row, col)] = what

    def pos(self, row: int, col: int, offset: int | None = None) -> Position:
        """row/col are 0-based indexes into self.rows."""
        return Position(self.file, self.name, f"{get_column_letter(col + 1)}{row + 1}", offset)

    def value(self, row: int, col: int):
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def rule_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.suffix.lower() in (".xlsx", ".xlsm") and not p.name.startswith(("~$", "."))
        )
        if not files:
            raise RuleError(f"no rule workbooks (*.xlsx) in {path}")
        return files
    if not path.exists():
        raise RuleError(f"rules not found: {path}")
    return [path]


RULE_WORKBOOK_CELLS = 1_000_000  # cells in a rule workbook's used ranges: 10,000 rules of 100 columns


def _read_sheets(files: list[Path]) -> list[_Sheet]:
    sheets: list[_Sheet] = []
    for file in files:
        shown = _display_path(file)
        try:  # what openpyxl would choke on, named: a renamed or damaged file, a stray far-away cell
            scans = {scan.name: scan for scan in scan_workbook(file, cells=RULE_WORKBOOK_CELLS)}
        except DataError as exc:
            raise RuleError(f"cannot read rule workbook: {exc.message}", exc.position.at(file=shown)) from None
        try:
            wb = load_workbook(file, read_only=True, data_only=True)
            try:
                sheets.extend(_Sheet(shown, ws, scans.get(ws.title)) for ws in wb.worksheets)
            finally:
                wb.close()
        except Exception as exc:  # openpyxl raises many types for a bad file; their text may quote raw bytes
            text = f"{type(exc).__name__}: {exc}"
            text = text if len(text) <= 200 else text[:200] + "…"
            raise RuleError(f"cannot read rule workbook: {text}", Position(shown)) from exc
    return sheets


def _unreadable_cells(sheets: list[_Sheet], errors: ErrorCollector) -> None:
    """A rule cell that shows an error value or a formula saved without its result
    would read as empty (a test that matches anything): an error naming the cell."""
    for sheet in sheets:
        for (row, col), what in sorted(sheet.unreadable.items()):
            if what.endswith("has no stored result"):
                message = f"{what}: kade cannot see what the cell shows; open and save the workbook in Excel, or type the text itself"
            else:
                message = f"the cell holds the error value {what}: type the rule text itself"
            errors.add(RuleStructureError(message, sheet.pos(row, col)))


def _is_decision_sheet(sheet: _Sheet) -> bool:
    return _META_KEYS.get(_key(sheet.value(0, 0))) == "decision"


def load_rules(path: str | Path) -> RuleSet:
    """Load a rules folder (every .xlsx in it) or a single rule workbook.

    With a single file, glossary and entity sheets of the other workbooks in the
    same folder are read too, so one table can be tried on its own. A DMN model
    (.dmn) is read as ``engine.dmn.rules_source`` says: evaluable as it is."""
    path = Path(path)
    if path.suffix.lower() == ".dmn":
        from engine.dmn.loader import load_dmn  # late: the DMN loader builds on this module
        from engine.dmn.rules_source import evaluable_rules

        return evaluable_rules(load_dmn(path))
    files = rule_files(path)
    sheets = _read_sheets(files)
    if path.is_file():
        siblings = [p for p in rule_files(path.parent) if p.resolve() != path.resolve()]
        sheets += [s for s in _read_sheets(siblings) if s.name.strip().lower() in GLOSSARY_SHEETS | ENTITY_SHEETS]
    errors = ErrorCollector()
    entities = _read_entities([s for s in sheets if s.name.strip().lower() in ENTITY_SHEETS], errors)
    variables = _read_glossary([s for s in sheets if s.name.strip().lower() in GLOSSARY_SHEETS], entities, errors)
    decision_sheets = [s for s in sheets if _is_decision_sheet(s) and s.file in {_display_path(f) for f in files}]
    _unreadable_cells(
        [s for s in sheets if s.name.strip().lower() in GLOSSARY_SHEETS | ENTITY_SHEETS] + decision_sheets, errors
    )
    outputs = {name for s in decision_sheets for name in _output_names(s)}
    tables = []
    for sheet in decision_sheets:
        table = _DecisionReader(sheet, variables, entities, errors, outputs).read()
        if table is not None:
            tables.append(table)
    errors.raise_if_any()
    return build_ruleset(variables, entities, tables, [str(f) for f in files])


def build_ruleset(variables, entities, tables, sources) -> RuleSet:
    """Cross-table checks shared by every rule source: unique names, graph order, scoping."""
    errors = ErrorCollector()
    seen: dict[str, DecisionTable] = {}
    for table in tables:
        if table.name in seen:
            errors.add(
                RuleStructureError(
                    f"decision {table.name} is defined twice (also in {seen[table.name].position})", table.position
                )
            )
        for out in table.output_names:
            if out in seen and seen[out] is not table:
                errors.add(
                    RuleStructureError(f"output {out} is also produced by decision {seen[out].name}", table.position)
                )
            seen.setdefault(out, table)
        seen.setdefault(table.name, table)
    outputs = {o for t in tables for o in t.output_names}
    for var in variables.values():
        if var.records and var.records not in outputs and var.records not in variables:
            errors.add(
                RuleStructureError(
                    f"variable {var.name} records {var.records!r}, which is neither a decision output nor in the glossary",
                    var.position,
                )
            )
    errors.raise_if_any()
    ordered = [_type_inputs(t, tables) for t in order_decisions(tables)]
    producer = {out: t for t in ordered for out in t.output_names}
    for table in ordered:
        _check_scope(table, variables, entities, producer, errors)
        try:
            validate_hit_policy(table)
        except RuleError as exc:
            errors.add(exc)
    errors.raise_if_any()
    rules = RuleSet(variables, entities, ordered, sources)
    if any(v.computed for v in variables.values()):
        from engine.evaluation.aggregates import compute_values

        rules.variables = compute_values(rules)
    return rules


def _type_inputs(table: DecisionTable, tables) -> DecisionTable:
    """Inputs that read another decision's output take that output's type."""
    types = {o.name: o.type for t in tables for o in t.outputs}
    inputs = tuple(
        dataclasses.replace(c, type=types.get(c.expr.name)) if c.type is None and isinstance(c.expr, feel.Name) else c
        for c in table.inputs
    )
    return dataclasses.replace(table, inputs=inputs)


def _check_scope(table, variables, entities, producer, errors):
    """A decision over contracts may use contract and client values; a decision
    over clients may not use contract values (one client has many contracts)."""
    from engine.model.graph import referenced_names

    if table.entity is None:
        return
    visible = set(ancestors(table.entity, entities))
    for name in sorted(referenced_names(table)):
        if name in producer:
            owner = producer[name].entity
        elif name in variables:
            owner = variables[name].entity
        else:
            continue
        if owner is not None and owner not in visible:
            errors.add(
                RuleStructureError(
                    f"decision {table.name} runs over {table.entity} rows but uses {name} from {owner}; "
                    f"only {', '.join(sorted(visible))} values are available to it",
                    table.position,
                )
            )


# ------------------------------------------------------------- glossary --------


def _header_map(sheet: _Sheet, columns: dict[str, str], errors: ErrorCollector, required: tuple[str, ...]):
    header = {}
    for col, value in enumerate(sheet.rows[0] if sheet.rows else []):
        field_name = columns.get(_key(value))
        if field_name:
            header[field_name] = col
    missing = [r for r in required if r not in header]
    if missing:
        errors.add(RuleStructureError(f"header row must have the column(s) {', '.join(missing)}", sheet.pos(0, 0)))
        return None
    return header


def _read_entities(sheets: list[_Sheet], errors: ErrorCollector) -> dict[str, Entity]:
    entities: dict[str, Entity] = {}
    for sheet in sheets:
        header = _header_map(sheet, _ENTITY_COLUMNS, errors, ("entity", "sheets", "key"))
        if header is None:
            continue
        for r in range(1, len(sheet.rows)):
            get = lambda f: cell_text(sheet.value(r, header[f])) if f in header else ""  # noqa: B023 - used in this iteration
            name = get("entity")
            if not name:
                continue
            if name in entities:
                errors.add(RuleStructureError(f"entity {name} is defined twice", sheet.pos(r, header["entity"])))
                continue
            entities[name] = Entity(
                name,
                split_alternatives(get("sheets")) or (name,),
                get("key"),
                get("parent") or None,
                split_alternatives(get("link")) or None if get("parent") else None,
                sheet.pos(r, header["entity"]),
            )
    for entity in entities.values():
        if entity.parent and entity.parent not in entities:
            errors.add(
                RuleStructureError(f"entity {entity.name} names an unknown parent {entity.parent}", entity.position)
            )
        if entity.parent and not entity.link:
            errors.add(
                RuleStructureError(
                    f"entity {entity.name} has a parent but no link column holding the {entity.parent} key",
                    entity.position,
                )
            )
    return entities


def _read_glossary(sheets: list[_Sheet], entities: dict[str, Entity], errors: ErrorCollector) -> dict[str, Variable]:
    variables: dict[str, Variable] = {}
    for sheet in sheets:
        header = _header_map(sheet, _GLOSSARY_COLUMNS, errors, ("variable", "type"))
        if header is None:
            continue
        for r in range(1, len(sheet.rows)):
            get = lambda f: cell_text(sheet.value(r, header[f])) if f in header else ""  # noqa: B023 - used in this iteration
            name = get("variable")
            if not name:
                continue
            pos = sheet.pos(r, header["variable"])
            if name in variables:
                errors.add(
                    RuleStructureError(f"variable {name} is defined twice (also at {variables[name].position})", pos)
                )
                continue
            if not feel.is_name(name):
                errors.add(RuleStructureError(f"variable name {name!r} {_NAME_RULE}, e.g. annual_revenue", pos))
                continue
            type_ = _TYPES.get(get("type").lower())
            if type_ is None and get("type").lower() not in ANY_TYPE:
                errors.add(
                    RuleStructureError(
                        f"type of {name} must be number, string, boolean, date or any, got {get('type')!r}",
                        sheet.pos(r, header["type"]),
                    )
                )
                continue
            entity = get("entity") or None
            if entity is not None and entities and entity not in entities:
                errors.add(
                    RuleStructureError(
                        f"variable {name} belongs to unknown entity {entity!r} (known: {', '.join(entities)})",
                        sheet.pos(r, header["entity"]),
                    )
                )
                continue
            allowed, values = None, ()
            if get("allowed"):
                if type_ is None:
                    errors.add(
                        RuleStructureError(
                            f"{name} has allowed values, so it needs a type (number, string, boolean or date), not any",
                            sheet.pos(r, header["type"]),
                        )
                    )
                    continue
                try:
                    allowed, values = parse_allowed(get("allowed"), type_)
                except FeelSyntaxError as exc:
                    errors.add(type(exc)(exc.message, sheet.pos(r, header["allowed"], exc.position.offset)))
                    continue
            words: dict[str, Any] = {}  # compare, required: one of a few words each
            for field, known, expected in (
                ("compare", _COMPARE, "'at least', 'at most' or 'equal'"),
                ("required", _REQUIRED, "yes or no (是/否)"),
            ):
                words[field] = known.get(get(field).strip().lower()) if get(field) else None
                if get(field) and words[field] is None:
                    errors.add(
                        RuleStructureError(
                            f"{field} of {name} must be {expected}, got {get(field)!r}", sheet.pos(r, header[field])
                        )
                    )
            if any(get(field) and value is None for field, value in words.items()):
                continue
            compare, required = words["compare"], bool(words["required"])
            computed = None
            if get("computed"):
                try:
                    computed = parse_computed(get("computed"), sheet.pos(r, header["computed"]))
                except RuleError as exc:
                    errors.add(exc)  # the entry is still known: the rules using it get no second error
            variables[name] = Variable(
                name,
                entity,
                split_alternatives(get("headers")),
                type_,
                allowed,
                values,
                get("label"),
                get("description"),
                pos,
                get("records") or None,
                compare,
                required,
                computed,
            )
    return variables


_REQUIRED = {
    **dict.fromkeys(("yes", "y", "true", "required", "是", "必填", "√", "✓"), True),
    **dict.fromkeys(("no", "n", "false", "optional", "否", "选填", "可选"), False),
}
_AGGREGATE_WORDS = {
    "average": "average",
    "mean": "average",
    "平均": "average",
    "平均值": "average",
    "sum": "sum",
    "合计": "sum",
    "总和": "sum",
    "min": "min",
    "最小": "min",
    "最小值": "min",
    "max": "max",
    "最大": "max",
    "最大值": "max",
    "count": "count",
    "计数": "count",
}


def parse_computed(text: str, position: Position | None = None) -> Aggregate:
    """``average of industry_total over industry_attractiveness`` (also
    ``平均 industry_total 遍历 industry_attractiveness``): an aggregate of a
    decision output over the rules of a lookup table."""
    words = [w for w in feel.normalize(text).split() if w.lower() != "of"]
    if len(words) == 4 and words[2].lower() in ("over", "遍历", "按"):
        function = _AGGREGATE_WORDS.get(words[0].lower())
        if function is not None and all(feel.is_name(w) for w in (words[1], words[3])):
            return Aggregate(function, words[1], words[3], position or Position())
    raise RuleStructureError(
        f"a computed value reads '<{'|'.join(AGGREGATES)}> of <decision output> over <table>', "
        f"e.g. 'average of industry_total over industry_attractiveness'; got {text!r}",
        position or Position(),
    )


def parse_allowed(text: str, type_: str):
    """Allowed values: S-FEEL unary tests (`"A","B"`, `[0..100]`); for strings,
    bare comma-separated words (`A, B, C`) are accepted too."""
    try:
        test = feel.parse_unary_tests(text, type_)
        if feel.names_in(test) and type_ == "string":
            raise FeelSyntaxError("bare words")
    except FeelSyntaxError:
        if type_ != "string":
            raise
        words = [w.strip() for w in feel.normalize(text).replace("、", ",").split(",") if w.strip()]
        test = feel.AnyOf(tuple(feel.Compare("=", feel.Literal(w, "string", f'"{w}"')) for w in words))
    if isinstance(test, feel.Compare) and not isinstance(test.endpoint, feel.Literal):
        test = feel.AnyOf((test,))
    if isinstance(test, feel.Compare):
        test = feel.AnyOf((test,))
    if isinstance(test, feel.AnyOf) and not all(isinstance(t, feel.Compare) and t.op == "=" for t in test.tests):
        return test, ()
    if isinstance(test, feel.AnyOf):
        for t in test.tests:
            if not isinstance(t.endpoint, feel.Literal):
                break
        else:
            return test, tuple(t.endpoint.value for t in test.tests)
    return test, ()


# ------------------------------------------------------- decision tables -------


class _DecisionReader:
    def __init__(self, sheet: _Sheet, variables, entities, errors: ErrorCollector, outputs=()):
        self.sheet, self.variables, self.entities, self.errors = sheet, variables, entities, errors
        self.aliases = _aliases(variables)
        for name in outputs:  # outputs of any decision may be used by another
            self.aliases.setdefault(name, name)
        # cells name variables and outputs as written, spaces included (``Monthly Salary * 12``)
        self.dialect = feel.Dialect(names=feel.KnownNames([*variables, *outputs]))

    def fail(self, message: str, row: int, col: int, offset: int | None = None):
        self.errors.add(RuleStructureError(message, self.sheet.pos(row, col, offset)))

    def read(self) -> DecisionTable | None:
        sheet = self.sheet
        meta, kind_row = {}, None
        for r, row in enumerate(sheet.rows):
            kinds = [_KINDS.get(_key(v)) for v in row[1:]]
            if any(k in ("input", "output") for k in kinds):
                kind_row = r
                break
            key = _META_KEYS.get(_key(row[0] if row else None))
            if key:
                meta[key] = cell_text(row[1] if len(row) > 1 else None)
        before = len(self.errors)
        if kind_row is None or kind_row + 1 >= len(sheet.rows):
            self.fail("no table found: expected a row with 'input' / 'output' above the table header", 0, 0)
            return None
        name = meta.get("decision", "")
        if not feel.is_name(name):
            self.fail(f"decision name {_NAME_RULE}, got {name!r}", 0, 1)
            return None
        entity = meta.get("rows") or None
        if entity is not None and self.entities and entity not in self.entities:
            at = next(
                r for r, cells in enumerate(sheet.rows) if _META_KEYS.get(_key(cells[0] if cells else None)) == "rows"
            )
            self.fail(f"rows must name an entity ({', '.join(self.entities)}), got {entity!r}", at, 1)
        header_row = kind_row + 1
        kinds = [_KINDS.get(_key(v)) for v in sheet.rows[kind_row]]
        header = sheet.rows[header_row]
        hit_text = cell_text(header[0] if header else None).upper().replace("  ", " ")
        hit = _HIT_ALIASES.get(hit_text) or _HIT_ALIASES.get(hit_text.replace(" ", ""))
        if hit is None:
            self.fail(
                f"expected the hit policy in the table's corner (U, A, P, F, R, O, C, C+, C<, C>, C#), got {hit_text!r}",
                header_row,
                0,
            )
            return None
        width = max(len(header), len(kinds))
        input_cols, output_cols, annotation_col = [], [], None
        for c in range(1, width):
            kind = kinds[c] if c < len(kinds) else None
            label = cell_text(header[c] if c < len(header) else None)
            if kind is None:
                if label or cell_text(sheet.value(kind_row, c)):
                    self.fail(
                        f"column {get_column_letter(c + 1)} needs 'input', 'output' or 'annotation' above its header, got {cell_text(sheet.value(kind_row, c))!r}",
                        kind_row,
                        c,
                    )
                continue
            if kind == "annotation":
                annotation_col = c
            elif not label:
                self.fail(f"{kind} column has no header", header_row, c)
            elif kind == "input":
                input_cols.append(c)
            else:
                output_cols.append(c)
        if not output_cols:
            self.fail("a decision table needs at least one output column", kind_row, 0)
        if hit in AGGREGATING and len(output_cols) > 1:
            self.fail(f"hit policy {hit} aggregates a single output; this table has {len(output_cols)}", header_row, 0)
        if len(self.errors) > before:
            return None

        maybe_inputs = [self._input_clause(header_row, c) for c in input_cols]
        maybe_outputs = [self._output_clause(header_row, c, entity) for c in output_cols]
        inputs = tuple(i for i in maybe_inputs if i is not None)
        outputs = [o for o in maybe_outputs if o is not None]
        if len(inputs) < len(maybe_inputs) or len(outputs) < len(maybe_outputs):
            return None
        rules: list[Rule] = []
        defaults: list | None = None
        ids: dict[str, int] = {}
        r = header_row + 1
        while r < len(sheet.rows) and any(cell_text(v) for v in sheet.rows[r]):
            rule_id = cell_text(sheet.value(r, 0))
            if rule_id.lower() in DEFAULT_MARKERS:
                for c in input_cols:
                    if cell_text(sheet.value(r, c)) not in ("", "-"):
                        self.fail("the default row gives outputs only; leave its input cells empty", r, c)
                defaults = [self._output_entry(r, c, out, allow_empty=True) for c, out in zip(output_cols, outputs)]
                r += 1
                continue
            if not rule_id:
                rule_id = f"R{len(rules) + 1}"
            if rule_id in ids:
                self.fail(f"rule id {rule_id} is used twice (also row {ids[rule_id] + 1})", r, 0)
            ids[rule_id] = r
            tests = tuple(self._input_entry(r, c, clause) for c, clause in zip(input_cols, inputs))
            results = tuple(self._output_entry(r, c, out) for c, out in zip(output_cols, outputs))
            annotation = cell_text(sheet.value(r, annotation_col)) if annotation_col is not None else ""
            cells = tuple(sheet.pos(r, c) for c in input_cols + output_cols)
            rules.append(Rule(rule_id, tests, results, annotation, sheet.pos(r, 0), cells))
            r += 1
        below = next(
            (
                m
                for m in range(r + 1, len(sheet.rows))
                if any(cell_text(sheet.value(m, c)) for c in input_cols + output_cols)
            ),
            None,
        )
        if below is not None:
            self.fail(
                f"row {r + 1} is empty, but the table goes on below it (row {below + 1}): a table ends at its first "
                f"empty row, so the rules below would be left out; delete the empty row",
                r,
                0,
            )
        if not rules:
            self.fail("the table has no rules below its header", header_row, 0)
        if len(self.errors) > before:
            return None
        if defaults is not None:
            outputs = [dataclasses.replace(o, default=d) for o, d in zip(outputs, defaults)]
        outputs = [self._infer_type(o, k, rules) for k, o in enumerate(outputs)]
        if entity is None:
            entity = self._infer_entity(inputs)
        return DecisionTable(
            name,
            entity,
            hit,
            inputs,
            tuple(outputs),
            tuple(rules),
            meta.get("title", ""),
            Position(sheet.file, sheet.name),
        )

    # --- clauses
    def _resolve(self, node, row: int, col: int, column=None):
        """Rename every variable reference to its glossary name; unknown names are
        errors, with the fix: the name meant, or quotes around a value. ``column``:
        the input or output clause the cell belongs to (None: a header)."""
        unknown: list[feel.Name] = []

        def walk(n):
            if isinstance(n, feel.Name):
                target = self.aliases.get(n.name) or self.aliases.get(n.name.lower())
                if target is None:
                    unknown.append(n)
                    return n
                return feel.Name(target, n.offset)
            if dataclasses.is_dataclass(n) and not isinstance(n, feel.Literal):
                return feel.map_children(n, walk)
            return n

        resolved = walk(node)
        for n in unknown:
            self.fail(
                f"unknown name {n.name}: not in the glossary nor an output of a decision; {self._fix_for(n.name, column)}",
                row,
                col,
                n.offset,
            )
        return None if unknown else resolved

    def _fix_for(self, name: str, column) -> str:
        """What an unknown name most likely should be: a value of a text column
        written without quotes, or a misspelt glossary name (``column``: the
        input or output clause of the cell; None for a header)."""
        allowed: tuple = column.allowed_values if isinstance(column, OutputClause) else ()
        if isinstance(column, InputClause) and isinstance(column.expr, feel.Name):
            var = self.variables.get(column.expr.name)
            allowed = var.allowed_values if var is not None else ()
        text_column = column is not None and column.type == "string"
        if name in allowed or (text_column and not closest(name, self.aliases)):
            return f'to compare with the text {name}, write "{name}" in double quotes'
        values = closest(name, [v for v in allowed if isinstance(v, str)])
        if values:
            quoted = " or ".join(f'"{v}"' for v in values)
            return f"did you mean {quoted} (a value, in double quotes)?"
        # one suggestion per variable, as the closest of its spellings (name, label, header)
        meant = {self.aliases[alias]: alias for alias in reversed(closest(name, self.aliases, n=6))}
        suggestion = did_you_mean(name, list(reversed(meant.values())))
        if column is None:
            return suggestion or "add it to the Glossary sheet (variable, label or column header)"
        return suggestion or "add it to the Glossary sheet, or write a value in double quotes"

    def _input_clause(self, row: int, col: int) -> InputClause | None:
        label = cell_text(self.sheet.value(row, col))
        target = self.aliases.get(label) or self.aliases.get(label.lower())
        if target is not None:
            expr = feel.Name(target)
        else:
            try:
                expr = self._resolve(feel.parse_expression(label, self.dialect), row, col)
            except FeelSyntaxError as exc:
                self.fail(f"input header {label!r}: {exc.message}", row, col, exc.position.offset)
                return None
            if expr is None:
                return None
        type_ = self._type_of(expr)
        return InputClause(label, expr, type_, self.sheet.pos(row, col))

    def _type_of(self, expr) -> str | None:
        if isinstance(expr, feel.Name):
            var = self.variables.get(expr.name)
            return var.type if var else None  # a decision output: typed once that table is read
        if isinstance(expr, feel.Binary) and expr.op in "+-*/**":
            return "number"
        return None

    def _output_clause(self, row: int, col: int, entity) -> OutputClause | None:
        label = cell_text(self.sheet.value(row, col))
        name = self.aliases.get(label) or self.aliases.get(label.lower()) or label
        if not feel.is_name(name):
            self.fail(f"output name {_NAME_RULE}, got {label!r}", row, col)
            return None
        var = self.variables.get(name)
        return OutputClause(
            name, var.type if var else None, var.allowed_values if var else (), None, self.sheet.pos(row, col)
        )

    def _input_entry(self, row: int, col: int, clause: InputClause):
        text = cell_text(self.sheet.value(row, col))
        try:
            test = feel.parse_unary_tests(text, clause.type, self.dialect)
        except (FeelSyntaxError, FeelTypeError) as exc:
            message = _percent_fix(text, exc, self._unit_words(clause)) or exc.message
            self.errors.add(type(exc)(message, self.sheet.pos(row, col, exc.position.offset)))
            return feel.AnyTest()
        test = self._resolve(test, row, col, clause) or feel.AnyTest()
        var = self.variables.get(clause.expr.name) if isinstance(clause.expr, feel.Name) else None
        if var is not None and var.allowed_values and var.type == "string":
            for lit in feel.literals_in(test):
                if lit.type == "string" and lit.value not in var.allowed_values:
                    hint = did_you_mean(lit.value, var.allowed_values)
                    self.fail(
                        f"{lit.text} is not an allowed value of {var.name}; {hint + ' ' if hint else ''}"
                        f"(allowed: {', '.join(map(str, var.allowed_values))})",
                        row,
                        col,
                    )
        return test

    def _unit_words(self, clause) -> str:
        """Everything that names the column: its header, the glossary's label and headers."""
        name = clause.expr.name if isinstance(clause, InputClause) and isinstance(clause.expr, feel.Name) else None
        name = name or (clause.name if isinstance(clause, OutputClause) else None)
        var = self.variables.get(name) if name else None
        words = [clause.label if isinstance(clause, InputClause) else clause.name]
        if var is not None:
            words += [var.label, var.description, *var.headers]
        return " ".join(w for w in words if w)

    def _output_entry(self, row: int, col: int, clause: OutputClause, allow_empty: bool = False):
        text = cell_text(self.sheet.value(row, col))
        if text == "" and allow_empty:
            return None
        try:
            expr = feel.parse_expression(text, self.dialect)
        except FeelSyntaxError as exc:
            message = _percent_fix(text, exc, self._unit_words(clause)) or exc.message
            self.errors.add(type(exc)(message, self.sheet.pos(row, col, exc.position.offset)))
            return feel.Literal(None, None, "null")
        expr = self._resolve(expr, row, col, clause) or feel.Literal(None, None, "null")
        if isinstance(expr, feel.Literal) and expr.type is not None:
            if clause.type is not None and expr.type != clause.type:
                self.fail(f"expected {feel.TYPE_WORDS[clause.type]} for output {clause.name}, got {text}", row, col)
            elif clause.allowed_values and expr.value not in clause.allowed_values:
                hint = did_you_mean(str(expr.value), [str(v) for v in clause.allowed_values])
                self.fail(
                    f"{text} is not an allowed value of {clause.name}; {hint + ' ' if hint else ''}"
                    f"(allowed: {', '.join(map(format_value, clause.allowed_values))})",
                    row,
                    col,
                )
        return expr

    def _infer_type(self, clause: OutputClause, k: int, rules: list[Rule]) -> OutputClause:
        if clause.type is not None:
            return clause
        types = {r.outputs[k].type for r in rules if isinstance(r.outputs[k], feel.Literal) and r.outputs[k].type}
        if any(not isinstance(r.outputs[k], feel.Literal) for r in rules):
            types.add("number")  # arithmetic
        return dataclasses.replace(clause, type=types.pop() if len(types) == 1 else None)

    def _infer_entity(self, inputs) -> str | None:
        owners = []
        for clause in inputs:
            for name in feel.names_in(clause.expr):
                var = self.variables.get(name)
                if var is not None and var.entity:
                    owners.append(var.entity)
        if not owners:
            return None
        # the deepest entity: the one whose ancestor chain is longest
        return max(owners, key=lambda e: len(ancestors(e, self.entities)) if e in self.entities else 0)


def _percent_fix(text: str, error: RuleError, unit_words: str) -> str | None:
    """'> 20%': the column's values are percent already (its header or label
    says %) - write 20; or they are plain numbers - write 0.2."""
    cell = feel.normalize(text).strip()  # offsets count in the text as parsed
    at = error.position.offset
    if at is None or not cell[at:].startswith("%"):
        return None
    before = cell[:at].rstrip()
    value = before[len(before.rstrip("0123456789.")) :]
    if not value or value == ".":
        return None
    if any(mark in unit_words for mark in ("%", "百分")):
        return f"write {value} without the % sign: this column is in percent already ({value} means {value} %)"
    fraction = format_value(float(value) / 100)
    return f"write {fraction} for {value} %: this column holds plain numbers (its header does not say %)"


def _output_names(sheet: _Sheet) -> list[str]:
    """Output headers of a decision sheet, read ahead so tables can use each other's outputs."""
    for r, row in enumerate(sheet.rows[:-1]):
        kinds = [_KINDS.get(_key(v)) for v in row]
        if "output" in kinds[1:]:
            header = sheet.rows[r + 1]
            return [
                cell_text(header[c])
                for c, k in enumerate(kinds)
                if k == "output" and c < len(header) and cell_text(header[c])
            ]
    return []


def _aliases(variables: dict[str, Variable]) -> dict[str, str]:
    """Every way a manager may write a variable in a table header or cell:
    its name, its label, and its column headers (年收入(百万元))."""
    aliases: dict[str, str] = {}
    for var in variables.values():
        for alias in (var.label, *var.headers):
            if alias:
                aliases.setdefault(alias, var.name)
                aliases.setdefault(alias.lower(), var.name)
    for var in variables.values():
        aliases[var.name] = var.name  # names win over labels
    return aliases


SHIPPED_RULES = Path(__file__).resolve().parent.parent.parent / "rules"


def default_rules_path() -> Path:
    """$KADE_RULES, else ./rules, else the rules shipped with kade: the rules every
    front end uses when none are named."""
    env = os.environ.get("KADE_RULES")
    if env:
        return Path(env)
    local = Path("rules")
    return local if local.is_dir() else SHIPPED_RULES
