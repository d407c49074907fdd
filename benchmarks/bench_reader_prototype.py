#!/usr/bin/env python3
"""What a vectorised .xlsx reader could cost, against the read kade does now (issue 18).

    python benchmarks/bench_reader_prototype.py                  # 客户 at 100k and 1,048,575 rows, 3 turns
    python benchmarks/bench_reader_prototype.py --check --runs 1 # also compare every cell at 100k

A measurement of a design, not a reader kade uses: it reads only the usual form of a
sheet (every cell ``<c r="A1" ...>``, values in ``<v>`` or inline ``<is><t>``, no
shared strings, booleans, dates, error values or character references: what the
sample register holds) and stops with a message on anything else. Per 8 MB of
inflated sheet XML it finds the cells with ``engine.io.xlsx_scan``'s numpy pass,
gathers every value's bytes into one Arrow text array, casts the numbers to float64
in one call, and keeps each column typed (float64, or dictionary-encoded text;
objects only for a block of rows mixing numbers and text), so no Python object is
made per cell. ``engine.read_workbook`` (the safety scan, then python-calamine,
then a frame of objects) is measured beside it; each run is a fresh process, the
two readers and the two sizes taking turns. Registers as in bench_register.py
(``benchmarks/sample_register.py``). Not a pytest test; docs/performance.md
("Linearity: around the target") reports a run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402, I001  (first: it sets the allocators up, as in cli.py)
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

import sample_register  # noqa: E402
from bench_register import register  # noqa: E402
from common import code_version, machine, vm_hwm_mb  # noqa: E402
from engine.errors import Position  # noqa: E402
from engine.io.xlsx_scan import _tags, inflate_part, references  # noqa: E402

CLIENTS = "客户"
SIZES = {"100k": 100_000, "1M": sample_register.EXCEL_MAX_DATA_ROWS}


def _find(a: np.ndarray, end: int, pattern: bytes) -> np.ndarray:
    """Offsets of ``pattern`` in a[:end]."""
    last = end - len(pattern) + 1
    found = a[:last] == pattern[0]
    for j in range(1, len(pattern)):
        found &= a[j : last + j] == pattern[j]
    return np.flatnonzero(found)


def _gather(a: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The byte spans [starts, ends) of ``a`` as one Arrow text array."""
    lengths = ends - starts
    offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    return pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(a[index]))


class TypedColumns:
    """Column number -> the blocks of rows read so far (float64 arrays, Arrow text, or objects)."""

    def __init__(self) -> None:
        self.blocks: dict[int, list] = {}
        self.rows = 0

    def feed(self, data: bytes) -> None:
        """Whole rows of sheet XML."""
        end = len(data)
        a = np.zeros(end + 16, np.uint8)
        a[:end] = np.frombuffer(data, np.uint8)
        cells = _tags(a, end, ord("c"))
        if not len(cells):
            return
        if not (np.all(a[cells + 2] == ord(" ")) and np.all(a[cells + 3] == ord("r"))):
            raise SystemExit("prototype: only cells written <c r=...")
        if _find(a, end, b"&").size or _find(a, end, b' t="s"').size:
            raise SystemExit("prototype: no shared strings, no character references")
        styled = self.rows > 0 and _find(a, end, b' s="').size > 0  # the header row alone is styled here
        if styled or _find(a, end, b' t="b"').size or _find(a, end, b' t="e"').size:
            raise SystemExit("prototype: booleans, error values and styled (date) cells are not read")
        found = references(a, cells)
        if found is None:
            raise SystemExit("prototype: a cell reference written another way")
        row, column = (x.astype(np.int64) - 1 for x in found)
        closes = np.flatnonzero(a[:end] == ord(">"))
        number_at, number_end = _find(a, end, b"<v>") + 3, _find(a, end, b"</v>")
        text_tag = _find(a, end, b"<t")
        text_tag = text_tag[np.isin(a[text_tag + 2], [ord(">"), ord(" ")])]
        text_at, text_end = closes[np.searchsorted(closes, text_tag)] + 1, _find(a, end, b"</t>")
        number_cell = np.searchsorted(cells, number_at, "right") - 1
        text_cell = np.searchsorted(cells, text_at, "right") - 1
        # the header row is not data (a prototype reads it as part of nothing)
        keep_n, keep_t = row[number_cell] > 0, row[text_cell] > 0
        number_at, number_end, number_cell = number_at[keep_n], number_end[keep_n], number_cell[keep_n]
        text_at, text_end, text_cell = text_at[keep_t], text_end[keep_t], text_cell[keep_t]
        rows = np.unique(row[row > 0])
        if not len(rows):
            return
        local = np.searchsorted(rows, row)
        numbers = pc.cast(_gather(a, number_at, number_end), pa.float64()).to_numpy()
        texts = _gather(a, text_at, text_end)
        number_column, text_column = column[number_cell], column[text_cell]
        for c in range(int(column.max()) + 1):
            is_number, is_text = number_column == c, text_column == c
            if is_number.any() and is_text.any():  # numbers and text in this block: objects
                block = np.full(len(rows), None, object)
                block[local[number_cell[is_number]]] = numbers[is_number].tolist()
                block[local[text_cell[is_text]]] = texts.filter(pa.array(is_text)).to_pylist()
            elif is_text.any():
                index = np.full(len(rows), -1, np.int64)
                index[local[text_cell[is_text]]] = np.arange(int(is_text.sum()))
                block = texts.filter(pa.array(is_text)).take(pa.array(index, mask=index < 0)).dictionary_encode()
            else:
                block = np.full(len(rows), np.nan)
                block[local[number_cell[is_number]]] = numbers[is_number]
            self.blocks.setdefault(c, []).append(block)
        self.rows += len(rows)

    def columns(self) -> dict[int, object]:
        out: dict[int, object] = {}
        for c, blocks in self.blocks.items():
            if any(isinstance(b, np.ndarray) and b.dtype == object for b in blocks):
                out[c] = np.concatenate([_objects(b) for b in blocks])
            elif isinstance(blocks[0], np.ndarray):
                out[c] = np.concatenate(blocks)
            else:
                out[c] = pa.chunked_array(blocks).unify_dictionaries().combine_chunks()
        return out


