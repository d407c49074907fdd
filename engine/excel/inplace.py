"""`kade evaluate --in-place`: write the decision columns into the user's own
.xlsx — without ever damaging it.

* Refuse, before any work, a workbook holding parts openpyxl would drop or
  change on saving (drawings, charts, form controls, pivot tables, slicers,
  external links, Power Query, VBA, ...). openpyxl's own warnings while
  reading also refuse. The message names every part found.
* Refuse a workbook open in Excel or LibreOffice (their owner files), and take
  a lock file of our own (O_EXCL) so two kade runs never write it at once.
* Save to a temporary file beside it, check that file reads back, copy the
  original to WORKBOOK.bak-<timestamp>.xlsx, then rename over the original —
  only if the original did not change meanwhile.

The decisions are written by the same handler as the Evaluate button
(``engine.excel.handlers.evaluate``) through an openpyxl workbook port.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
import re
import shutil
import socket
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter

from engine.audit import sha256_file
from engine.errors import DataError
from engine.excel import handlers
from engine.excel.errors import InPlaceRefused, WorkbookLocked
from engine.io.writers import atomic_path, process_alive
from engine.io.xlsx_scan import scan_workbook
from engine.model import RuleSet
from engine.text import display_width

# Parts openpyxl reads and writes back faithfully (or that are safe to lose:
# calcChain is rebuilt by Excel, printerSettings are printer-driver bytes, the
# thumbnail is the file-browser preview).
_KEPT = re.compile(
    r"""(
    \[Content_Types\]\.xml | _rels/\.rels | docProps/(core|app|custom)\.xml | docProps/thumbnail\.\w+
  | xl/workbook\.xml | xl/_rels/workbook\.xml\.rels | xl/styles\.xml | xl/sharedStrings\.xml | xl/calcChain\.xml
  | xl/theme/theme\d+\.xml | xl/worksheets/sheet\d+\.xml | xl/worksheets/_rels/sheet\d+\.xml\.rels
  | xl/tables/table\d+\.xml | xl/comments/?\w*\.xml | xl/printerSettings/printerSettings\d+\.bin
  | xl/drawings/(vmlDrawing|commentsDrawing)\d+\.vml | xl/drawings/_rels/vmlDrawing\d+\.vml\.rels
)$""",
    re.VERBOSE,
)

# What a dropped part is, in words a manager knows.
_DROPPED = [
    (r"xl/drawings/", "pictures, shapes, text boxes or charts"),
    (r"xl/(charts|chartsheets)/", "charts"),
    (r"xl/media/", "pictures"),
    (r"xl/ctrlProps/", "form controls (buttons, check boxes, drop-downs)"),
    (r"xl/activeX/", "ActiveX controls"),
    (r"xl/(pivotCache|pivotTables)/", "pivot tables"),
    (r"xl/(slicers|slicerCaches)/", "slicers"),
    (r"xl/(timelines|timelineCaches)/", "timelines"),
    (r"xl/vbaProject\.bin", "VBA macros"),
    (r"xl/externalLinks/", "links to other workbooks"),
    (r"xl/(connections\.xml|queryTables/)", "data connections or Power Query queries"),
    (r"xl/model/", "a Power Pivot data model"),
    (r"customXml/", "custom XML parts (document labels, SharePoint properties)"),
    (r"xl/richData/", "pictures in cells or linked data types"),
    (r"xl/(threadedComments|persons)/", "threaded comments"),
    (r"xl/embeddings/", "embedded objects"),
    (r"xl/metadata\.xml", "dynamic-array formula metadata"),
    (r"xl/webextensions/", "Office add-in data"),
]
_SHEET_EXTRAS = [
    (b"<extLst", "Excel 2010+ sheet features (sparklines, data bars or icon sets, validation lists from other sheets)"),
    (b"<controls", "form controls (buttons, check boxes, drop-downs)"),
    (b"<oleObjects", "embedded objects"),
]
# In cell text: rich text runs (fonts, colours within a cell) are kept (read with
# rich_text=True); phonetic guides are not.
_TEXT_EXTRAS = [(b"<rPh", "phonetic guides over cell text (pinyin or furigana)")]


@dataclass
class InPlaceResult:
    workbook: Path
    backup: Path
    outcome: handlers.EvaluateOutcome
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- refusal -----


def parts_openpyxl_drops(path: str | Path) -> list[str]:
    """What in this workbook would be lost or changed by an openpyxl round trip,
    one description per kind (with the parts), [] when it is safe."""
    try:
        package = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return [f"the file is not an .xlsx package ({exc}): encrypted, or an old .xls?"]
    found: dict[str, list[str]] = {}
    with package:
        for name in package.namelist():
            if _KEPT.fullmatch(name):
                if name.endswith(".vml") and _vml_has_controls(package.read(name)):
                    found.setdefault("form controls (buttons, check boxes, drop-downs)", []).append(name)
                elif re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
                    xml = package.read(name)
                    for marker, what in _SHEET_EXTRAS + _TEXT_EXTRAS:
                        if marker in xml:
                            found.setdefault(what, []).append(name)
                elif name == "xl/sharedStrings.xml":
                    xml = package.read(name)
                    for marker, what in _TEXT_EXTRAS:
                        if marker in xml:
                            found.setdefault(what, []).append(name)
                continue
            what = next((w for pattern, w in _DROPPED if re.match(pattern, name)), "parts kade cannot keep")
            found.setdefault(what, []).append(name)
    return [f"{what} ({', '.join(parts[:3])}{', …' if len(parts) > 3 else ''})" for what, parts in found.items()]


def _vml_has_controls(vml: bytes) -> bool:
    """Comments are VML 'Note' shapes (openpyxl keeps them); anything else is a control."""
    kinds = set(re.findall(rb'ObjectType="(\w+)"', vml))
    return bool(kinds - {b"Note"})


def _open_elsewhere(path: Path) -> str | None:
    owners = [
        path.with_name("~$" + path.name),
        path.with_name("~$" + path.name[2:]),
        path.with_name(f".~lock.{path.name}#"),
    ]
    for owner in owners:
        if owner.exists():
            app = "LibreOffice" if owner.name.startswith(".~lock") else "Excel"
            return f"{path.name} is open in {app} ({owner.name} exists): close it there first, or use kade evaluate -o"
    return None


class WorkbookLock:
    """WORKBOOK.kade-lock, created with O_EXCL: one writer at a time."""

    def __init__(self, workbook: Path):
        self.path = workbook.with_name(workbook.name + ".kade-lock")
        self._held = False

    def __enter__(self) -> WorkbookLock:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = self.path.read_text(encoding="utf-8")
            except OSError:
                holder = "unknown"
            if not self._take_over(holder):
                raise WorkbookLocked(
                    f"another kade is writing {self.path.with_suffix('').name} ({holder.strip()}); "
                    f"if none is running, delete {self.path}"
                ) from None
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(
                f"pid {os.getpid()}, {_user()}@{socket.gethostname()}, since {dt.datetime.now().isoformat(timespec='seconds')}\n"
            )
        self._held = True
        return self

    def _take_over(self, holder: str) -> bool:
        """Remove the lock of a kade on this machine that was killed while writing
        (its process is gone). The lock is first renamed aside, so of two runs
        doing this at once only one removes it, and a fresh lock that appeared
        meanwhile is put back."""
        owner = re.match(r"pid (\d+), .*@(.*?), since ", holder)
        if owner is None or owner[2] != socket.gethostname() or process_alive(int(owner[1])):
            return False
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}")
        try:
            os.replace(self.path, aside)
            taken = aside.read_text(encoding="utf-8")
        except OSError:
            return False
        if taken != holder:  # not the dead one's lock: give it back
            with contextlib.suppress(OSError):
                os.link(aside, self.path)
            aside.unlink(missing_ok=True)
            return False
        aside.unlink(missing_ok=True)
        return True

    def __exit__(self, *exc) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


# -------------------------------------------------------------- the port ------


class OpenpyxlBook:
    """A workbook port over an openpyxl workbook: values from the cached-values
    copy, writes into the copy that keeps formulas."""

    def __init__(self, book: openpyxl.Workbook, values: openpyxl.Workbook, name: str, scans=()):
        self.book, self._values, self.name = book, values, name
        self.messages: list[tuple[str, str]] = []
        self._scans = {scan.name: scan for scan in scans}  # engine.io.xlsx_scan: what has no value

    def unreadable(self, sheet: str) -> dict[tuple[int, int], str]:
        """Cells holding an error value or a formula without a stored result (0-based)."""
        scan = self._scans.get(sheet)
        return scan.unreadable if scan is not None else {}

    def sheet_names(self) -> list[str]:
        return self.book.sheetnames

    def values(self, sheet: str) -> list[list]:
        if sheet not in self._values.sheetnames:
            return []
        ws = self._values[sheet]
        if ws.max_row == 1 and ws.max_column == 1 and ws.cell(1, 1).value is None:
            return []
        return [list(row) for row in ws.iter_rows(max_row=ws.max_row, max_col=ws.max_column, values_only=True)]

    def active_sheet(self) -> str:
        return self.book.active.title

    def selection(self) -> tuple[int, int] | None:
        return None  # a file on disk has no user selecting

    def add_sheet(self, name: str) -> None:
        self.book.create_sheet(name)

    def write(self, sheet: str, row: int, column: int, values: list[list]) -> None:
        ws = self.book[sheet]
        for i, row_values in enumerate(values):
            for j, value in enumerate(row_values):
                cell = ws.cell(row + i + 1, column + j + 1)
                cell.value = value
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"  # a text result, not a formula
                elif isinstance(value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd" if value.time() == dt.time() else "yyyy-mm-dd hh:mm"

    def clear(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        ws = self.book[sheet]
        for r in range(row + 1, row + rows + 1):
            for c in range(column + 1, column + columns + 1):
                cell = ws.cell(r, c)
                cell.value = None
                cell.fill = PatternFill(fill_type=None)
                cell.number_format = "General"

    def fill(self, sheet: str, row: int, column: int, rows: int, columns: int, colour: str) -> None:
        ws = self.book[sheet]
        paint = PatternFill("solid", start_color=colour.lstrip("#").upper(), end_color=colour.lstrip("#").upper())
        for r in range(row + 1, row + rows + 1):
            for c in range(column + 1, column + columns + 1):
                ws.cell(r, c).fill = paint

    def autofit(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        ws = self.book[sheet]
        for c in range(column + 1, column + columns + 1):
            cells = (ws.cell(r, c).value for r in range(row + 1, row + rows + 1))
            longest = max((display_width("" if v is None else str(v)) for v in cells), default=0)
            ws.column_dimensions[get_column_letter(c)].width = min(50, max(8, longest + 2))

    def message(self, text: str, title: str) -> None:
        self.messages.append((title, text))


# -------------------------------------------------------------- in place ------


def backup_path(workbook: Path, now: dt.datetime | None = None) -> Path:
    """WORKBOOK.bak-<timestamp>.xlsx beside it, never an existing file."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate = workbook.with_name(f"{workbook.stem}.bak-{stamp}{workbook.suffix}")
    n = 2
    while candidate.exists():
        candidate = workbook.with_name(f"{workbook.stem}.bak-{stamp}-{n}{workbook.suffix}")
        n += 1
    return candidate


