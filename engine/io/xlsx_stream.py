"""A fast .xlsx writer for big result tables: each column's cell XML is built
with vectorized string operations, then rows are joined - no per-cell Python
calls (XlsxWriter spends ~6 µs per cell, which made writing 90 % of a run).

Writes what kade needs and nothing more: several sheets, typed cells (numbers,
text as inline strings, booleans, dates with a date format), a formatted header
row with colours, column widths, frozen panes and an autofilter."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_ROWS = 1_048_576

# cellXfs of the workbooks written here: 0 plain, 1 date, 2 header blue, 3 header green, 4 header orange
STYLE_DATE, HEADER_STYLES = 1, {"data": 2, "decision": 3, "error": 4}
# another workbook's styles.xml gets other indices (xlsx_copy); 'highlight' is a differential style (dxf)
STYLES = {"date": STYLE_DATE, **HEADER_STYLES, "highlight": 0}
EPOCH_1900, EPOCH_1904 = pd.Timestamp("1899-12-30"), pd.Timestamp("1904-01-01")  # day 0 of Excel's two date systems


@dataclass
class SheetSpec:
    name: str
    frame: pd.DataFrame
    header_kinds: list[str] | None = None  # per column: 'data' | 'decision' | 'error'
    widths: list[float] | None = None
    freeze: tuple[int, int] | None = (1, 1)
    autofilter: bool = True
    top: list[list] | None = None  # rows above the table (a few: label, value...), then a blank row
    highlight: str | None = None  # a column: rows where it is not empty are filled (kade.errors)
    # columns whose text is made when written, for rows start..stop (reasons; the frame holds a stand-in)
    computed: dict[str, Callable[[int, int], pa.Array]] | None = None

    @property
    def header_row(self) -> int:
        """The sheet row (1-based) of the table's header."""
        return len(self.top) + 2 if self.top else 1


def col_letters(n: int) -> list[str]:
    out = []
    for i in range(n):
        s, k = "", i + 1
        while k:
            k, r = divmod(k - 1, 26)
            s = chr(65 + r) + s
        out.append(s)
    return out


_NOT_XML = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"  # characters XML 1.0 does not allow
_OOXML_ESCAPE = r"_(x[0-9A-Fa-f]{4}_)"  # readers decode '_x0041_' to 'A': such text must be written '_x005F_x0041_'


def _escape(text: pa.Array) -> pa.Array:
    """XML-escaped text; only the strings that need it are rewritten (most need nothing)."""
    needs = pc.match_substring_regex(text, r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]|_x[0-9A-Fa-f]{4}_")
    if not pc.any(needs).as_py():
        return text
    sub = text.filter(needs)
    sub = pc.replace_substring_regex(sub, _NOT_XML, "")
    sub = pc.replace_substring_regex(sub, _OOXML_ESCAPE, r"_x005F_\1")
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        sub = pc.replace_substring(sub, raw, entity)
    return pc.replace_with_mask(text, needs, sub)


def _number_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values, type=pa.float64()), pa.string())


MAX_CELL_TEXT = 32_767  # characters Excel holds in a cell; longer text makes it "repair" the file


def _slice_each(text: pa.Array, lengths: pa.Array) -> pa.Array:
    """Each string cut to its own number of characters (two lengths at most here)."""
    out = text
    for n in pc.unique(lengths).to_pylist():
        out = pc.if_else(pc.equal(lengths, n), pc.utf8_slice_codeunits(text, 0, n), out)
    return out


