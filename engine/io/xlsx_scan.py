"""A look inside a workbook file before a reader gets it.

The readers kade uses trust the file: calamine (registers) builds each sheet as
one dense grid spanning its cells - one cell at XFD1048576 asks for 550 GB and
aborts the process - and inflates whatever the zip holds; openpyxl (rule
workbooks) pads every row to the widest one. So before either reads an .xlsx or
.xlsm, ``scan_workbook``:

* names what the file really is when it is not a workbook of that kind (an .xls,
  CSV or HTML file renamed, a password-protected file, a file cut short);
* adds up the parts' declared sizes against ``Limits.unpacked_bytes``, and
  inflates every XML part a reader parses, refusing one that gives more bytes
  than it declares;
* finds each sheet's used range from its cell references, against
  ``Limits.cells`` and Excel's grid;
* notes the cells whose value a reader cannot give: error values (``#DIV/0!``,
  calamine reads them as empty) and formulas saved without their result
  (openpyxl and other libraries write them so; every reader sees them empty).

The sheets are read as they inflate, 8 MB at a time, with numpy on the tag
positions: about a fifth of the time calamine takes for the same sheet, and no
more memory than a chunk (docs/performance.md). A sheet written in an unusual way (cells without ``r="A1"``,
prefixed element names) is followed tag by tag instead, as calamine does.
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn
from xml.sax.saxutils import unescape

import numpy as np

from engine.errors import DataError, Position

EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384
# a full-height sheet (1,048,576 rows) of the sample's 29 client columns is 30 million cells and
# 1.1 GB of XML: within both; reading takes about 90 bytes of memory per cell (docs/performance.md)
DEFAULT_UNPACKED_MB = 2048
DEFAULT_CELLS = 40_000_000  # cells in the used ranges of a workbook's sheets
UNPACKED_ENV, CELLS_ENV = "KADE_MAX_UNPACKED_MB", "KADE_MAX_CELLS"
ZIP_SUFFIXES = (".xlsx", ".xlsm")
_CHUNK = 8 << 20  # inflated bytes looked at at once
_REL_OFFICE_DOCUMENT = "/officeDocument"
_REL_WORKSHEET = "/worksheet"


@dataclass(frozen=True)
class Limits:
    """How much of a workbook kade reads before refusing it."""

    unpacked_bytes: int = DEFAULT_UNPACKED_MB << 20
    cells: int = DEFAULT_CELLS

    @classmethod
    def from_environment(cls) -> Limits:
        """$KADE_MAX_UNPACKED_MB and $KADE_MAX_CELLS, else the defaults."""
        return cls(_env_number(UNPACKED_ENV, DEFAULT_UNPACKED_MB) << 20, _env_number(CELLS_ENV, DEFAULT_CELLS))


def _env_number(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip().replace("_", "").replace(",", "")
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise DataError(f"${name} must be a whole number above 0, got {os.environ[name]!r}")
    return int(text)


@dataclass
class SheetScan:
    """What one worksheet holds, as far as the readers are concerned."""

    name: str
    part: str
    top: int = -1  # the used range, 0-based and inclusive; -1: no cells
    left: int = -1
    bottom: int = -1
    right: int = -1
    unreadable: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column) -> '#DIV/0!', ...
    formulas_without_values: list[str] = field(default_factory=list)  # A1 references
    usual: bool = True  # every cell written '<c r="A1"', no prefixed names: engine.io.xlsx_read can read it

    @property
    def rows(self) -> int:
        return self.bottom - self.top + 1 if self.top >= 0 else 0

    @property
    def columns(self) -> int:
        return self.right - self.left + 1 if self.left >= 0 else 0

    @property
    def cells(self) -> int:
        return self.rows * self.columns


def cell_name(row: int, column: int) -> str:
    """0-based (row, column) -> 'A1'."""
    letters = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row + 1}"


# ------------------------------------------------------------ what it is ------


def check_kind(path: Path) -> None:
    """Raise DataError naming what the file really is when its content does not
    match its suffix (.xlsx/.xlsm/.ods are zip packages, .xls an OLE2 file)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
            size = fh.seek(0, os.SEEK_END)
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", Position(str(path))) from None
    suffix = path.suffix.lower()
    want_zip = suffix in (*ZIP_SUFFIXES, ".ods")
    if size == 0:
        raise DataError("the file is empty (0 bytes)", Position(str(path)))
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if not want_zip and suffix == ".xls":
            raise DataError(
                "this is an .xlsx workbook (a zip package) named .xls: rename it to .xlsx", Position(str(path))
            )
        return
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        if _is_encrypted_ole(path):
            raise DataError(
                "the workbook is password-protected (encrypted): save a copy without a password "
                "(File > Info > Protect Workbook > Encrypt with Password, clear it) and use that",
                Position(str(path)),
            )
        if want_zip:
            raise DataError(
                f"this is an Excel 97-2003 workbook (.xls) named {suffix}: rename it to .xls, or save it as .xlsx",
                Position(str(path)),
            )
        return
    if suffix == ".xls" or want_zip:
        raise DataError(
            f"{_text_kind(head)} named {suffix}, not an Excel workbook: {_advice(head)}", Position(str(path))
        )


