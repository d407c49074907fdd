"""`kade excel workbook OUT.xlsm`: a macro-enabled workbook with the user's data
sheets and three buttons — Evaluate, Why?, Check rules — on every data sheet.

The VBA is xlwings' own: the ``vbaProject.bin`` of ``quickstart_standalone.xlsm``
from the installed xlwings package (BSD-3; it holds the ``xlwings`` module with
``RunPython``), copied byte for byte. kade writes no VBA. Each button is a Form
button whose macro is a ``RunPython`` call naming a kade entry point, the way
Excel stores a macro called with an argument::

    'RunPython "import engine.excel.desktop as kade; kade.evaluate()"'

XlsxWriter writes the workbook and the buttons (VML); it only knows plain macro
names, so the buttons get placeholder names that are replaced in the VML part.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pandas as pd
import xlsxwriter
from openpyxl.utils import get_column_letter

from engine.excel.errors import BuildError
from engine.excel.handlers import KADE_SHEETS
from engine.excel.layout import GUTTER_HEADER, SheetLayout, result_names
from engine.io.registers import Sheet, find_sheet
from engine.io.writers import atomic_path
from engine.model import RuleSet

TEMPLATE = "quickstart_standalone.xlsm"
VBA_PART = "xl/vbaProject.bin"
HELP_SHEET = "kade"


@dataclass(frozen=True)
class Button:
    caption: str
    entry: str  # function in engine.excel.desktop

    @property
    def command(self) -> str:
        """The Python RunPython runs."""
        return f"import engine.excel.desktop as kade; kade.{self.entry}()"

    @property
    def macro(self) -> str:
        """The button's macro as Excel stores it: RunPython called with the command."""
        return f"'RunPython \"{self.command}\"'"

    @property
    def placeholder(self) -> str:
        return f"kade_button_{self.entry}"


BUTTONS = (Button("Evaluate", "evaluate"), Button("Why?", "why"), Button("Check rules", "check"))


@dataclass
class BuildResult:
    path: Path
    data_sheets: list[str]  # sheets with buttons
    other_sheets: list[str]
    notes: list[str] = field(default_factory=list)  # what was not copied from the source


def xlwings_template() -> Path:
    """quickstart_standalone.xlsm of the installed xlwings, found without importing xlwings."""
    spec = importlib.util.find_spec("xlwings")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("xlwings is not installed: pip install xlwings (its BSD VBA module is what the buttons call)")
    path = Path(list(spec.submodule_search_locations)[0]) / TEMPLATE
    if not path.is_file():
        raise BuildError(f"xlwings has no {TEMPLATE} at {path}; reinstall xlwings")
    return path


def xlwings_vba_project() -> bytes:
    with zipfile.ZipFile(xlwings_template()) as template:
        return template.read(VBA_PART)