def _text_cells(text: pa.Array, refs: pa.Array) -> pa.Array:
    """Inline-string cells; null where the text is null."""
    if (
        len(text) and (pc.max(pc.binary_length(text)).as_py() or 0) > MAX_CELL_TEXT
    ):  # UTF-8 bytes >= UTF-16 units: cheap test first
        # Excel counts UTF-16 units: characters beyond U+FFFF (some rare Chinese ones) count twice
        units = pc.add(pc.utf8_length(text), pc.count_substring_regex(text, r"[\x{10000}-\x{10FFFF}]"))
        long = pc.greater(units, MAX_CELL_TEXT)
        keep = pc.if_else(pc.equal(units, pc.utf8_length(text)), MAX_CELL_TEXT - 1, MAX_CELL_TEXT // 2 - 1)
        cut = pc.binary_join_element_wise(_slice_each(text, keep), "…", "")
        text = pc.if_else(long, cut, text)
    text = _escape(text)
    space = pc.not_equal(
        pc.binary_length(text), pc.binary_length(pc.ascii_trim_whitespace(text))
    )  # XML whitespace is ASCII
    open_tag = pc.if_else(space, '<t xml:space="preserve">', "<t>") if pc.any(space).as_py() else "<t>"
    return pc.binary_join_element_wise('<c r="', refs, '" t="inlineStr"><is>', open_tag, text, "</t></is></c>", "")


def _repetitive(values: np.ndarray) -> bool:
    """Few distinct values (rule ids, tiers): cheaper to build each distinct cell once."""
    sample = values[:2000]
    return len(values) > 200 and len(pd.unique(sample)) * 8 < len(sample)


def _column_xml(
    values: np.ndarray, refs: pa.Array, date_style: int = STYLE_DATE, epoch: pd.Timestamp = EPOCH_1900
) -> pa.Array:
    """Cell XML per row for one column; null where the cell is empty. Columns of
    one type (the usual case) take a direct path; mixed ones are split by type."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "empty":
        return pa.nulls(len(values), pa.string())
    if kind == "string":
        if _repetitive(values):
            codes, uniques = pd.factorize(values)
            tails = _text_cells(pa.array(uniques, type=pa.string()), pa.array([""] * len(uniques), pa.string()))
            tails = pc.utf8_slice_codeunits(tails, len('<c r="'))  # the cell without its reference
            taken = tails.take(pa.array(codes, mask=codes < 0))
            return pc.binary_join_element_wise('<c r="', refs, taken, "")
        return _text_cells(pa.array(values, type=pa.string(), from_pandas=True), refs)
    if kind in ("floating", "integer", "mixed-integer-float"):
        return _number_cells(pd.to_numeric(pd.Series(values, dtype=object)).to_numpy(dtype=float), refs)
    if kind in ("date", "datetime", "datetime64"):
        try:
            return _date_cells(pd.to_datetime(pd.Series(values, dtype=object)), refs, date_style, epoch)
        except (TypeError, ValueError, OverflowError):  # time zones, out-of-range years: cell by cell below
            return _mixed_column_xml(values, refs, date_style, epoch)
    if kind == "boolean":
        present = pd.notna(values)
        bits = pa.array(np.where(values == True, "1", "0"), mask=~present)  # noqa: E712  (object array)
        return pc.binary_join_element_wise('<c r="', refs, '" t="b"><v>', bits, "</v></c>", "")
    return _mixed_column_xml(values, refs, date_style, epoch)


def _number_cells(numbers: np.ndarray, refs: pa.Array) -> pa.Array:
    """Number cells; null (no cell) for NaN and infinities."""
    shown = pa.array(numbers, mask=~np.isfinite(numbers)).cast(pa.string())
    return pc.binary_join_element_wise('<c r="', refs, '"><v>', shown, "</v></c>", "")


def _date_cells(stamps: pd.Series, refs: pa.Array, date_style: int, epoch: pd.Timestamp) -> pa.Array:
    """Dates as Excel serial numbers with a date format; dates before the
    workbook's first day (1900-01-01, or 1904-01-01) as ISO text."""
    serial = ((stamps - epoch) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    if epoch == EPOCH_1900:  # Excel counts a 29 February 1900 that never was: earlier days are one less
        serial = np.where(serial < 61, serial - 1, serial)
    early = serial < (1 if epoch == EPOCH_1900 else 0)
    shown = pa.array(serial, mask=np.isnan(serial) | early).cast(pa.string())
    cells = pc.binary_join_element_wise('<c r="', refs, f'" s="{date_style}"><v>', shown, "</v></c>", "")
    if early.any():
        timed = (stamps != stamps.dt.normalize()).to_numpy()
        text = np.where(timed, stamps.dt.strftime("%Y-%m-%d %H:%M:%S"), stamps.dt.strftime("%Y-%m-%d"))
        cells = pc.if_else(
            pa.array(early), _text_cells(pa.array(np.where(early, text, None), pa.string()), refs), cells
        )
    return cells


def _mixed_column_xml(values: np.ndarray, refs: pa.Array, date_style: int, epoch: pd.Timestamp) -> pa.Array:
    n = len(values)
    series = pd.Series(values, dtype=object)
    present = series.notna().to_numpy()
    # group cells by Python type (factorised: comparing classes with == is unreliable, e.g. pd.Timestamp)
    codes, classes = pd.factorize(series.map(type), use_na_sentinel=False)
    parts: list[tuple[np.ndarray, pa.Array]] = []
    for code, kind in enumerate(classes):
        sel = np.flatnonzero(present & (codes == code))
        if len(sel) == 0:
            continue
        vals = values[sel]
        r = refs.take(pa.array(sel))
        if kind in (bool, np.bool_):
            text = pa.array(np.where(vals.astype(bool), "1", "0"))
            cells = pc.binary_join_element_wise('<c r="', r, '" t="b"><v>', text, "</v></c>", "")
        elif kind in (int, float, np.int64, np.float64):
            numbers = vals.astype(float)
            finite = np.isfinite(numbers)
            sel, r, numbers = sel[finite], r.filter(pa.array(finite)), numbers[finite]
            cells = pc.binary_join_element_wise('<c r="', r, '"><v>', _number_text(numbers), "</v></c>", "")
        elif kind in (dt.date, dt.datetime, pd.Timestamp):
            stamps = pd.to_datetime(
                pd.Series(vals).map(lambda d: d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day))
                if kind is dt.date
                else pd.Series(vals)
            )
            cells = _date_cells(stamps, r, date_style, epoch)
        else:  # text, and anything else as its text
            text = pa.array(
                vals if kind is str else pd.Series(vals).astype(str).to_numpy(dtype=object), type=pa.string()
            )
            cells = _text_cells(text, r)
        parts.append((sel, cells))
    if not parts:
        return pa.nulls(n, pa.string())
    positions = np.concatenate([p for p, _ in parts])
    merged = pa.concat_arrays([c for _, c in parts])
    order = np.empty(n, dtype=np.int64)
    order[:] = -1
    order[positions] = np.arange(len(positions))
    take = pa.array(np.where(order >= 0, order, 0))
    return pc.if_else(pa.array(order >= 0), merged.take(take), pa.nulls(n, pa.string()))


def joined(rows: pa.Array) -> memoryview:
    """All strings of an Arrow string/binary array, concatenated: a view of its data buffer."""
    offsets = np.frombuffer(
        rows.buffers()[1], dtype=np.int64 if rows.type in (pa.large_string(), pa.large_binary()) else np.int32
    )
    offsets = offsets[rows.offset : rows.offset + len(rows) + 1]
    data = rows.buffers()[2]
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])] if len(rows) and data is not None else memoryview(b"")


