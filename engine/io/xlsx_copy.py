"""Results as a copy of the input .xlsx: each evaluated sheet gets the decision
columns appended to the right of its data, a 'kade summary' sheet is put
first, and every other part of the file (other sheets, formatting, formulas,
column widths, shared strings, defined names) is carried over unchanged.

The input's sheet XML is copied, not rebuilt from values: the new cells are
spliced in before each row's ``</row>``, at offsets found with numpy, and the
pieces are joined with Arrow. So writing the results costs about as much as
copying the file plus writing the new cells, and the manager's workbook keeps
its look.

Only packages in the plain layout Excel, LibreOffice, openpyxl and XlsxWriter
write are edited. Anything else (macro-enabled or strict-XML files, prefixed
element names, rows without numbers, a formatted empty row inside the data, a
header that clashes with a decision column...) raises ``NotAppendable`` and
the caller writes a fresh workbook instead (engine.io.writers)."""

from __future__ import annotations

import re
import threading
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape, unescape

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import DataError, Position
from engine.io import xlsx_stream
from engine.io.xlsx_scan import inflate_part, resolve_part
from engine.io.xlsx_stream import SheetSpec

MAX_COLUMNS = 16_384
# small pieces: deflating one overlaps building the next (engine.io.xlsx_stream.write_entry), and
# the rows in flight (their XML, their reasons, made as they are written) stay a few tens of MB
APPEND_ROWS_PER_PIECE = 10_000
SUMMARY_SHEET = "kade summary"
_MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_WORKSHEET_REL = _REL + "/worksheet"


class NotAppendable(Exception):
    """The input cannot be edited safely; write a fresh workbook instead."""


@dataclass
class Appended:
    """Columns to append to one sheet of the source workbook."""

    sheet: str  # the sheet's name in the source
    columns: pd.DataFrame  # one row per data row, in sheet order
    origin: tuple[int, int]  # 0-based (row, column) of the header's first cell, as read
    data_width: int  # columns the data occupies from the origin
    kinds: list[str]  # per column: 'decision' | 'error' (header colours)
    widths: list[float]
    computed: dict | None = None  # columns whose text is made when written (xlsx_stream.SheetSpec.computed)


# ------------------------------------------------------------ the source ------


class Source:
    """An input .xlsx opened for appending. The sheets' XML is inflated and
    indexed in a background thread (zlib and numpy release the GIL) from
    ``start()`` on, while the caller reads and evaluates the workbook; ``write``
    waits for it (and starts it if nobody did)."""

    def __init__(self, path: str | Path, *, start: bool = True):
        self.path = Path(path)
        self.why_not: str | None = None  # set by engine.io.writers when it had to write a new workbook instead
        self._sheets: dict[str, _SheetXml | Exception] = {}
        self._error: Exception | None = None
        self._thread: threading.Thread | None = None
        try:
            self._package = _Package(self.path)
        except (NotAppendable, OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
            self._error = exc if isinstance(exc, NotAppendable) else NotAppendable(f"cannot open the package: {exc}")
            return
        if start:
            self.start()

    def start(self) -> None:
        """Begin indexing the sheets in the background (once; nothing to do when the
        package could not be opened)."""
        if self._error is None and self._thread is None:
            self._thread = threading.Thread(target=self._index_all, name="kade-xlsx-index", daemon=True)
            self._thread.start()

    def _index_all(self):
        with zipfile.ZipFile(self.path) as zf, open(self.path, "rb") as raw:
            for name, part in self._package.sheet_parts.items():
                try:
                    info = zf.getinfo(part)
                    self._sheets[name] = _SheetXml.index(_part_pieces(raw, info), info)
                except (NotAppendable, DataError, KeyError, zipfile.BadZipFile, ValueError, MemoryError) as exc:
                    self._sheets[name] = (
                        exc if isinstance(exc, NotAppendable) else NotAppendable(f"sheet {name!r}: {exc}")
                    )

    def sheet(self, name: str) -> _SheetXml:
        self.start()
        if self._thread is not None:
            self._thread.join()
        found = self._sheets.get(name)
        if found is None:
            raise NotAppendable(f"no worksheet {name!r} in the package")
        if isinstance(found, Exception):
            raise found
        return found

    def write(self, target: Path, appended: list[Appended], summary: SheetSpec | None):
        """Write the copy with the appended columns to ``target`` (the caller
        makes it atomic). Raises NotAppendable before writing anything."""
        if self._error is not None:
            raise self._error
        package = self._package
        plans = {}
        for a in appended:
            sx = self.sheet(a.sheet)
            plans[package.sheet_parts[a.sheet]] = (sx, a)
        if summary is not None and SUMMARY_SHEET.casefold() in {n.casefold() for n in package.sheet_names}:
            raise NotAppendable(f"the workbook already has a sheet {SUMMARY_SHEET!r}")
        try:
            styles_xml, styles = _add_styles(package.read(package.styles_part))
        except (KeyError, ValueError) as exc:  # a missing or non-UTF-8 styles part
            raise NotAppendable(f"cannot edit the styles: {exc}") from exc
        for sx, a in plans.values():
            sx.plan(a)  # raise before the output file is touched
        replaced = {package.styles_part: styles_xml.encode("utf-8")}
        summary_part = None
        workbook = package.workbook
        if summary is not None:
            summary_part, edits = package.add_first_sheet(SUMMARY_SHEET)
            replaced.update(edits)
            workbook = edits[package.workbook_part].decode("utf-8")
        shift = 1 if summary is not None else 0
        for sx, a in plans.values():  # the autofilter now reaches the decision columns: so does its name
            cells = sx.filter_cells(a)
            if cells is not None:
                workbook = _with_filter_name(workbook, package.sheet_names.index(a.sheet) + shift, a.sheet, cells)
        if workbook != package.workbook:
            replaced[package.workbook_part] = workbook.encode("utf-8")
        try:
            self._copy(target, plans, styles, replaced, summary, summary_part)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, DataError) as exc:
            raise NotAppendable(f"cannot copy a part of the package: {exc}") from exc

    def _copy(
        self,
        target: Path,
        plans: dict,
        styles: dict[str, int],
        replaced: dict[str, bytes],
        summary: SheetSpec | None,
        summary_part: str | None,
    ):
        package = self._package
        with (
            zipfile.ZipFile(self.path) as src,
            xlsx_stream.new_package(target, compresslevel=6) as out,
        ):
            for info in src.infolist():
                if info.filename in plans:
                    sx, a = plans[info.filename]
                    if info.CRC != sx.info.CRC or info.file_size != sx.info.file_size:
                        raise NotAppendable(f"sheet {a.sheet!r} changed while the workbook was evaluated")
                    with open(self.path, "rb") as raw:
                        rows = _part_pieces(raw, info)
                        xlsx_stream.write_entry(out, info.filename, sx.pieces(a, styles, rows, package.epoch))
                elif info.filename in replaced:
                    out.writestr(_info_like(info), replaced[info.filename])
                elif info.file_size > 1 << 20:
                    with src.open(info) as data:
                        xlsx_stream.write_entry(out, info.filename, iter(lambda: data.read(1 << 22), b""))
                else:
                    out.writestr(_info_like(info), src.read(info))
            if summary is not None and summary_part is not None:
                xlsx_stream.write_entry(out, summary_part, xlsx_stream.sheet_xml(summary, styles))