def _objects(block) -> np.ndarray:
    if isinstance(block, np.ndarray):
        if block.dtype == object:
            return block
        return np.array([None if np.isnan(x) else x for x in block.tolist()], object)
    return np.array(block.to_pylist(), object)


def read_typed(path: Path) -> tuple[dict[int, object], int]:
    """The first sheet's columns, typed, and its data rows."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    reader, carry = TypedColumns(), b""
    with open(path, "rb") as raw:
        for chunk in inflate_part(raw, info, Position(str(path))):
            data = carry + chunk
            cut = data.rfind(b"<row ")
            if cut > 0:
                reader.feed(data[:cut])
                carry = data[cut:]
            else:
                carry = data
    reader.feed(carry[: carry.rfind(b"</sheetData>")])
    return reader.columns(), reader.rows


def differing_cells(path: Path, typed: dict[int, object]) -> int:
    """Cells where the typed columns and ``engine.read_workbook``'s frame disagree."""
    frame = engine.read_workbook(path)[0].frame
    differing = 0
    for j, name in enumerate(frame.columns):
        theirs = frame[name].tolist()
        mine = _objects(typed[j]).tolist()
        differing += sum(not (x == y and type(x) is type(y)) for x, y in zip(mine, theirs))
        differing += abs(len(mine) - len(theirs))
    return differing


def child(reader: str, path: str, check: bool) -> dict:
    clock = time.perf_counter()
    if reader == "typed":
        typed, rows = read_typed(Path(path))
    else:
        rows = len(engine.read_workbook(path)[0].frame)
    result = {"seconds": time.perf_counter() - clock, "peak_mb": vm_hwm_mb(), "rows": rows}
    if check and reader == "typed":
        result["differing_cells"] = differing_cells(Path(path), typed)
    return result


def spawn(reader: str, path: Path, check: bool) -> dict:
    args = [sys.executable, __file__, "--child", reader, str(path)] + (["--check"] if check else [])
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{reader} on {path.name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="turns of each reader at each size (default 3)")
    parser.add_argument("--check", action="store_true", help="compare every cell with read_workbook at 100k")
    parser.add_argument("--child", nargs=2, metavar=("READER", "WORKBOOK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.check)))
        return
    books = {size: register(rows, CLIENTS) for size, rows in SIZES.items()}
    seconds: dict[tuple[str, str], list[float]] = {}
    peaks: dict[tuple[str, str], float] = {}
    for turn in range(args.runs):
        for size, book in books.items():
            for reader in ("typed", "read_workbook"):
                run = spawn(reader, book, args.check and turn == 0 and size == "100k")
                seconds.setdefault((reader, size), []).append(run["seconds"])
                peaks[(reader, size)] = max(peaks.get((reader, size), 0.0), run["peak_mb"])
                if "differing_cells" in run:
                    print(
                        f"typed reader against read_workbook, {SIZES[size]:,} rows: {run['differing_cells']} cells differ"
                    )
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, kade {code_version()}, {machine()}; 客户, {args.runs} turns")
    print("| reader | 100,000 rows (s) | 1,048,575 rows (s) | best ratio | peak RSS 1M (MB) |")
    print("|:---|:---|:---|---:|---:|")
    for reader in ("typed", "read_workbook"):
        small, big = seconds[(reader, "100k")], seconds[(reader, "1M")]
        shown = [", ".join(f"{x:.2f}" for x in s) for s in (small, big)]
        ratio = min(big) / min(small)
        print(
            f"| {reader} | {shown[0]} | {shown[1]} | {ratio:.1f} (median {statistics.median(big) / statistics.median(small):.1f}) | {peaks[(reader, '1M')]:,.0f} |"
        )


if __name__ == "__main__":
    main()