ROWS_PER_PIECE = 20_000  # rows turned into XML at a time (reasons made for them then): bounds memory on big sheets


def row_cells(
    frame: pd.DataFrame,
    letters: list[str],
    rows: pa.Array,
    start: int,
    stop: int,
    date_style: int = STYLE_DATE,
    epoch: pd.Timestamp = EPOCH_1900,
    computed: dict[str, Callable[[int, int], pa.Array]] | None = None,
) -> pa.Array:
    """Per sheet row (numbers as text in ``rows``), the XML of its cells from
    frame rows start..stop, columns placed at ``letters``; '' for no cells.
    Dates are day counts from ``epoch`` (the workbook's date system).
    ``computed``: columns whose text is made now, for these rows (reasons)."""
    cells = []
    for c, name in enumerate(frame.columns):
        refs = pc.binary_join_element_wise(letters[c], rows, "")
        column = frame[name]
        text = None
        if computed and name in computed:
            text = computed[name](start, stop)
        elif isinstance(column.dtype, pd.ArrowDtype) and pa.types.is_string(column.dtype.pyarrow_dtype):
            text = pa.array(column.iloc[start:stop])  # Arrow text (reasons): as it is
        if text is not None:
            cells.append(_text_cells(text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text, refs))
        elif isinstance(column.dtype, np.dtype) and column.dtype.kind == "f":  # numbers (decisions' scores)
            cells.append(_number_cells(column.to_numpy()[start:stop], refs))
        else:
            cells.append(_column_xml(column.iloc[start:stop].to_numpy(dtype=object), refs, date_style, epoch))
    if not cells:
        return pa.array([""] * (stop - start), pa.string())
    return pc.binary_join_element_wise(*cells, "", null_handling="replace", null_replacement="")


def header_cells(names, letters: list[str], row: int, kinds: list[str], styles: dict[str, int]) -> str:
    return "".join(
        f'<c r="{letters[c]}{row}" t="inlineStr" s="{styles[kinds[c]]}"><is><t>{escape(str(name))}</t></is></c>'
        for c, name in enumerate(names)
    )