def evaluate_in_place(
    workbook: str | Path,
    rules: RuleSet,
    *,
    trace: bool = False,
    engine_name: str = "vectorized",
    now: dt.datetime | None = None,
) -> InPlaceResult:
    """Decide every row of WORKBOOK and write the results into it. Raises
    InPlaceRefused / WorkbookLocked (nothing written) or KadeError from the
    evaluation (nothing written either)."""
    path = Path(workbook)
    if not path.is_file():
        raise InPlaceRefused(f"workbook not found: {path}")
    if path.suffix.lower() != ".xlsx":
        raise InPlaceRefused(
            f"{path.name}: --in-place writes only .xlsx workbooks (a macro workbook has its Evaluate button; "
            "otherwise use kade evaluate -o)"
        )
    busy = _open_elsewhere(path)
    if busy:
        raise WorkbookLocked(busy)
    try:  # a renamed file, a far-away cell or a zip bomb is refused before openpyxl loads it whole
        scans = scan_workbook(path)
    except DataError as exc:
        raise InPlaceRefused(exc.message, exc.position) from None
    with WorkbookLock(path):
        dropped = parts_openpyxl_drops(path)
        if dropped:
            raise InPlaceRefused(
                f"{path.name} holds parts that would be lost if kade wrote into it: {'; '.join(dropped)}. "
                "Nothing was written; use kade evaluate -o to write the results to a new file"
            )
        before = sha256_file(path)
        book, values = _load(path)
        port = OpenpyxlBook(book, values, path.name, scans)
        outcome = handlers.evaluate(port, rules, trace=trace, engine_name=engine_name)
        notes = _formula_notes(book)
        backup = backup_path(path, now)
        with atomic_path(path) as tmp:
            book.save(tmp)
            _check_readable(tmp, book.sheetnames)
            if sha256_file(path) != before:
                raise InPlaceRefused(f"{path.name} changed while kade was deciding; nothing was written, run again")
            shutil.copy2(path, backup)
    return InPlaceResult(path, backup, outcome, notes)