def _info_like(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(info.filename, info.date_time)
    copy.compress_type = zipfile.ZIP_DEFLATED
    copy.external_attr = info.external_attr
    return copy


# ------------------------------------------------------------- sheet XML ------

_WHITESPACE = np.array([0x20, 0x09, 0x0A, 0x0D], dtype=np.uint8)
_MAX_DIGITS = 7  # row numbers go to 1,048,576


def _part_pieces(raw, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A worksheet part's XML in pieces that each end just after a '</row>' (so a
    row is never cut), without the rows' optional spans="…" attributes (they would
    be untrue once cells are added). The same bytes each time it is read: the index
    is made from one reading and the copy written from another."""
    carry = b""
    for chunk in inflate_part(raw, info, Position(info.filename)):
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"</row>")
        if cut < 0:
            carry = data
            continue
        yield _without_spans(data[: cut + 6])
        carry = data[cut + 6 :]
    if carry:
        yield _without_spans(carry)


def _without_spans(xml: bytes) -> bytes:
    """The rows without their spans="…" (each row's column range: optional, and untrue
    once cells are added): first where Excel writes it, then anywhere in a row tag."""
    for pattern in (rb'(<row r="\d+") spans="[\d: ]*"', rb'(<row\b[^>]*?) spans="[\d: ]*"'):
        if not len(_starts(np.frombuffer(xml, np.uint8), b' spans="', 2)):
            break
        xml = re.sub(pattern, rb"\1", xml)
    return xml


class _Cursor:
    """Reads the pieces of a part in order: the bytes up to an offset, each once."""

    def __init__(self, pieces: Iterator[bytes]):
        self._pieces, self._buffer, self._at, self.offset = pieces, b"", 0, 0

    def upto(self, offset: int) -> bytes:
        """The bytes from where the last read ended to ``offset``."""
        out = []
        while self.offset < offset:
            if self._at == len(self._buffer):
                self._buffer, self._at = next(self._pieces, b""), 0
                if not self._buffer:
                    raise NotAppendable("the worksheet changed while the workbook was evaluated")
            take = min(len(self._buffer) - self._at, offset - self.offset)
            out.append(self._buffer[self._at : self._at + take])
            self._at += take
            self.offset += take
        return b"".join(out)


@dataclass
class _SheetXml:
    """Where one worksheet's rows are, found in one reading of its XML (a piece at a
    time: the XML itself is not kept, only the text before and after the rows): for
    each <row>, its number, the offset of '<row' and of its '</row>' (-1 for an empty
    '<row .../>'). ``pieces`` reads the XML again to write the copy."""

    info: zipfile.ZipInfo  # the part as indexed: the copy is made from the same bytes
    head: bytes  # up to and including <sheetData>
    tail: bytes  # from </sheetData> on
    data_end: int  # offset of </sheetData>
    numbers: np.ndarray
    opens: np.ndarray
    ends: np.ndarray
    last_column: int  # right-most 0-based column holding a cell (formatted empty ones too), merged or declared

    @property
    def data_start(self) -> int:
        return len(self.head)

    @classmethod
    def index(cls, pieces: Iterable[bytes], info: zipfile.ZipInfo) -> _SheetXml:
        head: bytes | None = None
        before = b""  # the text before <sheetData>, until it is found
        tail: list[bytes] | None = None
        offset = 0
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
        for piece in pieces:
            if head is None:
                before += piece
                m = re.search(rb"<sheetData\s*>", before)
                if m is None:
                    if len(before) > _HEAD_AT_MOST:
                        raise NotAppendable("worksheet without a plain <sheetData> element")
                    continue
                if _MAIN not in before[: m.start()]:
                    raise NotAppendable("worksheet without a plain <sheetData> element")
                head, piece, offset = before[: m.end()], before[m.end() :], m.end()
            if tail is not None:
                tail.append(piece)
                offset += len(piece)
                continue
            closing = _starts(np.frombuffer(piece, np.uint8), b"</sheetData>", 7)
            stop = int(closing[0]) if len(closing) else -1
            data = piece if stop < 0 else piece[:stop]
            found.append(_rows_in(data, offset))
            if stop >= 0:
                tail = [piece[stop:]]
                data_end = offset + stop
            offset += len(piece)
        if head is None:
            raise NotAppendable("worksheet without a plain <sheetData> element")
        if tail is None:
            raise NotAppendable("worksheet whose <sheetData> is not closed")
        numbers = np.concatenate([f[0] for f in found]) if found else np.empty(0, np.int64)
        if np.any(np.diff(numbers) <= 0):
            raise NotAppendable("rows out of order, nested or not closed")
        after = b"".join(tail)
        merged = [_cell(ref.split(b":")[-1])[0] for ref in re.findall(rb'<mergeCell\b[^>]*\bref="([^"]+)"', after)]
        dimension = re.search(rb'<dimension\b[^>]*\bref="(?:[A-Z]+\d+:)?([A-Z]+\d+)"', head)
        declared = [_cell(dimension[1])[0]] if dimension else []
        return cls(
            info,
            head,
            after,
            data_end,
            numbers,
            np.concatenate([f[1] for f in found]) if found else np.empty(0, np.int64),
            np.concatenate([f[2] for f in found]) if found else np.empty(0, np.int64),
            max([-1, *(f[3] for f in found), *merged, *declared]),
        )

    def plan(self, a: Appended) -> tuple[np.ndarray, np.ndarray, int]:
        """Insertion offsets for the header row then each data row, whether that
        row exists, and the first appended column."""
        # cells must stay in column order: the new ones go right of every cell of the sheet
        # (formatted empty ones too, which the reader skips) and of every merged range
        first = max(a.origin[1] + a.data_width, self.last_column + 1)
        if first + len(a.columns.columns) > MAX_COLUMNS:
            raise NotAppendable(f"sheet {a.sheet!r} has no room for {len(a.columns.columns)} more columns")
        header_row = a.origin[0] + 1
        rows = header_row + np.arange(len(a.columns) + 1)
        at = np.searchsorted(self.numbers, rows)
        clipped = np.minimum(at, max(len(self.numbers) - 1, 0))
        found = (
            (at < len(self.numbers)) & (self.numbers[clipped] == rows)
            if len(self.numbers)
            else np.zeros(len(rows), bool)
        )
        if not found[0] or self.ends[clipped[0]] < 0:
            raise NotAppendable(f"sheet {a.sheet!r}: header row {header_row} not found")
        if np.any(found & (self.ends[clipped] < 0)):
            raise NotAppendable(f"sheet {a.sheet!r}: a formatted empty row inside the data")
        following = (
            np.where(at < len(self.opens), self.opens[clipped], self.data_end)
            if len(self.opens)
            else np.full(len(rows), self.data_end)
        )
        offsets = np.where(found, self.ends[clipped], following)
        return offsets, found, first

    def pieces(
        self, a: Appended, styles: dict[str, int], xml: Iterator[bytes], epoch: pd.Timestamp = xlsx_stream.EPOCH_1900
    ):
        """The edited worksheet XML, in pieces, from ``xml`` (the part read again, in
        ``_part_pieces``); dates counted from ``epoch``."""
        offsets, found, first = self.plan(a)
        source = _Cursor(xml)
        source.upto(self.data_start)
        columns = a.columns
        letters = xlsx_stream.col_letters(first + len(columns.columns))[first:]
        header_row = a.origin[0] + 1
        last_row = max(int(self.numbers[-1]) if len(self.numbers) else 0, header_row + len(columns))
        yield _edit_head(self.head, letters[-1], last_row, first, a.widths)
        header = xlsx_stream.header_cells(columns.columns, letters, header_row, a.kinds, styles)
        yield source.upto(int(offsets[0])) + header.encode("utf-8")
        step = APPEND_ROWS_PER_PIECE
        for k0 in range(0, len(columns), step):
            k1 = min(len(columns), k0 + step)
            numbers = pc.cast(pa.array(header_row + 1 + np.arange(k0, k1)), pa.string())
            cells = xlsx_stream.row_cells(columns, letters, numbers, k0, k1, styles["date"], epoch, a.computed)
            new_rows = ~found[1 + k0 : 1 + k1]
            if new_rows.any():  # blank rows inside the data have no <row> yet
                cells = pc.if_else(
                    pa.array(new_rows),
                    pc.binary_join_element_wise('<row r="', numbers, '">', cells, "</row>", ""),
                    cells,
                )
            cuts = offsets[k0 : k1 + 1]  # text before each insertion: from the previous insertion
            base = int(cuts[0])
            data = pa.py_buffer(source.upto(int(cuts[-1])))
            segments = pa.Array.from_buffers(
                pa.large_binary(), k1 - k0, [None, pa.py_buffer((cuts - base).astype(np.int64)), data]
            )
            joined = pc.binary_join_element_wise(
                segments, cells.cast(pa.large_binary()), pa.scalar(b"", pa.large_binary())
            )
            yield xlsx_stream.joined(joined)
        yield source.upto(self.data_end)
        if source.upto(self.data_end + len(self.tail)) != self.tail:
            raise NotAppendable(f"sheet {a.sheet!r} changed while the workbook was evaluated")
        yield self._edit_tail(a, letters, styles)

    # after the rows: the autofilter over data and decisions, the error rows highlighted
    def filter_cells(self, a: Appended) -> str | None:
        """'$A$1:$X$321': what the sheet's autofilter covers once the decisions are
        appended - the header row's data and decision columns. None: left as it is
        (an Excel table has its own filter; a filter elsewhere on the sheet is not ours)."""
        tail = self.tail
        if b"<tableParts" in tail:
            return None
        _, _, first = self.plan(a)
        header_row = a.origin[0] + 1
        last_row = header_row + len(a.columns)
        left, right = a.origin[1], first + len(a.columns.columns) - 1
        found = re.search(rb'<autoFilter[^>]*ref="([^"]+)"', tail)
        if found is not None:
            ends = [_cell(ref) for ref in found[1].split(b":")]
            (c0, r0), (c1, r1) = ends[0], ends[-1]
            if r0 != header_row or c0 > left or c1 < a.origin[1] + a.data_width - 1:
                return None
            left, last_row = c0, max(r1, last_row)
        letters = xlsx_stream.col_letters(right + 1)
        return f"${letters[left]}${header_row}:${letters[right]}${last_row}"

    def _edit_tail(self, a: Appended, letters: list[str], styles: dict[str, int]) -> bytes:
        tail = self.tail.decode("utf-8")
        cells = self.filter_cells(a)
        if cells is not None:
            ref = cells.replace("$", "")
            if re.search(r"<autoFilter\b", tail):
                tail = re.sub(r'(<autoFilter\b[^>]*\bref=")[^"]+"', lambda m: f'{m[1]}{ref}"', tail, count=1)
            else:
                tail = _insert_before(tail, _AFTER_AUTOFILTER, f'<autoFilter ref="{ref}"/>')
        if "error" in a.kinds and len(a.columns):
            header_row = a.origin[0] + 1
            first_letter = xlsx_stream.col_letters(a.origin[1] + 1)[-1]
            where = f"{first_letter}{header_row + 1}:{letters[-1]}{header_row + len(a.columns)}"
            errors = letters[a.kinds.index("error")]
            priority = max([0, *map(int, re.findall(r'<cfRule\b[^>]*\bpriority="(\d+)"', tail))]) + 1
            rule = xlsx_stream.highlight_rows(where, f"${errors}{header_row + 1}", styles["highlight"], priority)
            tail = _insert_before(tail, _AFTER_CONDITIONAL_FORMATTING, rule)
        return tail.encode("utf-8")


# worksheet children that come after <autoFilter> / <conditionalFormatting> (the schema's order)
_AFTER_CONDITIONAL_FORMATTING = [
    "dataValidations",
    "hyperlinks",
    "printOptions",
    "pageMargins",
    "pageSetup",
    "headerFooter",
    "rowBreaks",
    "colBreaks",
    "customProperties",
    "cellWatches",
    "ignoredErrors",
    "smartTags",
    "drawing",
    "legacyDrawing",
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
]
_AFTER_AUTOFILTER = [
    "sortState",
    "dataConsolidate",
    "customSheetViews",
    "mergeCells",
    "phoneticPr",
    "conditionalFormatting",
] + (_AFTER_CONDITIONAL_FORMATTING)


def _insert_before(tail: str, later: list[str], element: str) -> str:
    """``element`` put before the first of the ``later`` elements (or </worksheet>)."""
    found = [m.start() for name in later if (m := re.search(rf"<{name}[\s/>]", tail))]
    end = tail.rfind("</worksheet>")
    if end < 0:
        raise NotAppendable("a worksheet that is not closed")
    at = min([*found, end])
    return tail[:at] + element + tail[at:]


def _with_filter_name(workbook: str, index: int, sheet: str, cells: str) -> str:
    """The workbook XML with the sheet's hidden _FilterDatabase name set to ``cells``."""
    name = xlsx_stream.filter_name(sheet, index, cells)
    pattern = rf'<definedName\b(?=[^>]*\bname="_xlnm._FilterDatabase")(?=[^>]*\blocalSheetId="{index}")[^>]*>.*?</definedName>'
    if re.search(pattern, workbook, re.S):
        return re.sub(pattern, lambda m: name, workbook, count=1, flags=re.S)
    if "<definedNames>" in workbook:
        return workbook.replace("</definedNames>", name + "</definedNames>", 1)
    empty = re.search(r"<definedNames\s*/>", workbook)  # openpyxl: '<definedNames />'
    if empty is not None:
        return workbook[: empty.start()] + f"<definedNames>{name}</definedNames>" + workbook[empty.end() :]
    if re.search(r"<definedNames\b", workbook):
        raise NotAppendable("a <definedNames> element kade cannot read")
    return workbook.replace("</sheets>", f"</sheets><definedNames>{name}</definedNames>", 1)


