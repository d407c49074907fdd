"""Reading an .xlsx/.xlsm sheet in the usual form with numpy, as python-calamine would.

python-calamine loads a whole sheet into memory as one grid of cells, then hands
them over one Python object at a time: at a million rows that is 2.4 GB, and its
time grows faster than the rows do (docs/performance.md, "Linearity"). This reader
follows ``engine.io.xlsx_scan``'s numpy pass over the sheet XML as it inflates, 8 MB
at a time: it finds every cell's reference, type, style and value span by tag
position, gathers the values into Arrow arrays (numbers parsed in one call), and
makes one Python object per distinct value of each piece, straight into the sheet's
grid. Its result is the frame ``engine.io.registers.frame_from_rows`` builds from
calamine's rows: the same header, the same cells, the same types (float, str, bool;
None for empty) - tests/test_xlsx_read.py holds it to that, cell by cell.

It reads the form Excel and the usual libraries write: every cell ``<c r="A1"``
in order, values in ``<v>`` or in one inline ``<is><t>``, shared strings, booleans,
error values (no value: the scan notes them), formula results. Anything else - a
date or time cell (calamine gives datetime objects), a value it would keep as text
because it is not a number, ``_x000D_`` escapes, carriage returns, rich inline
text, empty value elements - raises ``Unusual``, and the caller reads that sheet
with calamine instead: nothing is guessed.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import Position
from engine.io.xlsx_scan import (
    EXCEL_COLUMNS,
    EXCEL_ROWS,
    SheetScan,
    inflate_part,
    last_cell_start,
    references,
    workbook_relations,
)

_LT, _GT, _QUOTE, _SLASH, _SPACE = (ord(c) for c in '<>"/ ')
_NAME_ENDS = np.zeros(256, bool)  # what may follow an element's name
_NAME_ENDS[np.frombuffer(b" >/\t\n\r", np.uint8)] = True
_MAX_STYLE_DIGITS = 6
_MOST_ATTRIBUTES, _LONGEST_VALUE = 6, 12  # a cell's tag: r, s, t, cm, vm, ph; 'inlineStr', a style index
_PADDING = 256  # zeros after a piece: looking ahead never leaves the array
# cell types (the t attribute)
NUMBER, SHARED, FORMULA_TEXT, INLINE, BOOLEAN, ERROR = range(6)
_TYPES = {b'n"': NUMBER, b's"': SHARED, b"st": FORMULA_TEXT, b"in": INLINE, b'b"': BOOLEAN, b'e"': ERROR}
_NUMBER_BYTES = np.zeros(256, bool)  # what a number is written with (not inf/nan, which calamine reads as text too)
_NUMBER_BYTES[np.frombuffer(b"0123456789.eE+-", np.uint8)] = True
# number formats with no date or time in them (ECMA-376 18.8.30): 0-13, 37-44, 48, 49
_PLAIN_FORMATS = frozenset([*range(14), *range(37, 45), 48, 49])
_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class Unusual(Exception):
    """The sheet is written in a form this reader leaves to calamine."""


@dataclass
class Book:
    """What the sheets of one workbook share: its shared strings (as the objects
    a cell holds: None for empty text), which of them this reader leaves to
    calamine, and which cell styles may show a number as a date or time."""

    strings: np.ndarray  # object
    odd_strings: np.ndarray  # bool
    dated_styles: np.ndarray  # bool, by cell style (xf) index


def open_book(zf: zipfile.ZipFile) -> Book:
    _, strings = workbook_relations(zf, "/sharedStrings")
    _, styles = workbook_relations(zf, "/styles")
    texts = _shared_strings(_read(zf, next(iter(strings.values()), "xl/sharedStrings.xml")))
    objects, odd = _cell_objects(pa.array(texts, pa.large_string()))
    return Book(objects, odd, _dated_styles(_read(zf, next(iter(styles.values()), "xl/styles.xml"))))


def _read(zf: zipfile.ZipFile, part: str) -> bytes:
    """A part's bytes (the scan has inflated every XML part against its declared size)."""
    try:
        return zf.read(part)
    except KeyError:
        return b""


# ------------------------------------------------------------ shared strings ------

