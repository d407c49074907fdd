"""The compliance report workbook (`kade check --report OUT.xlsx`), for managers.

* **Summary**: what was checked, one line per recorded column (counts by kind
  and severity), and native Excel charts: findings by decision (stacked by
  severity), findings by severity, and for every checked decision what the
  rules decided against what the register records (client tier distribution,
  routing split, approver levels, SLA tiers).
* **Violations**: every finding as a filterable Excel table - severity, kind,
  row, recorded and required values, what is wrong, the rule and why it decides so.
* **one sheet per decision**: how it is compared, decided vs recorded (the
  charts' data), a recorded x decided table, its findings and the rows not checked.

Written with XlsxWriter, whose chart API Excel and LibreOffice both render; the
report holds findings, not rows, so it stays small. Written to a temporary file
and renamed, like every kade output.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from engine.analysis.compliance import AT_LEAST, AT_MOST, KINDS, ColumnCheck, Compliance
from engine.errors import ERROR, INFO, SEVERITIES, WARNING
from engine.io.cells import cell_values
from engine.io.writers import atomic_path

MAX_TABLE_ROWS = 1_048_575 - 40  # below a sheet's header block; beyond this a table is cut and says so
SEVERITY_COLOURS = {ERROR: "#C00000", WARNING: "#ED7D31", INFO: "#FFC000"}
SEVERITY_FILLS = {ERROR: "#F4CCCC", WARNING: "#FCE4D6", INFO: "#FFF2CC"}
DECIDED_COLOUR, RECORDED_COLOUR = "#4472C4", "#A5A5A5"
CHART_WIDTH, CHART_HEIGHT = 520, 300

# Columns of the findings tables: (header, field of Compliance.findings, width)
FINDING_FIELDS = [
    ("severity", "severity", 9),
    ("kind", "kind", 12),
    ("decision", "decision", 18),
    ("sheet", "sheet", 10),
    ("row key", "key", 14),
    ("sheet row", "row", 9),
    ("recorded column", "column", 14),
    ("recorded", "recorded", 16),
    ("required", "required", 16),
    ("what is wrong", "finding", 60),
    ("rule", "rule", 8),
    ("why the rules decide so", "reason", 90),
]
ERROR_FIELDS = [
    ("sheet", "sheet", 10),
    ("row key", "key", 14),
    ("sheet row", "row", 9),
    ("recorded", "recorded", 16),
    ("why the row was not checked", "error", 80),
]
MODE_WORDS = {
    AT_LEAST: "at least: the recorded value must rank at or above the decided one (the first allowed value is "
    "the highest); above is allowed, below is a violation",
    AT_MOST: "at most: the recorded value must rank at or below the decided one; below is allowed, "
    "above is a violation",
    "equal": "equal: the recorded value must be the decided one; any other value is a violation",
}


def write_report(compliance: Compliance, target: str | Path, *, checked_at: dt.datetime | None = None) -> Path:
    """Write the report to ``target`` (.xlsx) and return its path."""
    target = Path(target)
    with atomic_path(target, ".xlsx") as tmp:
        book = xlsxwriter.Workbook(
            str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
        )
        book.set_properties({"title": "kade check", "comments": f"register {compliance.source}"})
        styles = _Styles(book)
        summary = book.add_worksheet("Summary")
        violations = book.add_worksheet("Violations")
        checked = [c for c in compliance.checks if not (c.skipped or c.problem)]
        sheet_names = _decision_sheet_names(checked)
        distributions = {}
        for check in checked:
            ws = book.add_worksheet(sheet_names[check.decision])
            distributions[check.decision] = _write_decision_sheet(ws, check, compliance, styles)
        _write_findings_table(violations, compliance.findings, 0, "AllFindings", styles, FINDING_FIELDS)
        violations.freeze_panes(1, 0)
        violations.repeat_rows(0)
        for ws in book.worksheets()[1:]:  # wide tables: print across
            ws.set_landscape()
            ws.set_paper(9)
        _write_summary(
            book,
            summary,
            compliance,
            checked,
            sheet_names,
            distributions,
            styles,
            checked_at or dt.datetime.now().astimezone(),
        )
        book.close()
    return target


class _Styles:
    def __init__(self, book):
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.bold = book.add_format({"bold": True})
        self.note = book.add_format({"italic": True, "font_color": "#595959"})
        self.header = book.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
        )
        self.number = book.add_format({"num_format": "#,##0", "border": 1})
        self.percent = book.add_format({"num_format": "0.0%", "border": 1})
        self.cell = book.add_format({"border": 1})
        self.ok = book.add_format({"num_format": "#,##0", "border": 1, "bg_color": "#E2EFDA"})
        self.bad = book.add_format({"num_format": "#,##0", "border": 1, "bg_color": "#F4CCCC", "bold": True})
        self.severity = {s: book.add_format({"bg_color": SEVERITY_FILLS[s]}) for s in SEVERITIES}


def _decision_sheet_names(checks: list[ColumnCheck]) -> dict[str, str]:
    """Sheet names are the decision names, cut to Excel's 31 characters and kept unique."""
    names: dict[str, str] = {}
    taken = {"summary", "violations"}
    for check in checks:
        base = check.decision[:31]
        name, k = base, 2
        while name.lower() in taken:
            name, k = f"{base[:28]}_{k}", k + 1
        taken.add(name.lower())
        names[check.decision] = name
    return names