def _edit_head(head: bytes, last_letter: str, last_row: int, first: int, widths: list[float]) -> bytes:
    """<dimension> widened to the new columns; their widths added to <cols>."""
    text = head.decode("utf-8")
    text = re.sub(
        r'(<dimension\b[^>]*\bref=")([A-Z]+\d+)(?::[A-Z]+\d+)?"',
        lambda m: f'{m[1]}{m[2]}:{last_letter}{last_row}"',
        text,
        count=1,
    )
    m = re.search(r"<cols\b[^>]*>(.*?)</cols>", text, re.S)
    if m is None and not re.search(r"<cols\b", text):
        at = text.rfind("<sheetData")
        text = text[:at] + f"<cols>{_with_new_columns('', first, widths)}</cols>" + text[at:]
    elif m is not None:
        text = text[: m.start(1)] + _with_new_columns(m[1], first, widths) + text[m.end(1) :]
    else:
        raise NotAppendable("a <cols> element kade cannot read")
    return text.encode("utf-8")


def _with_new_columns(cols: str, first: int, widths: list[float]) -> str:
    """The <col> list with the new columns' widths. A range covering them (a
    width, style or 'hidden' set for all columns to the right) is split around
    them: the decisions must not land in hidden or hairline columns."""
    tags = re.findall(r"<col\b[^>]*?/>", cols)
    if re.sub(r"<col\b[^>]*?/>|\s", "", cols):
        raise NotAppendable("a <cols> element kade cannot read")
    a, b = first + 1, first + len(widths)  # the new columns, 1-based as in <col>
    out = [
        (first + i + 1, f'<col min="{first + i + 1}" max="{first + i + 1}" width="{w:.1f}" customWidth="1"/>')
        for i, w in enumerate(widths)
    ]
    for tag in tags:
        lo, hi = int(_attr(tag, "min") or 0), int(_attr(tag, "max") or 0)
        if hi < a or lo > b:
            out.append((lo, tag))
            continue
        if lo < a:
            out.append((lo, _col_span(tag, lo, a - 1)))
        if hi > b:
            out.append((b + 1, _col_span(tag, b + 1, hi)))
    return "".join(tag for _, tag in sorted(out, key=lambda item: item[0]))