_SI = re.compile(rb"<(?:[\w.-]+:)?si\b[^>]*?(?:/>|>(.*?)</(?:[\w.-]+:)?si>)", re.S)
_RPH = re.compile(rb"<((?:[\w.-]+:)?rPh)\b.*?</\1>", re.S)  # phonetic runs: not part of the text
_T = re.compile(rb"<(?:[\w.-]+:)?t\b[^>]*?(?:/>|>(.*?)</(?:[\w.-]+:)?t>)", re.S)


def _shared_strings(data: bytes) -> list[str]:
    """Each string item's text: its <t>, or its runs' <t>s joined, phonetic runs left out."""
    texts = []
    for item in _SI.finditer(data):
        body = _RPH.sub(b"", item[1] or b"")
        texts.append(b"".join(t[1] or b"" for t in _T.finditer(body)).decode("utf-8", "replace"))
    return texts


def _cell_objects(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Raw XML texts -> the cell objects (character references resolved, '' -> None),
    and which texts this reader does not resolve as calamine would (``_x000D_``
    escapes, carriage returns, which XML reading turns into line feeds)."""
    objects = texts.to_numpy(zero_copy_only=False).astype(object, copy=False)
    odd = np.zeros(len(texts), bool)
    objects[pc.equal(texts, "").to_numpy(zero_copy_only=False)] = None
    marked = pc.match_substring_regex(texts, "_x|\r|&").to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(marked).tolist():
        text = objects[i] if "_x" not in objects[i] and "\r" not in objects[i] else None
        resolved = _resolved(text) if text is not None else None
        if resolved is None:
            odd[i] = True  # an escape, a carriage return, or an entity XML does not define
        else:
            objects[i] = resolved
    return objects, odd


def _resolved(text: str) -> str | None:
    """The text with its entities and character references resolved; None when it
    holds one XML does not define (a bare '&', '&nbsp;', a code point past Unicode)."""
    if "&" in _ENTITY.sub("", text):
        return None
    try:
        return _ENTITY.sub(_entity, text)
    except (ValueError, OverflowError):
        return None


def _entity(m: re.Match) -> str:
    name = m[1]
    if name[0] != "#":
        return _NAMED[name]
    code = int(name[2:], 16) if name[1] == "x" else int(name[1:])
    if not (
        code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF
    ):
        raise ValueError(f"character {code} is not allowed in XML")
    return chr(code)


# ---------------------------------------------------------------- styles ------

_NUM_FMT = re.compile(rb"<(?:[\w.-]+:)?numFmt\b[^>]*>")
_CELL_XFS = re.compile(rb"<(?:[\w.-]+:)?cellXfs\b.*?</(?:[\w.-]+:)?cellXfs>", re.S)
_XF = re.compile(rb"<(?:[\w.-]+:)?xf\b[^>]*>")
_ATTR = re.compile(rb"""\s(numFmtId|formatCode)\s*=\s*["']([^"']*)["']""")


def _dated_styles(data: bytes) -> np.ndarray:
    """Per cell style: whether its number format may show a date, a time or a
    duration (then calamine gives datetime objects, and the sheet is its to read).
    Any doubt counts as a date."""
    codes = {}
    for tag in _NUM_FMT.findall(data):
        attrs = dict(_ATTR.findall(tag))
        if b"numFmtId" in attrs:
            code = _resolved(attrs.get(b"formatCode", b"").decode("utf-8", "replace"))
            codes[attrs[b"numFmtId"]] = "d" if code is None else code  # unreadable: may be a date
    xfs = _CELL_XFS.search(data)
    dated = []
    for tag in _XF.findall(xfs[0]) if xfs else []:
        number_format = dict(_ATTR.findall(tag)).get(b"numFmtId", b"0")
        if number_format in codes:
            dated.append(_may_be_date(codes[number_format]))
        else:
            dated.append(not number_format.isdigit() or int(number_format) not in _PLAIN_FORMATS)
    return np.array(dated, bool)


def _may_be_date(code: str) -> bool:
    """Whether a custom number format may show a date or time: a letter of one
    (d m y h s, AM/PM, era) outside quoted text, escapes and colour or condition brackets."""
    code = re.sub(r'"[^"]*"|\\.|_.|\*.', "", code)
    code = re.sub(r"\[(?![hms]+\])[^\]]*\]", "", code, flags=re.I)  # [Red], [>100]; not [h], [mm], [ss]
    code = re.sub(r"general", "", code, flags=re.I)
    code = re.sub(r"[eE][+-]", "", code)  # scientific notation
    return bool(re.search(r"[dmyhsaegb]", code, re.I))


# ---------------------------------------------------------------- a sheet ------


class SheetReader:
    """One sheet's XML, fed in pieces; ``cells()`` then gives its grid. The cells'
    objects are made a piece at a time, straight into a grid of the range the scan
    found (each piece's distinct values in small tables that stay in the caches:
    the time grows with the rows, not faster)."""

    def __init__(self, book: Book, scan: SheetScan) -> None:
        self.book = book
        self.origin, self.height = (scan.top, scan.left), scan.rows
        self.grid = np.empty((scan.columns, scan.rows), object)  # None throughout
        self.last = -1  # the last cell's row * EXCEL_COLUMNS + column: cells come in order
        self.top = self.left = EXCEL_ROWS  # the used range of the cells with a value
        self.bottom = self.right = -1

    def feed(self, data: bytes, end: int) -> None:
        """Read the cells in data[:end] (whole cells only)."""
        a = np.zeros(end + _PADDING, np.uint8)
        a[:end] = np.frombuffer(data, np.uint8, count=end)
        tags = np.flatnonzero(a[:end] == _LT)
        name, named = a[tags + 1], _NAME_ENDS[a[tags + 2]]  # '<x' followed by ' ', '>' or '/'
        is_cell = named & (name == ord("c"))
        cells = tags[is_cell]
        if not len(cells):
            return
        if np.any(named & (name == ord("r"))) or np.any((name == ord("r")) & (a[tags + 2] == ord("P"))):
            raise Unusual("rich inline text")
        for j, byte in enumerate(b' r="'):
            if not np.all(a[cells + 2 + j] == byte):
                raise Unusual("a cell without a leading reference")
        found = references(a, cells)
        if found is None:
            raise Unusual("a cell reference written another way")
        row, column = found
        key = row.astype(np.int64) * EXCEL_COLUMNS + column
        if key[0] <= self.last or np.any(np.diff(key) <= 0):
            raise Unusual("cells out of order")
        self.last = int(key[-1])
        # the reference's closing quote: after '<c r="', its letters and digits
        quote = cells + 6 + 1 + (column > 26) + (column > 702)
        quote += 1 + sum((row >= 10**k).astype(np.int64) for k in range(1, 7))
        kind, style_at, closed = _attributes(a, quote + 1)
        owner_of_tag = np.cumsum(is_cell, dtype=np.int32) - 1  # each tag's cell: the last one opened at or before it
        start, stop, has = np.zeros(len(cells), np.int64), np.zeros(len(cells), np.int64), np.zeros(len(cells), bool)
        for letter, inline in ((ord("v"), False), (ord("t"), True)):
            at = np.flatnonzero(named & (name == letter))  # places in tags
            if len(at):
                _spans(a, tags, at, owner_of_tag[at], kind, closed, inline, (start, stop, has))
        row, column = row - 1, column - 1
        self._check_styles(a, style_at[has & (kind == NUMBER)])
        place = (column - self.origin[1]).astype(np.int64) * self.height + (row - self.origin[0])
        if place.min() < 0 or place.max() >= self.grid.size:
            raise Unusual("a cell outside the range the scan found")
        flat = self.grid.reshape(-1)
        for code in (NUMBER, SHARED, BOOLEAN):
            pick = np.flatnonzero(has & (kind == code))
            if len(pick):
                flat[place[pick]] = self._objects(a, start[pick], stop[pick], code)
        pick = np.flatnonzero(has & ((kind == INLINE) | (kind == FORMULA_TEXT)))
        if len(pick):
            flat[place[pick]] = _text_objects(_text(*_bytes(a, start[pick], stop[pick])))
        valued = np.flatnonzero(has)
        if len(valued):
            self.top, self.bottom = min(self.top, int(row[valued].min())), max(self.bottom, int(row[valued].max()))
            self.left, self.right = (
                min(self.left, int(column[valued].min())),
                max(self.right, int(column[valued].max())),
            )

    def _check_styles(self, a: np.ndarray, at: np.ndarray) -> None:
        """Numbers in a cell style that may show a date or time are calamine's to read
        (``at``: where each number cell's style index is written, -1 for none)."""
        at = at[at >= 0]
        if not self.book.dated_styles.any() or not len(at):
            return
        style, going = np.zeros(len(at), np.int64), np.ones(len(at), bool)
        for j in range(_MAX_STYLE_DIGITS + 1):
            digit = a[at + j].astype(np.int64) - ord("0")
            going &= (digit >= 0) & (digit <= 9)
            style = np.where(going, style * 10 + digit, style)
        if np.any(going) or np.any(a[at] == _QUOTE):
            raise Unusual("a cell style written another way")
        dated = self.book.dated_styles
        if np.any(style >= len(dated)) or np.any(dated[np.minimum(style, len(dated) - 1)]):
            raise Unusual("a number in a date or time format")

    def _objects(self, a: np.ndarray, start: np.ndarray, stop: np.ndarray, code: int) -> np.ndarray:
        """The values written at [start, stop) as the objects calamine gives."""
        offsets, raw = _bytes(a, start, stop)
        if code == BOOLEAN:
            if np.any(stop - start != 1) or np.any((raw != ord("0")) & (raw != ord("1"))):
                raise Unusual("a boolean written other than 0 or 1")
            return np.array([False, True], object)[(raw == ord("1")).astype(np.intp)]
        if not _NUMBER_BYTES[raw].all():
            raise Unusual("a number calamine would keep as text")
        try:
            parsed = pc.cast(_text(offsets, raw), pa.int64() if code == SHARED else pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise Unusual("a number calamine would keep as text") from None
        numbers = parsed.to_numpy()
        if code == NUMBER:
            return _float_objects(numbers)
        strings = self.book.strings
        if np.any(numbers < 0) or np.any(numbers >= len(strings)) or self.book.odd_strings[numbers].any():
            raise Unusual("a shared string this reader leaves to calamine")
        return strings[numbers]

    def cells(self) -> tuple[tuple[int, int], np.ndarray] | None:
        """(top, left) of the used range of the cells with a value, and its cells
        as (columns x rows) objects, the header row first; None for a sheet without values."""
        if self.bottom < 0:
            return None
        top, left = self.origin
        return (self.top, self.left), self.grid[
            self.left - left : self.right - left + 1, self.top - top : self.bottom - top + 1
        ]


def _attributes(a: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The attributes after each cell's reference (``at``: the byte after it): the
    cell's type, where its style index is written (-1: none), and where its tag
    ends (the '>', or the '/' of '/>'). Attribute by attribute, for all cells at once."""
    n = len(at)
    kind, style_at, closed = np.full(n, NUMBER, np.int8), np.full(n, -1, np.int64), np.zeros(n, np.int64)
    active = np.arange(n)
    for _ in range(_MOST_ATTRIBUTES + 1):
        here = a[at]
        done = (here == _GT) | (here == _SLASH)
        closed[active[done]] = at[done]
        active, at = active[~done], at[~done]
        if not len(active):
            return kind, style_at, closed
        one, two = a[at + 2] == ord("="), a[at + 3] == ord("=")  # 't="s"'; 'cm="1"'
        equals = np.where(one, at + 2, at + 3)
        if np.any(a[at] != _SPACE) or np.any(~one & ~two) or np.any(a[equals + 1] != _QUOTE):
            raise Unusual("an attribute written another way")
        value = equals + 2
        end = np.full(len(at), -1, np.int64)
        for j in range(_LONGEST_VALUE):
            end = np.where((end < 0) & (a[value + j] == _QUOTE), value + j, end)
            if j and end.min() >= 0:
                break
        if np.any(end < 0):
            raise Unusual("an attribute written another way")
        letter = np.where(one, a[at + 1], 0)
        if np.any(letter == ord("r")):
            raise Unusual("a cell with two references")
        typed = letter == ord("t")
        if typed.any():
            first, second = a[value[typed]], a[value[typed] + 1]
            known = np.zeros(len(first), bool)
            codes = np.full(len(first), NUMBER, np.int8)
            for pattern, code in _TYPES.items():
                match = (first == pattern[0]) & (second == pattern[1])
                codes[match] = code
                known |= match
            if not known.all():
                raise Unusual("a cell of a type this reader leaves to calamine (a date)")
            kind[active[typed]] = codes
        styled = letter == ord("s")
        style_at[active[styled]] = value[styled]
        at = end + 1
    raise Unusual("a cell with more attributes than Excel writes")


def _spans(a, tags, at, owner, kind, closed, inline: bool, into) -> None:
    """Record the value span [start, stop) of each value element (<v>, or the <t>
    of an inline string; ``at``: their places in ``tags``) in its cell: a value
    is the text up to the next tag, which closes the element."""
    start, stop, has = into
    if np.any(owner < 0) or np.any(np.diff(owner) <= 0) or np.any(has[owner]) or np.any(a[closed[owner]] == _SLASH):
        raise Unusual("a value outside a cell, or two in one")
    if np.any((kind[owner] == INLINE) != inline):
        raise Unusual("a value element of another kind than its cell's type")
    opening = tags[at]
    opened = opening + 3
    attributed = a[opening + 2] != _GT  # <t xml:space="preserve">
    if attributed.any():
        if not inline:
            raise Unusual("an empty or unusual value element")
        ends = np.flatnonzero(a == _GT)
        opened[attributed] = ends[np.searchsorted(ends, opening[attributed])] + 1
        if np.any(a[opened[attributed] - 2] == _SLASH):
            raise Unusual("an empty value element")
    if at[-1] + 1 >= len(tags):
        raise Unusual("a value element cut short")
    closing = tags[at + 1]
    if np.any(closing <= opened) or np.any(a[closing + 1] != _SLASH):
        raise Unusual("an empty value element")
    start[owner], stop[owner], has[owner] = opened, closing, True


def _bytes(a: np.ndarray, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The byte spans [start, stop) of ``a``, one after another, and their offsets."""
    lengths = stop - start
    offsets = np.zeros(len(start) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets, a[np.repeat(start - offsets[:-1], lengths) + np.arange(offsets[-1])]


def _text(offsets: np.ndarray, data: np.ndarray) -> pa.LargeStringArray:
    return pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))


def _float_objects(numbers: np.ndarray) -> np.ndarray:
    """Floats as objects, one per distinct value (a register repeats its numbers)."""
    codes, uniques = pd.factorize(numbers)
    objects = np.array(uniques.tolist(), object)[codes]
    keep_zero_signs(objects, numbers)
    return objects


def keep_zero_signs(objects: np.ndarray, numbers: np.ndarray) -> None:
    """Give 0.0 and -0.0 each their own object again where equal numbers were made to
    share one (factorize takes them for one value: the first one's sign went to all)."""
    zero = numbers == 0
    if np.any(zero):
        negative = np.signbit(numbers)
        if np.any(zero & negative):
            objects[zero & negative] = -0.0
            objects[zero & ~negative] = 0.0


def _text_objects(texts: pa.Array) -> np.ndarray:
    """Texts as objects, one per distinct text; character references resolved,
    empty text None."""
    encoded = pc.dictionary_encode(texts)
    objects, odd = _cell_objects(encoded.dictionary)
    if odd.any():
        raise Unusual("text this reader leaves to calamine (_x escapes)")
    return objects[encoded.indices.to_numpy()]


def read_sheet(
    raw, info: zipfile.ZipInfo, scan: SheetScan, book: Book, where: Position
) -> tuple[tuple[int, int], np.ndarray] | None:
    """The used range's origin and cells of a worksheet (``info``, in the file
    ``raw``) the scan has looked at (see ``SheetReader.cells``); raises Unusual
    for a sheet calamine is to read."""
    if scan.top < 0:
        return None
    reader, carry = SheetReader(book, scan), b""
    for chunk in inflate_part(raw, info, where):
        data = carry + chunk if carry else chunk
        end = data.find(b"</sheetData>")  # what follows (extensions, drawings) holds no cells
        if end >= 0:
            reader.feed(data, end)
            return reader.cells()
        cut = last_cell_start(data)
        reader.feed(data, cut)
        carry = data[cut:]
    reader.feed(carry, len(carry))
    return reader.cells()