def _is_encrypted_ole(path: Path) -> bool:
    """An encrypted .xlsx is an OLE2 file holding an 'EncryptedPackage' stream
    (its directory entry names it in UTF-16)."""
    needle = "EncryptedPackage".encode("utf-16-le")
    with open(path, "rb") as fh:
        tail = b""
        while block := fh.read(1 << 20):
            if needle in tail + block:
                return True
            tail = block[-len(needle) :]
    return False


def _text_kind(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe\xfe\xff \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<table")) or b"<html" in text[:512]:
        return "an HTML page (some systems export 'Excel' files that way)"
    if text.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return "an Excel 2003 XML spreadsheet"
    if text.startswith(b"{\\rtf"):
        return "an RTF document"
    if text.startswith(b"%pdf"):
        return "a PDF file"
    if b"\x00" not in head[:1024] and (b"," in head or b"\t" in head or b";" in head):
        return "a text (CSV) file"
    if b"\x00" not in head[:1024]:
        return "a text file"
    return f"a file starting with the bytes {head[:8].hex(' ')}"


def _advice(head: bytes) -> str:
    if b"\x00" not in head[:1024]:
        return "open it in Excel and save it as an Excel workbook (.xlsx)"
    return "check that it is the file you meant"


# -------------------------------------------------------------- the scan ------


def scan_workbook(path: str | Path, limits: Limits | None = None, *, cells: int | None = None) -> list[SheetScan]:
    """Check an .xlsx/.xlsm file before a reader opens it (see the module
    docstring); ``cells`` overrides the limit on cells (rule workbooks are
    small). Raises DataError naming file, sheet and cell. Other files are only
    checked for being what their suffix says."""
    path = Path(path)
    limits = limits or Limits.from_environment()
    check_kind(path)
    if path.suffix.lower() not in (*ZIP_SUFFIXES, ".ods"):
        return []
    where = Position(str(path))
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DataError(
            "the file is damaged or cut short (its zip directory is missing): copy or download it again",
            where,
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", where) from None
    with zf, open(path, "rb") as raw:
        infos = zf.infolist()
        _check_declared_sizes(infos, limits, where)
        if path.suffix.lower() == ".ods":
            for info in infos:
                if info.filename.lower().endswith(".xml"):
                    for _ in inflate_part(raw, info, where):
                        pass
            return []
        parts = _worksheet_parts(zf)
        sheets = [_scan_sheet(raw, zf.getinfo(part), name, where) for name, part in parts]
        scanned = {part for _, part in parts}
        for info in infos:  # the other parts a reader parses: no bigger than they say either
            if info.filename not in scanned and info.filename.lower().endswith((".xml", ".rels")):
                for _ in inflate_part(raw, info, where):
                    pass
        _check_cells(sheets, cells or limits.cells, where)
    return sheets


def _check_declared_sizes(infos: list[zipfile.ZipInfo], limits: Limits, where: Position) -> None:
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise DataError(
                f"part {info.filename} is password-protected (zip encryption); Excel never writes that", where
            )
        total += info.file_size
    if total > limits.unpacked_bytes:
        largest = max(infos, key=lambda i: i.file_size)
        raise DataError(
            f"the workbook unpacks to {total / 2**20:,.0f} MB (the largest part, {largest.filename}, "
            f"to {largest.file_size / 2**20:,.0f} MB), more than kade reads "
            f"({limits.unpacked_bytes >> 20:,} MB; raise ${UNPACKED_ENV} if this workbook is genuine)",
            where,
        )


def inflate_part(raw, info: zipfile.ZipInfo, where: Position) -> Iterator[bytes]:
    """The part's bytes, a chunk at a time, read from the file itself: never more
    than the size its zip entry declares (which the limit was checked against) -
    a part that inflates to more is refused, not trusted."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DataError(
            f"part {info.filename} is compressed with method {info.compress_type}, which Excel never uses", where
        )
    raw.seek(info.header_offset)
    header = raw.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise DataError(f"the file is damaged: part {info.filename} is not where the zip directory says", where)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    raw.seek(info.header_offset + 30 + name_length + extra_length)
    left_in, left_out = info.compress_size, info.file_size
    inflater = _inflater() if info.compress_type == zipfile.ZIP_DEFLATED else None
    pending = b""
    try:
        while True:
            if inflater is None:
                block = _read_some(raw, min(_CHUNK, left_in), info)
                left_in -= len(block)
                out = block
            else:
                if not pending:
                    pending = _read_some(raw, min(4 << 20, left_in), info)
                    left_in -= len(pending)
                out = inflater.decompress(pending, min(_CHUNK, left_out + 1))
                pending = inflater.unconsumed_tail
            if len(out) > left_out:
                raise DataError(
                    f"part {info.filename} inflates to more than the {info.file_size:,} bytes its zip entry "
                    "declares: the file is damaged or crafted",
                    where,
                )
            left_out -= len(out)
            if out:
                yield out
            finished = inflater.eof if inflater is not None else left_in <= 0
            if finished or (not out and not pending and left_in <= 0):
                break
    except (zlib.error, _InflateError) as exc:
        raise DataError(f"the file is damaged: part {info.filename} does not inflate ({exc})", where) from None
    except _CutShort:
        left_out = -1
    if left_out:  # bytes still due, or the file itself ended before the part
        raise DataError(f"the file is damaged or cut short: part {info.filename} ends early", where)


class _CutShort(Exception):
    """The file ended before a part did (cut short, or being rewritten while read)."""


def _read_some(raw, size: int, info: zipfile.ZipInfo) -> bytes:
    """Up to ``size`` bytes; none at all while some were still due means the file
    ended early - without this check the inflate loop would wait for them forever."""
    block = raw.read(size)
    if size and not block:
        raise _CutShort(info.filename)
    return block


_inflater: Callable[[], Any]
_InflateError: type[Exception]
try:  # python-isal inflates about three times as fast as zlib; a dependency where wheels exist
    from isal import isal_zlib as _isal

    _inflater, _InflateError = (lambda: _isal.decompressobj(-15)), _isal.error  # type: ignore[assignment]
except ImportError:  # pragma: no cover
    _inflater, _InflateError = (lambda: zlib.decompressobj(-15)), zlib.error


def _worksheet_parts(zf: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, part) of every worksheet, in workbook order; a worksheet part
    no sheet names is listed under its part name (the reader may still find it)."""
    names = set(zf.namelist())
    found: list[tuple[str, str]] = []
    workbook, rels = workbook_relations(zf, _REL_WORKSHEET)
    for tag in re.findall(r"<(?:[\w.-]+:)?sheet\b[^>]*>", _part_text(zf, workbook)):
        name = re.search(r'\sname\s*=\s*["\']([^"\']*)["\']', tag)
        rid = re.search(r'\s(?:[\w.-]+:)?id\s*=\s*["\']([^"\']*)["\']', tag)
        part = rels.get(rid[1]) if rid else None
        if name and part in names:
            found.append((unescape(name[1], {"&quot;": '"', "&apos;": "'"}), part))
    listed = {part for _, part in found}
    found += [(n, n) for n in sorted(names) if re.fullmatch(r"xl/worksheets/[^/]+\.xml", n, re.I) and n not in listed]
    return found


def _part_text(zf: zipfile.ZipFile, part: str) -> str:
    try:
        return zf.read(part).decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile, zlib.error, OSError, EOFError):
        return ""


def workbook_relations(zf: zipfile.ZipFile, kind: str) -> tuple[str, dict[str, str]]:
    """The workbook part, and its relationships whose type ends in ``kind``
    ('/worksheet', '/sharedStrings', '/styles'): id -> part."""
    workbook = next(iter(_targets(_part_text(zf, "_rels/.rels"), "", _REL_OFFICE_DOCUMENT).values()), "xl/workbook.xml")
    folder = str(PurePosixPath(workbook).parent)
    return workbook, _targets(_part_text(zf, f"{folder}/_rels/{PurePosixPath(workbook).name}.rels"), folder, kind)


def _targets(rels: str, folder: str, kind: str) -> dict[str, str]:
    """Relationship id -> resolved part, for relationships whose type ends in ``kind``."""
    out = {}
    for tag in re.findall(r"<(?:[\w.-]+:)?Relationship\b[^>]*>", rels):
        attrs = dict(re.findall(r'\s(Id|Type|Target)\s*=\s*["\']([^"\']*)["\']', tag))
        if attrs.get("Type", "").endswith(kind) and "Target" in attrs:
            out[attrs.get("Id", "")] = resolve_part(folder, unescape(attrs["Target"]))
    return out


def resolve_part(folder: str, target: str) -> str:
    """A relationship's target as a part name: relative to ``folder`` unless absolute."""
    parts: list[str] = [] if target.startswith("/") else [p for p in folder.split("/") if p]
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def _check_cells(sheets: list[SheetScan], limit: int, where: Position) -> None:
    total = sum(s.cells for s in sheets)
    if total <= limit:
        return
    widest = max(sheets, key=lambda s: s.cells)
    far = cell_name(widest.bottom, widest.right)
    size = f"{widest.rows:,} rows × {widest.columns:,} columns"
    raise DataError(
        f"the sheet's used range runs to {far} ({size}, {widest.cells:,} cells"
        + (f"; {total:,} in all sheets" if total != widest.cells else "")
        + f"), more than kade reads ({limit:,} cells; raise ${CELLS_ENV} if this workbook is genuine). "
        f"If {far} is a stray cell, clear it (and the rows or columns up to it) and save again",
        where.at(sheet=widest.name, cell=far),
    )


# ----------------------------------------------------------- one sheet ------


def _scan_sheet(raw, info: zipfile.ZipInfo, name: str, where: Position) -> SheetScan:
    scan = SheetScan(name, info.filename)
    scanner = _Scanner(scan, where.at(sheet=name))
    for chunk in inflate_part(raw, info, where):
        scanner.feed(chunk)
    scanner.finish()
    return scan


_LT, _GT, _QUOTE = ord("<"), ord(">"), ord('"')
_TAG_END = np.array([ord(" "), ord(">"), ord("/"), ord("\t"), ord("\n"), ord("\r")], dtype=np.uint8)
_MAX_LETTERS, _MAX_DIGITS = 3, 7  # XFD, 1048576
_CARRY_AT_MOST = 64 << 20  # a cell longer than this is looked at in pieces
_ANY_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(row|c|f|v)(?=[\s/>])([^>]*)>")
_R_ATTR = re.compile(rb"""\sr\s*=\s*["']([^"']*)["']""")
_T_ATTR = re.compile(rb"""\st\s*=\s*["']([^"']*)["']""")
_VALUE = re.compile(rb"<(?:[\w.-]+:)?v>([^<]*)<")
_FORMULA = re.compile(rb"<(?:[\w.-]+:)?f\b[^>]*>([^<]*)<")
_REF = re.compile(rb"\$?([A-Za-z]+)\$?(\d+)")
_ERROR_VALUE = re.compile(rb't="e"')  # as every writer puts it (the exact path takes any form)
_FORMULA_TAG = re.compile(rb"<f[\s/>]")


def _tags(padded: np.ndarray, end: int, name: int) -> np.ndarray:
    """Offsets of the tags '<x' (x one letter: c, f, v) in padded[:end]: '<', x,
    then a space, '>' or '/'."""
    found = padded[: end - 1] == _LT
    found &= padded[1:end] == name
    at = np.flatnonzero(found)
    return at[np.isin(padded[at + 2], _TAG_END)]


def _prefixed(padded: np.ndarray, end: int) -> bool:
    """Whether a row or cell element has a namespace prefix ('<x:c', '<x:row'):
    every prefixed name has a ':' right before its local name."""
    colons = np.flatnonzero(padded[:end] == ord(":"))
    if not len(colons):
        return False
    cell = (padded[colons + 1] == ord("c")) & np.isin(padded[colons + 2], _TAG_END)
    row = (padded[colons + 1] == ord("r")) & (padded[colons + 2] == ord("o")) & (padded[colons + 3] == ord("w"))
    return bool(np.any(cell | row))


def references(padded: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """1-based (row, column) of the cells whose tags start at ``cells`` in ``padded``
    (each '<c r="AB12"', already checked), read with numpy; None when a reference is
    written another way (lower case, '$', more than 3 letters or 7 digits) or lies
    outside Excel's grid."""
    start = cells + 6
    chars = [padded[start + j] for j in range(_MAX_LETTERS + 1)]
    letter = [(c >= ord("A")) & (c <= ord("Z")) for c in chars]
    if not np.all(letter[0]) or np.any(letter[1] & letter[2] & letter[3]):
        return None
    two, three = letter[1], letter[1] & letter[2]
    value = [c.astype(np.int32) - 64 for c in chars[:3]]
    column = np.where(
        three, value[0] * 676 + value[1] * 26 + value[2], np.where(two, value[0] * 26 + value[1], value[0])
    )
    first_digit = start + 1 + two + three
    at, row = first_digit, np.zeros(len(cells), np.int32)
    going = np.ones(len(cells), bool)
    for _ in range(_MAX_DIGITS):
        digit = padded[at].astype(np.int32) - ord("0")
        going &= (digit >= 0) & (digit <= 9)
        row = np.where(going, row * 10 + digit, row)
        at = at + going
    if not np.all(padded[at] == _QUOTE) or np.any(at == first_digit):
        return None  # no digits, or more than 7
    if row.min() < 1 or row.max() > EXCEL_ROWS or column.max() > EXCEL_COLUMNS:
        return None
    return row, column


def last_cell_start(data: bytes) -> int:
    """Offset of the last cell's start in a piece of sheet XML: what comes from
    there waits for the next piece, so a cell is always looked at whole."""
    for back in (1 << 16, len(data)):
        lo = max(0, len(data) - back)
        at = max(data.rfind(b"<c ", lo), data.rfind(b"<c>", lo), data.rfind(b"<", lo, data.rfind(b":c ", lo) + 1))
        if at > 0:
            return at
    return max(data.rfind(b"<"), 0) if len(data) > _CARRY_AT_MOST else 0


class _Scanner:
    """Reads a worksheet's XML chunk by chunk. Each chunk is cut before the
    last cell that starts in it, so a cell is always looked at whole."""

    def __init__(self, scan: SheetScan, where: Position):
        self.scan, self.where = scan, where
        self.carry = b""
        self.exact = False  # the tag-by-tag path, once the sheet is not in the usual form
        self.row, self.column = 0, 0  # where a cell without a reference goes, as calamine counts

    def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk if self.carry else chunk
        cut = last_cell_start(data)
        self._look(data, cut)
        self.carry = data[cut:]

    def finish(self) -> None:
        self._look(self.carry, len(self.carry))
        self.carry = b""

    def _look(self, data: bytes, end: int) -> None:
        """Look at data[:end]."""
        if not end:
            return
        if not self.exact and not self._fast(data, end):
            self.exact, self.scan.usual = True, False
        if self.exact:
            self._exact(data[:end])

    # the usual form: every cell opens with '<c r="A1"'
    def _fast(self, data: bytes, end: int) -> bool:
        """Read the cell references in data[:end] with numpy, one byte position
        at a time; False (nothing recorded) when a cell is written another way."""
        padded = np.zeros(end + 16, np.uint8)
        padded[:end] = np.frombuffer(data, np.uint8, count=end)
        if _prefixed(padded, end):
            return False  # prefixed element names: calamine goes by the local name
        cells = _tags(padded, end, ord("c"))
        if not len(cells):
            return True
        for j, byte in enumerate(b' r="'):
            if not np.all(padded[cells + 2 + j] == byte):
                return False  # a cell without a leading r="...": follow the tags one by one
        found = references(padded, cells)
        if found is None:
            return False  # lower case, '$', too long, outside the grid: the exact path reads (or refuses) it
        row, column = found
        self._extend(int(row.min()) - 1, int(column.min()) - 1, int(row.max()) - 1, int(column.max()) - 1)
        self.row, self.column = int(row[-1]) - 1, int(column[-1])
        if _ERROR_VALUE.search(data, 0, end):
            self._errors_fast(data, end, cells)
        if _FORMULA_TAG.search(data, 0, end):
            self._formulas_fast(data, padded, end, cells)
        return True

    def _cell_at(self, data: bytes, start: int) -> tuple[int, int]:
        """(row, column) of the cell whose tag starts at ``start`` (in the usual form)."""
        ref = _R_ATTR.search(data, start, data.find(b">", start))
        assert ref is not None
        return self._reference(ref[1])

    def _errors_fast(self, data: bytes, end: int, cells: np.ndarray) -> None:
        """Cells holding an error value (t="e")."""
        for m in _ERROR_VALUE.finditer(data, 0, end):
            k = int(np.searchsorted(cells, m.start(), "right")) - 1
            if k >= 0 and data.find(b">", int(cells[k]), m.start()) < 0:  # inside the cell's tag
                self._error(data[m.start() : m.start() + 300], *self._cell_at(data, int(cells[k])))

    def _formulas_fast(self, data: bytes, padded: np.ndarray, end: int, cells: np.ndarray) -> None:
        """Formula cells without a stored value: a formula's cell is the last cell
        opened before it; a value is a '<v>' with text in it."""
        owners = np.unique(np.searchsorted(cells, _tags(padded, end, ord("f")), "right") - 1)
        owners = owners[owners >= 0]
        values = _tags(padded, end, ord("v"))
        filled = values[(padded[values + 2] == _GT) & (padded[values + 3] != _LT)]
        owner_of_value = np.searchsorted(cells, filled, "right") - 1
        has_value = np.zeros(len(cells), bool)
        has_value[owner_of_value[owner_of_value >= 0]] = True
        for k in owners[~has_value[owners]].tolist():
            start = int(cells[k])
            close = data.find(b"</c>", start)
            self._formula_without_value(data[start : close if close >= 0 else len(data)], *self._cell_at(data, start))

    def _error(self, rest: bytes, row: int, column: int) -> None:
        value = _VALUE.search(rest)
        text = unescape(value[1].decode("utf-8", "replace")).strip() if value else ""
        self.scan.unreadable[(row, column)] = text or "an error value"

    def _formula_without_value(self, cell: bytes, row: int, column: int) -> None:
        tag = cell[: cell.find(b">") + 1]
        kind = _T_ATTR.search(tag)
        if kind is not None and kind[1] == b"e":
            return  # an error value: noted as such
        if kind is not None and kind[1] == b"str" and b"<v" in cell:
            return  # a formula whose result is empty text
        formula = _FORMULA.search(cell)
        text = unescape(formula[1].decode("utf-8", "replace")) if formula else ""
        shown = f"formula ={text[:60]}{'…' if len(text) > 60 else ''}" if text else "a formula"
        self.scan.unreadable[(row, column)] = f"{shown} has no stored result"
        self.scan.formulas_without_values.append(cell_name(row, column))

    # any form: tag by tag, keeping the row and column cursor calamine keeps
    def _exact(self, data: bytes) -> None:
        cell: tuple[int, int] | None = None  # the open cell
        cell_start = 0
        has_value = has_formula = False
        for m in _ANY_TAG.finditer(data):
            closing, name, attrs = m[1], m[2], m[3]
            empty = attrs.rstrip().endswith(b"/")
            if name == b"row":
                if not closing:
                    ref = _R_ATTR.search(b" " + attrs)
                    if ref is not None:
                        self.row = self._row_number(ref[1])
                if closing or empty:
                    self.row, self.column = self.row + 1, 0
            elif name == b"c" and closing:
                if cell is not None and has_formula and not has_value:
                    self._formula_without_value(data[cell_start : m.end()], *cell)
                cell = None
            elif name == b"c":
                ref = _R_ATTR.search(b" " + attrs)
                if ref is not None:
                    self.row, self.column = self._reference(ref[1])
                if self.row >= EXCEL_ROWS or self.column >= EXCEL_COLUMNS:
                    self._refuse(cell_name(self.row, self.column))
                cell = (self.row, self.column)
                self._extend(*cell, *cell)
                self.column += 1
                cell_start, has_value, has_formula = m.start(), False, False
                kind = _T_ATTR.search(b" " + attrs)
                if kind is not None and kind[1] == b"e":
                    self._error(data[m.end() : m.end() + 300], *cell)
                if empty:
                    cell = None
            elif cell is not None and not closing:
                has_formula = has_formula or name == b"f"
                if name == b"v" and not empty:
                    has_value = has_value or data.find(b"<", m.end()) != m.end()

    def _row_number(self, text: bytes) -> int:
        digits = text.strip()
        if not digits.isdigit() or len(digits) > _MAX_DIGITS or not 0 < int(digits) <= EXCEL_ROWS:
            self._refuse(f"row {digits.decode('utf-8', 'replace')[:20]}")
        return int(digits) - 1

    def _reference(self, ref: bytes) -> tuple[int, int]:
        m = _REF.fullmatch(ref.strip())
        shown = ref.decode("utf-8", "replace").strip()[:20]
        if m is None or len(m[1]) > _MAX_LETTERS or len(m[2]) > _MAX_DIGITS or int(m[2]) == 0:
            self._refuse(shown)
        column = 0
        for ch in m[1].upper():
            column = column * 26 + ch - 64
        row, column = int(m[2]) - 1, column - 1
        if row >= EXCEL_ROWS or column >= EXCEL_COLUMNS:
            self._refuse(shown)
        return row, column

    def _refuse(self, what: str) -> NoReturn:
        cell = what if _REF.fullmatch(what.encode()) else None
        raise DataError(
            f"{'the cell reference ' if cell else ''}{what} is outside Excel's grid (A1:XFD1048576): "
            "the file was not written by Excel, or is damaged",
            self.where.at(cell=cell),
        )

    def _extend(self, top: int, left: int, bottom: int, right: int) -> None:
        s = self.scan
        if s.top < 0:
            s.top, s.left, s.bottom, s.right = top, left, bottom, right
        else:
            s.top, s.left = min(s.top, top), min(s.left, left)
            s.bottom, s.right = max(s.bottom, bottom), max(s.right, right)