def _col_span(tag: str, lo: int, hi: int) -> str:
    tag = re.sub(r'(\smin=")\d+"', rf'\g<1>{lo}"', tag)
    return re.sub(r'(\smax=")\d+"', rf'\g<1>{hi}"', tag)


_HEAD_AT_MOST = 64 << 20  # bytes of a worksheet before its <sheetData>, looked through at most


def _rows_in(xml: bytes, base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The rows in a piece of sheet data (whole rows; ``base``: its offset in the
    part): their numbers, the offsets of '<row' and of their '</row>' (-1 for
    '<row .../>'), and the right-most column of a cell."""
    end = len(xml)
    arr = np.frombuffer(xml, dtype=np.uint8)
    for marker in (b"<!", b"<?"):  # CDATA (text that could hide tags), comments, processing instructions
        if len(_starts(arr, marker, 1)):
            raise NotAppendable(f"worksheet with {marker.decode()}… in its rows")
    # '<row ' and '</row>' both hold a 'w', a rare byte in sheet XML (text aside): look there only
    w = np.flatnonzero(arr == ord("w"))
    w = w[(w >= 3) & (w + 1 < end)]  # a piece may start with '<row'
    before = [arr[np.maximum(w - k, 0)] for k in (1, 2, 3, 4)]
    row_tag = (before[0] == ord("o")) & (before[1] == ord("r"))
    opens = w[row_tag & (before[2] == 0x3C) & np.isin(arr[w + 1], _WHITESPACE)] - 3
    closes = w[row_tag & (before[2] == ord("/")) & (before[3] == 0x3C) & (arr[w + 1] == 0x3E)] - 4
    # Excel, LibreOffice, openpyxl and XlsxWriter all write r="n" first
    if len(opens) and not (
        np.all(arr[opens + 4] == 0x20)
        and np.all(arr[opens + 5] == ord("r"))
        and np.all(arr[opens + 6] == ord("="))
        and np.all(arr[opens + 7] == ord('"'))
    ):
        raise NotAppendable('rows without a leading r="n" attribute')
    digits = arr[np.minimum((opens + 8)[:, None] + np.arange(_MAX_DIGITS + 1), end - 1)].astype(np.int64) - ord("0")
    is_digit = (digits >= 0) & (digits <= 9)
    length = np.argmin(is_digit, axis=1)
    if len(opens) and (np.any(length == 0) or np.any(digits[np.arange(len(opens)), length] != ord('"') - ord("0"))):
        raise NotAppendable("a row number that is not a plain number")
    place = length[:, None] - 1 - np.arange(_MAX_DIGITS + 1)
    numbers = np.where(place >= 0, digits * 10 ** np.clip(place, 0, None), 0).sum(axis=1)
    # a row closed before the next one opens has cells; one without a '</row>' there is '<row .../>'
    following = np.append(opens[1:], end)
    at = np.searchsorted(closes, opens)
    full = (
        (at < len(closes)) & (closes[np.minimum(at, max(len(closes) - 1, 0))] < following)
        if len(closes)
        else np.zeros(len(opens), bool)
    )
    if full.sum() != len(closes) or np.any(np.diff(numbers) <= 0):
        raise NotAppendable("rows out of order, nested or not closed")
    ends = np.full(len(opens), -1, dtype=np.int64)
    ends[full] = closes + base
    cells = _starts(arr, b"<c", 1)
    if not all(np.all(arr[np.minimum(cells + k, end - 1)] == byte) for k, byte in enumerate(b' r="', 2)):
        raise NotAppendable('cells without a leading r="A1" attribute')  # only '<c r="A1"' opens a cell here
    last = _last_cell_column(arr, cells, opens[full], closes)
    return numbers.astype(np.int64), opens.astype(np.int64) + base, ends, last


def _last_cell_column(arr: np.ndarray, cells: np.ndarray, opens: np.ndarray, closes: np.ndarray) -> int:
    """Right-most column of any row's last cell (-1 if no cells): the <dimension>
    a writer declares is not trusted. Cells are written in column order, so a
    row's last '<c r="' (``cells``: where each starts) names its widest column."""
    before = np.searchsorted(cells, closes) - 1
    last = cells[np.maximum(before, 0)] if len(cells) else before
    last = last[(before >= 0) & (last >= opens)]
    if len(last) == 0:
        return -1
    letters = arr[(last + 6)[:, None] + np.arange(4)]
    is_letter = (letters >= ord("A")) & (letters <= ord("Z"))
    width = np.argmin(is_letter, axis=1)  # 1 to 3 letters, then the row number
    if np.any(width == 0) or np.any(width > 3):
        raise NotAppendable("a cell reference that is not a plain A1 reference")
    values = (letters[:, :3].astype(np.int64) - 64) * (np.arange(3)[None, :] < width[:, None])
    column = np.where(
        width == 3,
        values[:, 0] * 676 + values[:, 1] * 26 + values[:, 2],
        np.where(width == 2, values[:, 0] * 26 + values[:, 1], values[:, 0]),
    )
    return int(column.max()) - 1


def _starts(arr: np.ndarray, needle: bytes, rare: int) -> np.ndarray:
    """Where ``needle`` starts in ``arr`` (a piece's bytes), in order, found from its
    byte at index ``rare``, one seldom seen in sheet XML. numpy lets the main thread
    bind and evaluate meanwhile, where bytes.find and bytes.count over a piece hold the
    interpreter: on the 1M-row sample that indexing took ~5 s from the main thread."""
    at = np.flatnonzero(arr == needle[rare]) - rare
    at = at[(at >= 0) & (at <= len(arr) - len(needle))]
    for k, byte in enumerate(needle):
        if k != rare and len(at):
            at = at[arr[at + k] == byte]
    return at


def _cell(ref: bytes) -> tuple[int, int]:
    """b'AB12' -> (27, 12): 0-based column, row number."""
    m = re.fullmatch(rb"\$?([A-Z]{1,3})\$?(\d+)", ref.strip())
    if m is None:
        raise NotAppendable(f"cannot read the cell reference {ref.decode(errors='replace')!r}")
    return _column_index(m[1].decode()), int(m[2])


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


# ----------------------------------------------------------- package parts ----


class _Package:
    """Content types, workbook, its relationships: where each sheet lives."""

    def __init__(self, path: Path):
        self.path = path
        with zipfile.ZipFile(path) as zf:
            self.names = set(zf.namelist())
            for info in zf.infolist():
                if info.filename.lower().endswith((".xml", ".rels", ".vml")) and _declares_dtd(zf, info):
                    raise NotAppendable(
                        f"part {info.filename} declares a DTD (<!DOCTYPE …>), which Excel never writes "
                        "and other programs refuse"
                    )
            self.content_types = zf.read("[Content_Types].xml").decode("utf-8")
            root_rels = zf.read("_rels/.rels").decode("utf-8")
            main = _relationship_targets(root_rels, "", _REL + "/officeDocument")
            if len(main) != 1:
                raise NotAppendable("no single workbook part in the package")
            self.workbook_part = main[0]
            if _content_type(self.content_types, self.workbook_part) != _WORKBOOK_TYPE:
                raise NotAppendable("not a plain .xlsx workbook (macro-enabled, template or strict)")
            self.workbook = zf.read(self.workbook_part).decode("utf-8")
            folder = str(PurePosixPath(self.workbook_part).parent)
            self.rels_part = f"{folder}/_rels/{PurePosixPath(self.workbook_part).name}.rels"
            self.rels = zf.read(self.rels_part).decode("utf-8")
        if f'xmlns:r="{_REL}"' not in self.workbook or "<sheets>" not in self.workbook:
            raise NotAppendable("the workbook part is not in the usual transitional layout")
        targets = {m["Id"]: (m["Type"], m["Target"]) for m in _relationships(self.rels)}
        self.sheet_parts: dict[str, str] = {}  # worksheets; chart and dialog sheets are not edited
        self.sheet_names: list[str] = []  # every sheet, of any kind
        for tag in re.findall(r"<sheet\b[^>]*>", self.workbook):
            name, rid = _attr(tag, "name"), _attr(tag, "r:id")
            kind, target = targets.get(rid or "", ("", ""))
            if name is not None:
                self.sheet_names.append(unescape(name, {"&quot;": '"', "&apos;": "'"}))
                if kind == _WORKSHEET_REL:
                    self.sheet_parts[self.sheet_names[-1]] = resolve_part(folder, target)
        date1904 = re.search(r'<workbookPr\b[^>]*\bdate1904="(?:1|true)"', self.workbook)
        self.epoch = xlsx_stream.EPOCH_1904 if date1904 else xlsx_stream.EPOCH_1900
        styles = [t for k, t in targets.values() if k == _REL + "/styles"]
        if len(styles) != 1:
            raise NotAppendable("the workbook has no styles part")
        self.styles_part = resolve_part(folder, styles[0])
        self.folder = folder

    def read(self, part: str) -> str:
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(part).decode("utf-8")

    def add_first_sheet(self, name: str) -> tuple[str, dict[str, bytes]]:
        """A new worksheet part listed first; the edited workbook, rels and types."""
        n = 1
        while f"{self.folder}/worksheets/sheet{n}.xml" in self.names:
            n += 1
        part = f"{self.folder}/worksheets/sheet{n}.xml"
        ids = {m["Id"] for m in _relationships(self.rels)}
        k = len(ids) + 1
        while f"rId{k}" in ids:
            k += 1
        rid = f"rId{k}"
        sheet_ids = [int(v) for v in re.findall(r'<sheet\b[^>]*\bsheetId="(\d+)"', self.workbook)]
        entry = f'<sheet name="{escape(name)}" sheetId="{max(sheet_ids, default=0) + 1}" r:id="{rid}"/>'
        workbook = self.workbook.replace("<sheets>", "<sheets>" + entry, 1)
        # every sheet moves one place right: keep sheet-local names and the open tab on their sheets
        workbook = re.sub(r'(<definedName\b[^>]*\blocalSheetId=")(\d+)"', lambda m: f'{m[1]}{int(m[2]) + 1}"', workbook)
        if re.search(r"<workbookView\b", workbook):
            workbook = re.sub(r"<workbookView\b[^>]*>", _shift_view, workbook)
        else:
            workbook = workbook.replace("<sheets>", '<bookViews><workbookView activeTab="1"/></bookViews><sheets>', 1)
        rels = self.rels.replace(
            "</Relationships>",
            f'<Relationship Id="{rid}" Type="{_WORKSHEET_REL}" Target="worksheets/sheet{n}.xml"/></Relationships>',
            1,
        )
        types = self.content_types.replace(
            "</Types>", f'<Override PartName="/{part}" ContentType="{_SHEET_TYPE}"/></Types>', 1
        )
        return part, {
            self.workbook_part: workbook.encode("utf-8"),
            self.rels_part: rels.encode("utf-8"),
            "[Content_Types].xml": types.encode("utf-8"),
        }


def _declares_dtd(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether the part's prolog (what comes before its root element) has a <!DOCTYPE."""
    with zf.open(info) as fh:
        head = b""
        while len(head) < 1 << 16:
            block = fh.read(4096)
            head += block
            root = re.search(rb"<[A-Za-z_]", head)
            if root is not None or not block:
                return b"<!DOCTYPE" in head[: root.start() if root else len(head)]
    return True  # a prolog of 64 KB: not written by any spreadsheet program


def _shift_view(match: re.Match) -> str:
    """The open tab moves one place right with its sheet; so does the first tab
    shown, unless it was the first (then the summary tab is shown too)."""
    tag = re.sub(
        r'\b(activeTab|firstSheet)="(\d+)"',
        lambda a: f'{a[1]}="{int(a[2]) + (a[1] == "activeTab" or int(a[2]) > 0)}"',
        match[0],
    )
    return tag if "activeTab=" in tag else tag.replace("<workbookView", '<workbookView activeTab="1"', 1)


def _relationships(xml: str) -> list[dict[str, str]]:
    return [
        {k: unescape(v) for k, v in re.findall(r'\b(Id|Type|Target|TargetMode)="([^"]*)"', tag)}
        for tag in re.findall(r"<Relationship\b[^>]*>", xml)
    ]


def _relationship_targets(xml: str, folder: str, kind: str) -> list[str]:
    return [resolve_part(folder, r["Target"]) for r in _relationships(xml) if r.get("Type") == kind]


def _content_type(types: str, part: str) -> str | None:
    for tag in re.findall(r"<Override\b[^>]*>", types):
        if (_attr(tag, "PartName") or "").lstrip("/") == part:
            return _attr(tag, "ContentType")
    ext = part.rsplit(".", 1)[-1].lower()
    for tag in re.findall(r"<Default\b[^>]*>", types):
        if (_attr(tag, "Extension") or "").lower() == ext:
            return _attr(tag, "ContentType")
    return None


def _attr(tag: str, name: str) -> str | None:
    m = re.search(r"(?:^|\s)" + re.escape(name) + r'="([^"]*)"', tag)
    return m[1] if m else None


# ---------------------------------------------------------------- styles ------

_HEADER_FILLS = {"data": "FFDDEBF7", "decision": "FFE2EFDA", "error": "FFFCE4D6"}


def _add_styles(xml: str) -> tuple[str, dict[str, int]]:
    """The source's styles.xml with kade's header styles and date format added
    at the end of each list (existing indices keep their meaning)."""
    fonts, xml = _append(xml, "fonts", "font", ['<font><b/><sz val="11"/><name val="Calibri"/></font>'])
    fills, xml = _append(
        xml,
        "fills",
        "fill",
        [
            f'<fill><patternFill patternType="solid"><fgColor rgb="{c}"/></patternFill></fill>'
            for c in _HEADER_FILLS.values()
        ],
    )
    borders, xml = _append(
        xml,
        "borders",
        "border",
        [
            '<border><left style="thin"/><right style="thin"/>'
            '<top style="thin"/><bottom style="thin"/><diagonal/></border>'
        ],
    )
    ids = [int(v) for v in re.findall(r'<numFmt\b[^>]*\bnumFmtId="(\d+)"', xml)]
    date_format = max([163, *ids]) + 1
    number_format = f'<numFmt numFmtId="{date_format}" formatCode="yyyy\\-mm\\-dd"/>'
    if re.search(r"<numFmts\b", xml):
        _, xml = _append(xml, "numFmts", "numFmt", [number_format])
    else:
        m = re.search(r"<styleSheet\b[^>]*>", xml)
        if m is None or m[0].endswith("/>"):
            raise NotAppendable("styles part without a styleSheet element")
        xml = xml[: m.end()] + f'<numFmts count="1">{number_format}</numFmts>' + xml[m.end() :]
    headers = [
        f'<xf numFmtId="0" fontId="{fonts}" fillId="{fills + i}" borderId="{borders}" xfId="0" '
        'applyFont="1" applyFill="1" applyBorder="1"/>'
        for i in range(len(_HEADER_FILLS))
    ]
    date = f'<xf numFmtId="{date_format}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    first, xml = _append(xml, "cellXfs", "xf", headers + [date])
    styles = {kind: first + i for i, kind in enumerate(_HEADER_FILLS)}
    styles["date"] = first + len(_HEADER_FILLS)
    if not re.search(r"<dxfs\b", xml):  # no differential styles yet: an empty list after cellStyles (or cellXfs)
        anchor = xml.find("</cellStyles>")
        anchor = anchor + len("</cellStyles>") if anchor >= 0 else xml.find("</cellXfs>") + len("</cellXfs>")
        xml = xml[:anchor] + '<dxfs count="0"/>' + xml[anchor:]
    styles["highlight"], xml = _append(xml, "dxfs", "dxf", [xlsx_stream.HIGHLIGHT_DXF])
    return xml, styles


def _append(xml: str, container: str, item: str, new: list[str]) -> tuple[int, str]:
    """Append items to <container>; returns the index of the first new one."""
    m = re.search(rf"<{container}\b[^>]*?(/?)>", xml)
    if m is None:
        raise NotAppendable(f"styles part without a <{container}> list")
    if m[1]:  # an empty list, '<numFmts count="0"/>' (openpyxl)
        open_tag = re.sub(r'\scount="\d+"', "", m[0][:-2].rstrip()) + f' count="{len(new)}">'
        return 0, xml[: m.start()] + open_tag + "".join(new) + f"</{container}>" + xml[m.end() :]
    end = xml.find(f"</{container}>", m.end())
    if end < 0:
        raise NotAppendable(f"styles part: <{container}> is not closed")
    present = len(re.findall(rf"<{item}[\s/>]", xml[m.end() : end]))
    open_tag = re.sub(r'\scount="\d+"', "", m[0][:-1]) + f' count="{present + len(new)}">'
    return present, xml[: m.start()] + open_tag + xml[m.end() : end] + "".join(new) + xml[end:]