def build_workbook(
    out: str | Path, rules: RuleSet, source: str | Path | None = None, *, python: str | None = None
) -> BuildResult:
    """Write OUT (.xlsm). ``source``: the user's workbook whose sheets to copy
    (values, formulas, number formats, widths); without it, one empty sheet per
    entity with the glossary's headers. ``python``: the interpreter RunPython
    starts (an active xlwings.conf sheet); without it xlwings' defaults apply."""
    out = Path(out)
    if out.suffix.lower() != ".xlsm":
        raise BuildError(f"{out.name}: a workbook with buttons must be .xlsm (macro-enabled)")
    sheets, notes = _source_sheets(Path(source), rules) if source is not None else (_empty_sheets(rules), [])
    for sheet in sheets:
        if sheet.name.endswith(".py"):  # xlwings' RunPython treats such sheets as embedded code (PRO only)
            raise BuildError(f"sheet {sheet.name!r}: xlwings reserves sheet names ending in .py; rename it")
        if sheet.name in KADE_SHEETS or sheet.name == HELP_SHEET:
            raise BuildError(f"sheet {sheet.name!r}: the name is kade's own; rename it")
    entity_sheets = {s.name for s in sheets if _entity_of(s.name, rules)}
    if not entity_sheets:
        wanted = ", ".join(" / ".join(e.sheets) for e in rules.entities.values())
        raise BuildError(f"no data sheet kade decides in {source}: name a sheet {wanted}")

    raw = io.BytesIO()
    book = xlsxwriter.Workbook(
        raw, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    book.add_vba_project(io.BytesIO(xlwings_vba_project()), is_stream=True)
    book.set_vba_name("ThisWorkbook")  # the code names inside xlwings' VBA project
    formats = _Formats(book)
    for sheet in sheets:
        ws = book.add_worksheet(sheet.name)
        _write_sheet(ws, sheet, formats)
        if sheet.name in entity_sheets:
            _add_buttons(ws, sheet.data_columns, formats)
    _write_help(book.add_worksheet(HELP_SHEET), formats)
    _write_xlwings_conf(book, python)
    book.close()

    with atomic_path(out) as tmp:
        _bind_buttons(raw.getvalue(), tmp)
    return BuildResult(
        out,
        [s.name for s in sheets if s.name in entity_sheets],
        [s.name for s in sheets if s.name not in entity_sheets],
        notes,
    )


# ------------------------------------------------------------ the sheets -------


@dataclass
class _SourceSheet:
    name: str
    cells: list[list]  # (value, number_format) or None per cell; formulas as ("=...", cached)
    data_columns: int
    widths: dict[int, float] = field(default_factory=dict)
    freeze: tuple[int, int] | None = None


@dataclass(frozen=True)
class _Formula:
    text: str
    cached: object


def _entity_of(sheet: str, rules: RuleSet):
    for entity in rules.entities.values():
        if find_sheet([Sheet(sheet, pd.DataFrame())], entity.sheets + (entity.name,)):
            return entity
    return None


def _empty_sheets(rules: RuleSet) -> list[_SourceSheet]:
    """One sheet per entity, its header row from the glossary (key, link, then glossary order)."""
    out = []
    for entity in rules.entities.values():
        headers = []
        key = rules.variables.get(entity.key)
        if key is not None:
            headers.append(key.headers[0] if key.headers else key.name)
        if entity.link:
            headers.append(entity.link[0])
        for var in rules.variables.values():
            header = var.headers[0] if var.headers else var.name
            if var.entity == entity.name and header not in headers:
                headers.append(header)
        cells = [[(h, None) for h in headers]]
        out.append(_SourceSheet(entity.sheets[0], cells, len(headers), dict.fromkeys(range(len(headers)), 14), (1, 0)))
    return out


def _source_sheets(source: Path, rules: RuleSet) -> tuple[list[_SourceSheet], list[str]]:
    from engine.excel.inplace import parts_openpyxl_drops

    if source.suffix.lower() not in (".xlsx", ".xlsm"):
        raise BuildError(f"{source.name}: --from takes an .xlsx or .xlsm workbook (save other formats as .xlsx first)")
    try:
        formulas = openpyxl.load_workbook(source)
        cached = openpyxl.load_workbook(source, data_only=True)
    except FileNotFoundError:
        raise BuildError(f"workbook not found: {source}") from None
    except Exception as exc:
        raise BuildError(f"cannot read {source}: {exc}") from exc
    notes = [f"not copied: {what}" for what in parts_openpyxl_drops(source)]
    names = result_names(rules)
    sheets = []
    for ws in formulas.worksheets:
        values = cached[ws.title]
        grid = [
            [values.cell(r, c).value for c in range(1, ws.max_column + 1)] for r in range(1, min(ws.max_row, 1) + 1)
        ]
        layout = SheetLayout.of(ws.title, grid, names)
        # an entity sheet that kade already wrote to: copy the data, not the old results
        width = (
            layout.data_columns if _entity_of(ws.title, rules) and layout.results_at < ws.max_column else ws.max_column
        )
        if width < ws.max_column:
            notes.append(
                f"{ws.title}: columns right of the data (kade's earlier results) were not copied; press Evaluate"
            )
        cells = []
        for row, cached_row in zip(ws.iter_rows(max_col=width), values.iter_rows(max_col=width)):
            cells.append([_source_cell(cell, cached_cell) for cell, cached_cell in zip(row, cached_row)])
        widths = {
            c - 1: ws.column_dimensions[get_column_letter(c)].width
            for c in range(1, width + 1)
            if ws.column_dimensions[get_column_letter(c)].customWidth
        }
        freeze = None
        if ws.freeze_panes:
            cell = ws[ws.freeze_panes]
            freeze = (cell.row - 1, cell.column - 1)
        sheets.append(_SourceSheet(ws.title, cells, width, widths, freeze))
        lost = [
            what
            for what, present in (
                ("merged cells", ws.merged_cells.ranges),
                ("comments", any(c.comment for r in ws.iter_rows() for c in r)),
                ("data validation", ws.data_validations.dataValidation),
                ("conditional formatting", list(ws.conditional_formatting)),
                ("tables", ws.tables),
            )
            if present
        ]
        if lost:
            notes.append(f"{ws.title}: not copied: {', '.join(lost)}; fonts, fills and borders are not copied either")
    if formulas.defined_names:
        notes.append(f"defined names not copied: {', '.join(formulas.defined_names)}")
    return sheets, notes


def _source_cell(cell, cached_cell):
    value = cell.value
    if value is None:
        return None
    number_format = cell.number_format if cell.number_format != "General" else None
    if cell.data_type == "f":
        text = value if isinstance(value, str) else getattr(value, "text", None)
        if not isinstance(text, str):  # array / data-table formulas: keep what they computed
            return (cached_cell.value, number_format)
        return (_Formula(text, cached_cell.value), number_format)
    return (value, number_format)


class _Formats:
    def __init__(self, book):
        self.book = book
        self._cache = {}
        self.header = book.add_format({"bold": True})
        self.gutter = book.add_format({"bold": True, "font_color": "#7F7F7F", "align": "center"})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})

    def number(self, number_format: str | None):
        if number_format is None:
            return None
        if number_format not in self._cache:
            self._cache[number_format] = self.book.add_format({"num_format": number_format})
        return self._cache[number_format]

    def date(self, number_format: str | None):
        return self.number(number_format or "yyyy-mm-dd")