def _rows_xml(
    frame: pd.DataFrame, letters: list[str], start: int, stop: int, date_style: int, first_row: int = 2, computed=None
) -> memoryview:
    rows = pc.cast(pa.array(np.arange(start + first_row, stop + first_row)), pa.string())
    cells = row_cells(frame, letters, rows, start, stop, date_style, computed=computed)
    body = pc.binary_join_element_wise('<row r="', rows, '">', cells, "</row>", "")
    return joined(body)


def sheet_xml(spec: SheetSpec, styles: dict[str, int] = STYLES):
    """The worksheet XML, yielded in pieces."""
    frame = spec.frame
    n, m = len(frame), len(frame.columns)
    if n + spec.header_row > MAX_ROWS:
        raise ValueError(f"sheet {spec.name} has {n:,} rows; Excel allows {MAX_ROWS - 1:,} below the header")
    width = max([m, *(len(r) for r in spec.top or [])])
    letters = col_letters(max(width, 1))
    kinds = spec.header_kinds or ["data"] * m
    at = spec.header_row
    header = header_cells(frame.columns, letters, at, kinds, styles)
    top = "".join(
        f'<row r="{r}">' + row_cells(_top_frame([values]), letters, pa.array([str(r)]), 0, 1)[0].as_py() + "</row>"
        for r, values in enumerate(spec.top or [], start=1)
    )
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    ]
    last = f"{letters[width - 1]}{n + at}" if width else "A1"
    parts.append(f'<dimension ref="A1:{last}"/>')
    if spec.freeze:
        r, c = spec.freeze
        cell = f"{letters[c] if c < len(letters) else 'A'}{r + 1}"
        pane = (
            "<pane "
            + (f'xSplit="{c}" ' if c else "")
            + (f'ySplit="{r}" ' if r else "")
            + f'topLeftCell="{cell}" activePane="{"bottomRight" if r and c else "bottomLeft" if r else "topRight"}" state="frozen"/>'
        )
        parts.append(f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>')
    parts.append('<sheetFormatPr defaultRowHeight="15"/>')
    if spec.widths:
        parts.append(
            "<cols>"
            + "".join(
                f'<col min="{i + 1}" max="{i + 1}" width="{w:.1f}" customWidth="1"/>' for i, w in enumerate(spec.widths)
            )
            + "</cols>"
        )
    parts.append(f'<sheetData>{top}<row r="{at}">{header}</row>')
    yield "".join(parts).encode("utf-8")
    for start in range(0, n, ROWS_PER_PIECE):
        yield _rows_xml(frame, letters, start, min(n, start + ROWS_PER_PIECE), styles["date"], at + 1, spec.computed)
    tail = ["</sheetData>"]
    if spec.autofilter and m:
        tail.append(f'<autoFilter ref="A{at}:{letters[m - 1]}{n + at}"/>')
    if spec.highlight is not None and n and spec.highlight in frame.columns:
        where = f"A{at + 1}:{letters[m - 1]}{n + at}"
        column = letters[list(frame.columns).index(spec.highlight)]
        tail.append(highlight_rows(where, f"${column}{at + 1}", styles["highlight"], 1))
    tail.append("</worksheet>")
    yield "".join(tail).encode("utf-8")


def highlight_rows(where: str, first_cell: str, dxf: int, priority: int) -> str:
    """Conditional formatting: the rows of ``where`` whose cell in the column of
    ``first_cell`` (its first row, column fixed: '$X2') is not empty get the
    highlight fill - in Excel and LibreOffice alike, without styling a cell."""
    return (
        f'<conditionalFormatting sqref="{where}"><cfRule type="expression" dxfId="{dxf}" priority="{priority}">'
        f"<formula>LEN({first_cell})&gt;0</formula></cfRule></conditionalFormatting>"
    )


HIGHLIGHT_FILL = "FFFCE4D6"  # error rows: the orange of the kade.errors header, lighter than a warning
HIGHLIGHT_DXF = (
    f'<dxf><fill><patternFill patternType="solid"><bgColor rgb="{HIGHLIGHT_FILL}"/></patternFill></fill></dxf>'
)


def _top_frame(rows: list[list]) -> pd.DataFrame:
    width = max(len(r) for r in rows)
    return pd.DataFrame([list(r) + [None] * (width - len(r)) for r in rows], dtype=object)


_STYLES = (
    """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="5"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/></patternFill></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFE2EFDA"/></patternFill></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFFCE4D6"/></patternFill></fill></fills>
<borders count="2"><border/><border><left style="thin"/><right style="thin"/><top style="thin"/><bottom style="thin"/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1"/>
<xf numFmtId="0" fontId="1" fillId="3" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1"/>
<xf numFmtId="0" fontId="1" fillId="4" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1"/></cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
<dxfs count="1">"""
    + HIGHLIGHT_DXF
    + """</dxfs>
</styleSheet>"""
)


@contextlib.contextmanager
def new_package(path: Path, compresslevel: int) -> Iterator[zipfile.ZipFile]:
    """A zip package written to ``path`` from its start. The file is opened without
    truncating it (and emptied by hand only if it has content): ext4 writes a file
    out as soon as it is closed when it was truncated on opening (its guard against
    rewriting a file in place), and closing a million rows' results then waited
    0.4 s for the disk. The temporary file ``writers.atomic_path`` makes is new and
    empty, and the rename over the target is what makes the write atomic."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    with open(fd, "w+b") as fh:  # an open descriptor: nothing is truncated here
        if os.fstat(fd).st_size:
            fh.truncate(0)
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
            yield zf


def write_entry(zf: zipfile.ZipFile, name: str, pieces):
    """Stream ``pieces`` (bytes-like) into a new zip member. Deflating runs in a
    second thread while the next piece is built (zlib and ISA-L release the
    GIL), with ISA-L when available: at level 1 it is ~6x faster than zlib and
    compresses sheet XML a little better. zipfile keeps the headers, CRC and
    zip64 right; only its compressor object is swapped."""
    entry = zf.open(name, "w", force_zip64=True)
    if _fast_deflate is not None and getattr(entry, "_compressor", None) is not None:
        # zipfile has no public hook for the compressor object
        entry._compressor = _fast_deflate.compressobj(1, zlib.DEFLATED, -15)  # type: ignore[attr-defined]
    queue: Queue = Queue(maxsize=2)  # bounds the pieces held in memory
    failed: list[BaseException] = []

    def drain():
        while (piece := queue.get()) is not None:
            if not failed:
                try:
                    entry.write(piece)
                except BaseException as exc:
                    failed.append(exc)

    worker = threading.Thread(target=drain, name="kade-deflate", daemon=True)
    worker.start()
    try:
        for piece in pieces:
            if failed:
                break
            queue.put(piece)
    finally:
        queue.put(None)
        worker.join()
        entry.close()
    if failed:
        raise failed[0]


_fast_deflate: Any
try:  # python-isal: a dependency, but only wheels for x86-64/arm64 exist; zlib elsewhere
    from isal import isal_zlib as _fast_deflate
except ImportError:  # pragma: no cover
    _fast_deflate = None


def filter_name(sheet: str, index: int, cells: str) -> str:
    """The hidden defined name Excel keeps beside a sheet's autofilter."""
    quoted = "'" + sheet.replace("'", "''") + "'"
    return (
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{index}" hidden="1">{escape(quoted)}!{cells}'
        "</definedName>"
    )


def write(path: Path, sheets: list[SheetSpec]):
    """Write the workbook to ``path`` (the caller makes it atomic)."""
    names = [s.name[:31] for s in sheets]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate sheet names: {names}")
    content = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    ]
    rels = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    ]
    book_sheets, defined = [], []
    for i, name in enumerate(names, start=1):
        content.append(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        )
        rels.append(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
        )
        book_sheets.append(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>')
        spec = sheets[i - 1]
        if spec.autofilter and len(spec.frame.columns):
            letter = col_letters(len(spec.frame.columns))[-1]
            defined.append(
                filter_name(name, i - 1, f"$A${spec.header_row}:${letter}${len(spec.frame) + spec.header_row}")
            )
    content.append("</Types>")
    rels.append(
        f'<Relationship Id="rId{len(names) + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>'
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><bookViews><workbookView/></bookViews>'
        f"<sheets>{''.join(book_sheets)}</sheets>"
        + (f"<definedNames>{''.join(defined)}</definedNames>" if defined else "")
        + "</workbook>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    with new_package(path, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "".join(content))
        zf.writestr("_rels/.rels", root_rels)
        zf.writestr("xl/workbook.xml", workbook)
        zf.writestr("xl/_rels/workbook.xml.rels", "".join(rels))
        zf.writestr("xl/styles.xml", _STYLES)
        for i, spec in enumerate(sheets, start=1):
            write_entry(zf, f"xl/worksheets/sheet{i}.xml", sheet_xml(spec))
