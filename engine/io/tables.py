"""Registers outside Excel: Parquet and CSV tables read as the same ``Sheet``s a
workbook gives, so ``bind`` finds them through the glossary alike; and results
converted to Arrow for Parquet (``engine.io.writers.write_parquet``).

A table input is one file per entity whose name without the suffix names the
sheet (``客户.parquet``, ``contracts.csv``), or a folder of such files. A folder
Spark wrote (``part-*`` files, ``_SUCCESS``) counts as one table, named by the
folder. A CSV cell is text, as typed into Excel; Parquet keeps its types (numbers,
booleans, dates) and the glossary's coercion does the rest in both cases."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from engine.errors import DataError, Position
from engine.io.cells import cell_values
from engine.io.registers import Sheet, read_workbook

TABLE_SUFFIXES = (".parquet", ".csv")


def is_tables(path: str | Path) -> bool:
    """A Parquet/CSV file or a folder (anything else is read as a workbook)."""
    path = Path(path)
    return path.is_dir() or path.suffix.lower() in TABLE_SUFFIXES


def read_register(path: str | Path, *, scanned: Callable[[], None] | None = None) -> list[Sheet]:
    """The sheets of a register: a workbook's (``scanned``: see ``read_workbook``), or its tables'."""
    return read_tables(path) if is_tables(path) else read_workbook(path, scanned=scanned)


def table_paths(path: str | Path) -> dict[str, Path]:
    """Sheet name -> file or Spark-written folder, for a table input."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"register not found: {path}")
    return {name: Path(found) for name, found in find_tables(str(path), _local_listing).items()}


def _local_listing(path: str) -> list[tuple[str, bool]] | None:
    """(child path, is a folder) in name order; None for a file."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    return [(str(child), child.is_dir()) for child in sorted(folder.iterdir())]


def find_tables(path: str, listing) -> dict[str, str]:
    """The tables of an input on any filesystem: ``listing(path)`` gives a folder's
    (child path, is a folder) pairs, or None for a file. One file is one table;
    a folder is a folder of part files (one table) or of tables, one per file or
    part-file folder. The name of a table is its file or folder name without
    the suffix."""
    children = listing(path)
    if children is None or _is_dataset(children):
        return {_stem(path): path}
    found: dict[str, str] = {}
    for child, is_dir in children:
        name = child.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith((".", "_")):
            continue
        if is_dir:
            grandchildren = listing(child)
            if not grandchildren or not _is_dataset(grandchildren):
                continue
        elif not name.lower().endswith(TABLE_SUFFIXES):
            continue
        if _stem(child) in found:
            raise DataError(f"two tables named {_stem(child)!r}: {found[_stem(child)]} and {child}", Position(path))
        found[_stem(child)] = child
    if not found:
        raise DataError(f"no .parquet or .csv tables in {path}", Position(path))
    return found


def _stem(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    for suffix in TABLE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_dataset(children: list[tuple[str, bool]]) -> bool:
    """A folder of part files, as Spark (or another engine) writes one table."""
    names = [child.rstrip("/").rsplit("/", 1)[-1] for child, is_dir in children if not is_dir]
    return any(name == "_SUCCESS" or name.startswith("part-") for name in names)


def _files(table: Path) -> list[Path]:
    if table.is_file():
        return [table]
    return sorted(f for f in table.iterdir() if f.is_file() and f.suffix.lower() in TABLE_SUFFIXES)


def read_tables(path: str | Path) -> list[Sheet]:
    """Every table of a Parquet/CSV input as a sheet of untyped cells."""
    sheets = []
    for name, table in table_paths(path).items():
        try:
            files = _files(table)
            if not files:
                raise DataError("no .parquet or .csv part files")
            sheets.append(Sheet(name, pd.concat([_read(f) for f in files], ignore_index=True)))
        except DataError as exc:
            raise DataError(exc.message, Position(str(table))) from exc
        except Exception as exc:  # pyarrow and pandas raise their own types for broken files
            raise DataError(f"cannot read table: {exc}", Position(str(table))) from exc
    return sheets


def _read(file: Path) -> pd.DataFrame:
    if file.suffix.lower() == ".csv":
        with warnings.catch_warnings():  # a row longer than the header would lose cells: refuse it
            warnings.simplefilter("error", pd.errors.ParserWarning)
            text = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig", index_col=False)
        return cell_frame(text)
    import pyarrow.parquet as pq

    return cell_frame(pq.read_table(file).to_pandas())


def cell_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Typed columns (Parquet, CSV, a Spark batch) as a sheet's cells: Python values
    in object columns, None for an empty cell (null, NaN or empty text), as
    ``engine.io.registers`` reads a workbook. The one conversion every table path
    uses, so the same data decides the same way on one machine and on Spark."""
    data = {}
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=object)
        empty = pd.isna(values) | (values == "")
        if empty.any():
            values = values.copy()
            values[empty] = None
        data[str(name)] = values
    return pd.DataFrame(data, dtype=object)


def register_sha256(path: str | Path) -> str:
    """SHA-256 of a table input: each table's name and the bytes of its files, in
    name order (the audit's stand-in for a workbook's file hash)."""
    digest = hashlib.sha256()
    for name, table in table_paths(path).items():
        for file in _files(table):
            digest.update(f"{name}/{file.name}\n".encode())
            with open(file, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------ writing ----------


def arrow_table(frame: pd.DataFrame):
    """A result frame as an Arrow table: each column typed from its values (numbers,
    booleans, dates, text, lists of text); a column of mixed values, as a sheet
    can hold, as the text Excel would show."""
    import pyarrow as pa

    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=object)
        try:
            column = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            column = None
        if (
            column is None
            or pa.types.is_null(column.type)
            or pa.types.is_nested(column.type)
            and not _text_list(column)
        ):
            text = pd.Series(cell_values(values), dtype=object).map(str, na_action="ignore")
            column = pa.array(text, type=pa.string(), from_pandas=True)
        columns[str(name)] = column
    return pa.table(columns)


def _text_list(column) -> bool:
    import pyarrow as pa

    return pa.types.is_list(column.type) and (
        pa.types.is_string(column.type.value_type) or pa.types.is_null(column.type.value_type)
    )