def _load(path: Path) -> tuple[openpyxl.Workbook, openpyxl.Workbook]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            book = openpyxl.load_workbook(path, rich_text=True)  # keeps fonts and colours within a cell
            values = openpyxl.load_workbook(path, data_only=True)
        except Exception as exc:
            raise InPlaceRefused(f"cannot read {path.name}: {exc}") from exc
    lost = sorted({str(w.message) for w in caught})
    if lost:  # openpyxl says it will drop or change something
        raise InPlaceRefused(f"{path.name}: {'; '.join(lost)}. Nothing was written; use kade evaluate -o")
    return book, values


def _formula_notes(book: openpyxl.Workbook) -> list[str]:
    formulas = sum(1 for ws in book.worksheets for row in ws.iter_rows() for cell in row if cell.data_type == "f")
    if not formulas:
        return []
    book.calculation.fullCalcOnLoad = True
    return [
        f"{formulas:,} formula cell(s) are kept, but their computed values are recalculated when Excel next opens "
        "the workbook (until then other programs, kade included, see them empty)"
    ]


def _check_readable(path: Path, sheets: list[str]):
    try:
        written = openpyxl.load_workbook(path, read_only=True)
        names = written.sheetnames
        written.close()
    except Exception as exc:
        raise InPlaceRefused(f"the written copy did not read back ({exc}); the workbook was not replaced") from exc
    if names != sheets:
        raise InPlaceRefused("the written copy lost sheets; the workbook was not replaced")