def _write_sheet(ws, sheet: _SourceSheet, formats: _Formats):
    for r, row in enumerate(sheet.cells):
        for c, cell in enumerate(row):
            if cell is None:
                continue
            value, number_format = cell
            fmt = formats.header if r == 0 and number_format is None else formats.number(number_format)
            _write_cell(ws, r, c, value, fmt, number_format, formats)
    for c, width in sheet.widths.items():
        ws.set_column(c, c, width)
    if sheet.freeze:
        ws.freeze_panes(*sheet.freeze)


def _write_cell(ws, r, c, value, fmt, number_format, formats):
    if isinstance(value, _Formula):
        cached = value.cached if isinstance(value.cached, (int, float, str, bool)) else 0
        ws.write_formula(r, c, value.text, fmt, cached)
    elif value is None:
        return
    elif isinstance(value, bool):
        ws.write_boolean(r, c, value, fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(r, c, value, fmt)
    elif isinstance(value, (dt.datetime, dt.date, dt.time)):
        ws.write_datetime(r, c, value, formats.date(number_format))
    elif isinstance(value, dt.timedelta):
        ws.write_number(r, c, value.total_seconds() / 86400, fmt)
    else:
        ws.write_string(r, c, str(value), fmt)


def _add_buttons(ws, gutter: int, formats: _Formats):
    """The three buttons stacked in a narrow column right of the data; results go right of it."""
    ws.write_string(0, gutter, GUTTER_HEADER, formats.gutter)
    ws.set_column(gutter, gutter, 16)
    for i, button in enumerate(BUTTONS):
        ws.insert_button(
            1 + 2 * i,
            gutter,
            {
                "macro": button.placeholder,
                "caption": button.caption,
                "width": 108,
                "height": 30,
                "x_offset": 2,
                "y_offset": 4,
            },
        )


def _write_help(ws, formats: _Formats):
    lines = [
        ("kade — decisions from the rule tables, in this workbook", formats.title),
        ("", None),
        ("Every data sheet has three buttons in its 'kade buttons' column:", None),
        (
            "Evaluate — decides every row of every data sheet and writes each decision, the rule that decided it and the reason "
            "beside the data (green headers); kade.errors (orange) says what is wrong with a row.",
            formats.wrap,
        ),
        (
            "Why? — select a cell in a row first: explains that row (rule, reason, the closest rules that did not fire) in a "
            "message and, in full, on the sheet 'kade why'.",
            formats.wrap,
        ),
        (
            "Check rules — finds gaps, overlaps and rules that never fire in the rule tables; summary in a message, every "
            "finding on the sheet 'kade check'.",
            formats.wrap,
        ),
        ("", None),
        (
            "Needs: Excel on Windows or macOS with macros enabled, and Python with kade and xlwings installed "
            "(same xlwings version as this workbook's VBA). See docs/excel.md.",
            formats.wrap,
        ),
        (
            "Which Python: the sheet _xlwings.conf (rename it to xlwings.conf to use it), the xlwings add-in settings, "
            "or 'python' on the PATH.",
            formats.wrap,
        ),
    ]
    ws.set_column(0, 0, 110)
    for r, (text, fmt) in enumerate(lines):
        ws.write_string(r, 0, text, fmt)


def _write_xlwings_conf(book, python: str | None):
    """xlwings' own settings sheet from the template; active only when ``python`` is given."""
    template = openpyxl.load_workbook(xlwings_template())["_xlwings.conf"]
    ws = book.add_worksheet("xlwings.conf" if python else "_xlwings.conf")
    for r, row in enumerate(template.iter_rows(values_only=True)):
        key = row[0]
        value = python if python and key in ("Interpreter_Win", "Interpreter_Mac") else row[1]
        for c, item in enumerate((key, value)):
            if isinstance(item, bool):
                ws.write_boolean(r, c, item)
            elif item is not None:
                ws.write_string(r, c, str(item))
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 40)


def _bind_buttons(xlsm: bytes, target: Path):
    """Copy the package, giving each button its RunPython macro in the VML part."""
    expected = {
        f"<x:FmlaMacro>[0]!{b.placeholder}</x:FmlaMacro>": f"<x:FmlaMacro>{escape(b.macro, {chr(34): '&quot;'})}</x:FmlaMacro>"
        for b in BUTTONS
    }
    replaced = 0
    with zipfile.ZipFile(io.BytesIO(xlsm)) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("xl/drawings/vmlDrawing"):
                text = data.decode("utf-8")
                for placeholder, macro in expected.items():
                    replaced += text.count(placeholder)
                    text = text.replace(placeholder, macro)
                data = text.encode("utf-8")
            dst.writestr(info, data)
    if replaced == 0 or replaced % len(BUTTONS):
        raise BuildError(f"internal: bound {replaced} button macros, expected a multiple of {len(BUTTONS)}")