def _label(compliance: Compliance, check: ColumnCheck) -> str:
    """'client tier' - the output as the glossary names it."""
    variable = compliance.evaluation.rules.variables.get(check.output)
    return variable.display if variable is not None else check.output.replace("_", " ")


# --------------------------------------------------------------- Summary ------


def _write_summary(book, ws, compliance: Compliance, checked, sheet_names, distributions, styles, checked_at):
    totals = compliance.totals()
    rules = compliance.evaluation.rules
    ws.write(0, 0, "kade check - recorded decisions against the rules", styles.title)
    ws.write(1, 0, "register", styles.bold)
    ws.write(1, 1, compliance.source)
    ws.write(2, 0, "rules", styles.bold)
    ws.write(2, 1, ", ".join(Path(f).name for f in rules.sources))
    ws.write(3, 0, "checked", styles.bold)
    ws.write(3, 1, checked_at.strftime("%Y-%m-%d %H:%M %Z").strip())
    severity = ", ".join(f"{n:,} {s}" for s, n in totals["by_severity"].items() if n) or "none"
    headline = (
        f"{totals['findings']:,} findings ({severity}) in {totals['rows']:,} rows; "
        f"{totals['compliant']:,} follow the rules; {totals['errors']:,} rows not checked (decision in error)"
    )
    ws.write(5, 0, headline, styles.bold)
    row = 6
    for check in compliance.checks:
        if check.skipped or check.problem:
            ws.write(row, 0, f"{check.label}: not checked, {check.skipped or check.problem}", styles.note)
            row += 1

    # one line per recorded column; the first chart reads its severity columns
    top = row + 1
    header = [
        "recorded column",
        "decision",
        "compared",
        "rows",
        "compliant",
        "violations",
        "missing",
        "unrecognised",
        "in error",
        ERROR,
        WARNING,
        INFO,
        "compliant %",
    ]
    ws.write_row(top, 0, header, styles.header)
    by_decision = (
        compliance.findings.groupby(["decision", "severity"]).size()
        if len(compliance.findings)
        else pd.Series(dtype=int)
    )
    for i, check in enumerate(checked, start=top + 1):
        ws.write(i, 0, check.label, styles.cell)
        ws.write_url(i, 1, f"internal:'{sheet_names[check.decision]}'!A1", string=check.decision)
        ws.write(i, 2, check.mode, styles.cell)
        counts = [
            check.rows,
            check.compliant,
            *(check.counts.get(k, 0) for k in KINDS),
            check.errors,
            *(int(by_decision.get((check.decision, s), 0)) for s in SEVERITIES),
        ]
        ws.write_row(i, 3, counts, styles.number)
        checked_rows = check.rows - check.errors
        ws.write(i, 12, check.compliant / checked_rows if checked_rows else 1.0, styles.percent)
    last = top + len(checked)

    # findings by severity: the second chart's data
    sev_top = last + 2
    ws.write_row(sev_top, 0, ["severity", "findings", "meaning"], styles.header)
    meaning = {
        ERROR: "recorded below a minimum (an under-authorised contract)",
        WARNING: "recorded differently from the decision; or a minimum left empty / unrecognised",
        INFO: "left empty or not an allowed value (not a minimum)",
    }
    for i, s in enumerate(SEVERITIES, start=sev_top + 1):
        ws.write(i, 0, s, styles.severity[s])
        ws.write(i, 1, totals["by_severity"][s], styles.number)
        ws.write(i, 2, meaning[s])

    charts = []
    if checked:
        charts.append(_findings_by_decision_chart(book, top, last))
        charts.append(_findings_by_severity_chart(book, sev_top))
    for check in checked:
        data = distributions.get(check.decision)
        if data is not None:
            charts.append(
                _decided_vs_recorded_chart(book, sheet_names[check.decision], data, _label(compliance, check), check)
            )
    chart_top = sev_top + len(SEVERITIES) + 3
    for k, chart in enumerate(charts):
        anchor = xl_rowcol_to_cell(chart_top + (k // 2) * 16, 0)
        ws.insert_chart(anchor, chart, {"x_offset": (k % 2) * (CHART_WIDTH + 20), "y_offset": 0})
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 20)
    ws.set_column(2, 2, 9)
    ws.set_column(3, 12, 11)
    ws.set_column(7, 7, 13)  # 'unrecognised'
    ws.set_row(top, 30)  # room for wrapped headers
    chart_rows = ((len(charts) + 1) // 2) * 16
    ws.print_area(0, 0, chart_top + chart_rows, 12)
    ws.set_portrait()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 1)
    ws.activate()


def _findings_by_decision_chart(book, top: int, last: int):
    chart = book.add_chart({"type": "column", "subtype": "stacked"})
    for offset, severity in enumerate(SEVERITIES):
        col = 9 + offset
        chart.add_series(
            {
                "name": ["Summary", top, col],
                "categories": ["Summary", top + 1, 1, last, 1],
                "values": ["Summary", top + 1, col, last, col],
                "fill": {"color": SEVERITY_COLOURS[severity]},
                "gap": 80,
            }
        )
    chart.set_title({"name": "Findings by decision", "name_font": {"size": 12}})
    chart.set_y_axis({"name": "rows", "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
    return chart


def _findings_by_severity_chart(book, top: int):
    chart = book.add_chart({"type": "pie"})
    chart.add_series(
        {
            "name": "findings",
            "categories": ["Summary", top + 1, 0, top + len(SEVERITIES), 0],
            "values": ["Summary", top + 1, 1, top + len(SEVERITIES), 1],
            "points": [{"fill": {"color": SEVERITY_COLOURS[s]}} for s in SEVERITIES],
            "data_labels": {"value": True, "category": True, "separator": "\n"},
        }
    )
    chart.set_title({"name": "Findings by severity", "name_font": {"size": 12}})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
    return chart


def _decided_vs_recorded_chart(book, sheet: str, data: tuple[int, int], label: str, check: ColumnCheck):
    first, last = data
    chart = book.add_chart({"type": "column"})
    for col, name, colour in (
        (1, "decided by the rules", DECIDED_COLOUR),
        (2, f"recorded ({check.column})", RECORDED_COLOUR),
    ):
        chart.add_series(
            {
                "name": name,
                "categories": [sheet, first, 0, last, 0],
                "values": [sheet, first, col, last, col],
                "fill": {"color": colour},
                "gap": 60,
                "data_labels": {"value": True, "font": {"size": 8}},
            }
        )
    chart.set_title({"name": f"{label[:1].upper()}{label[1:]}: decided vs recorded", "name_font": {"size": 12}})
    chart.set_y_axis({"name": "rows", "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
    return chart


# -------------------------------------------------------- decision sheets -----


def _write_decision_sheet(ws, check: ColumnCheck, compliance: Compliance, styles) -> tuple[int, int] | None:
    """Returns the rows (first, last) of its decided-vs-recorded table, the data of its chart."""
    label = _label(compliance, check)
    ws.write(0, 0, f"{label} ({check.decision}): {check.label} against the decision", styles.title)
    ws.write(1, 0, "compared", styles.bold)
    ws.write(1, 1, MODE_WORDS[check.mode])
    ws.write(2, 0, "rows", styles.bold)
    ws.write(
        2,
        1,
        f"{check.rows:,} rows: {check.compliant:,} compliant, "
        + ", ".join(f"{check.counts.get(k, 0):,} {k}" for k in KINDS)
        + f", {check.errors:,} not checked (decision in error)",
    )
    row = 4
    data = None
    matrix = check.matrix
    if matrix is not None:
        decided_values = [c for c in matrix.columns if c != "(empty)"]
        ws.write_row(row, 0, ["value", "decided by the rules", "recorded"], styles.header)
        categories = decided_values + [r for r in matrix.index if r not in decided_values]
        for i, value in enumerate(categories, start=row + 1):
            decided = int(matrix[value].sum()) if value in matrix.columns else 0
            recorded = int(matrix.loc[value].sum()) if value in matrix.index else 0
            ws.write(i, 0, value, styles.cell)
            ws.write(i, 1, decided, styles.number)
            ws.write(i, 2, recorded, styles.number)
        data = (row + 1, row + len(categories))
        row += len(categories) + 2
        ws.write(row, 0, "rows per recorded value (down) and decided value (across); red: not allowed", styles.bold)
        row += 1
        ws.write(row, 0, "recorded \\ decided", styles.header)
        ws.write_row(row, 1, list(matrix.columns), styles.header)
        for i, recorded_label in enumerate(matrix.index, start=row + 1):
            ws.write(i, 0, recorded_label, styles.header)
            for j, decided_label in enumerate(matrix.columns, start=1):
                count = int(matrix.to_numpy()[i - row - 1, j - 1])
                allowed = _allowed(check, str(recorded_label), str(decided_label))
                ws.write(i, j, count, (styles.ok if allowed else styles.bad) if count else styles.number)
        row += len(matrix.index) + 2
    findings = compliance.findings[compliance.findings["decision"] == check.decision]
    ws.write(row, 0, f"findings ({len(findings):,})", styles.bold)
    row = (
        _write_findings_table(
            ws,
            findings,
            row + 1,
            f"Findings_{check.decision}",
            styles,
            [f for f in FINDING_FIELDS if f[1] != "decision"],
        )
        + 2
    )
    errors = compliance.errors[compliance.errors["decision"] == check.decision]
    ws.write(row, 0, f"rows not checked, their decision is in error ({len(errors):,})", styles.bold)
    _write_findings_table(ws, errors, row + 1, f"NotChecked_{check.decision}", styles, ERROR_FIELDS)
    ws.set_column(0, 0, 22)
    return data


def _allowed(check: ColumnCheck, recorded: str, decided: str) -> bool:
    """Whether a recorded x decided cell is compliant, for its colour."""
    assert check.matrix is not None  # only checks with a matrix get a decision sheet
    labels = [str(v) for v in check.matrix.columns if v != "(empty)"]
    if recorded not in labels or decided not in labels:
        return False
    if check.mode == AT_LEAST:
        return labels.index(recorded) <= labels.index(decided)
    return recorded == decided


# ---------------------------------------------------------------- tables ------


def _write_findings_table(ws, frame: pd.DataFrame, top: int, name: str, styles, fields) -> int:
    """An Excel table (banded, with filter buttons) of ``frame``'s ``fields``;
    returns its last row. Written a column at a time; cut at Excel's row limit."""
    shown = frame.head(MAX_TABLE_ROWS - top)
    headers = [h for h, _, _ in fields]
    for c, (_, _, width) in enumerate(fields):
        ws.set_column(c, c, width)
    if not len(shown):
        ws.write_row(top, 0, headers, styles.header)
        ws.write(top + 1, 0, "none", styles.note)
        return top + 1
    for c, (_, field, _) in enumerate(fields):
        values = shown[field].to_numpy(dtype=object)
        ws.write_column(top + 1, c, cell_values(values))
    last = top + len(shown)
    ws.add_table(
        top,
        0,
        last,
        len(fields) - 1,
        {
            "name": _table_name(name),
            "style": "Table Style Light 9",
            "columns": [{"header": h, "header_format": styles.header} for h in headers],
        },
    )
    if "severity" in [f for _, f, _ in fields]:
        col = xl_col_to_name([f for _, f, _ in fields].index("severity"))
        for severity in SEVERITIES:
            ws.conditional_format(
                f"{col}{top + 2}:{col}{last + 1}",
                {"type": "cell", "criteria": "==", "value": f'"{severity}"', "format": styles.severity[severity]},
            )
    if len(frame) > len(shown):
        ws.write(
            last + 1,
            0,
            f"{len(frame) - len(shown):,} more rows do not fit in a sheet; kade check --format json lists all",
            styles.note,
        )
        return last + 1
    return last


def _table_name(text: str) -> str:
    """Excel table names: letters, digits and underscores, starting with a letter."""
    name = "".join(ch if ch.isalnum() and ch.isascii() else "_" for ch in text)
    return name if name[:1].isalpha() else f"T_{name}"
