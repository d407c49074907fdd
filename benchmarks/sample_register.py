"""The shipped sample register at scale, for benchmarks: ``workbooks/generate_sample.build_frames``
with N clients, every sheet cut to N rows (the other sheets are larger in the sample's
proportions, 320 : 600 : 400 : 500), written as the sample writes it (是/否 for booleans,
dates as dates) to ``benchmarks/data/sample_register_<N>.xlsx`` (gitignored, kept between runs).

Whatever columns the generator makes are written: a column added there is benchmarked here.

    python benchmarks/sample_register.py 100k 1048575     # build (or keep) both registers
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
EXCEL_MAX_DATA_ROWS = 1_048_575  # a sheet of 1,048,576 rows: the header and Excel's maximum of data rows

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "workbooks"))


def size(text: str) -> int:
    """'100k' -> 100000, '1m' -> 1000000, '1,048,575' -> 1048575."""
    text = text.strip().lower().replace(",", "").replace("_", "")
    factor = 1_000_000 if text.endswith("m") else 1_000 if text.endswith("k") else 1
    return int(float(text.rstrip("mk")) * factor)


def register_path(rows: int) -> Path:
    return DATA / f"sample_register_{rows}.xlsx"


def build_register(rows: int, force: bool = False) -> Path:
    """The sample generator with ``rows`` clients, every sheet cut to ``rows`` rows."""
    path = register_path(rows)
    if path.exists() and not force:
        return path
    import generate_sample as sample

    frames = sample.build_frames(max(sample.MIN_CLIENTS, rows))
    return write_register({name: frame.iloc[:rows] for name, frame in frames.items()}, path)


def write_register(frames: dict, path: Path, booleans_as_text: bool = True) -> Path:
    """Write the generator's frames as a register workbook (engine.io.xlsx_stream)."""
    from engine.io import xlsx_stream
    from engine.io.writers import atomic_path

    start = time.perf_counter()
    specs = [
        xlsx_stream.SheetSpec(name, _cells(frame, booleans_as_text), freeze=(1, 0)) for name, frame in frames.items()
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        xlsx_stream.write(tmp, specs)
    sizes = ", ".join(f"{name} {len(f):,}" for name, f in frames.items())
    print(f"wrote {path.name} ({sizes}) in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return path


def _cells(frame, booleans_as_text: bool):
    """Cells as the sample workbook has them: 是/否 for booleans (text, as managers
    type them; or booleans), dates as datetime.date, None for blanks."""
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype.kind == "M":
            frame[col] = frame[col].dt.date
        elif frame[col].dtype.kind == "b" and booleans_as_text:
            frame[col] = frame[col].map({True: "是", False: "否"})
    return frame.astype(object).where(frame.notna(), None)


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["100k", str(EXCEL_MAX_DATA_ROWS)]:
        print(build_register(size(arg)))
