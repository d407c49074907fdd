"""How kade's process allocates memory (engine/memory.py): the settings are made when
``engine`` is imported, before numpy and pyarrow load, and a setting the user made is
kept. What they save is measured in benchmarks/bench_register.py, not here. Each probe
runs in a fresh interpreter: the settings are read once per process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_OURS = (
    "MIMALLOC_PURGE_DELAY",
    "MIMALLOC_ALLOW_THP",
    "NUMPY_MADVISE_HUGEPAGE",
    "GLIBC_TUNABLES",
    "MALLOC_TRIM_THRESHOLD_",
)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in _OURS}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={**clean, **env}, check=True
    )


def _probe(code: str, **env: str) -> list[str]:
    return _run(code, **env).stdout.split()


_LIBRARIES = (
    "import engine, os, numpy, pyarrow\n"
    "print(os.environ['MIMALLOC_PURGE_DELAY'], pyarrow.default_memory_pool().backend_name)\n"
    "print(int(numpy._core.multiarray._get_madvise_hugepage()))"
)


def test_importing_kade_sets_how_numpy_and_pyarrow_allocate():
    """pyarrow's allocator keeps the memory the writers free (its pool must be mimalloc for
    the setting to mean anything); numpy asks for no huge pages - and numpy read it."""
    assert _probe(_LIBRARIES) == ["-1", "mimalloc", "0"]


def test_settings_the_user_made_are_kept():
    assert _probe(_LIBRARIES, MIMALLOC_PURGE_DELAY="10", NUMPY_MADVISE_HUGEPAGE="1") == ["10", "mimalloc", "1"]


def _mimalloc_options(**env: str) -> dict[str, str]:
    """The options pyarrow's mimalloc runs with, as mimalloc itself reports them (its
    verbose mode lists every option when the first Arrow buffer is allocated)."""
    err = _run("import engine, pyarrow\npyarrow.array(range(1000))", MIMALLOC_VERBOSE="1", **env).stderr
    found = re.findall(r"option '(\w+)': (-?\d+)", err)
    assert found, err  # this pyarrow's mimalloc reports no options: the test cannot see them
    return dict(found)


def test_mimalloc_reads_the_settings():
    """mimalloc keeps what it frees and asks for no transparent huge pages: each made
    huge page stalled about 10 ms on the machine measured (docs/performance.md)."""
    options = _mimalloc_options()
    assert options["purge_delay"] == "-1" and options["allow_thp"] == "0"
    options = _mimalloc_options(MIMALLOC_ALLOW_THP="1", MIMALLOC_PURGE_DELAY="10")
    assert options["purge_delay"] == "10" and options["allow_thp"] == "1"


# glibc's own account of its memory (mallinfo2, glibc 2.33+): bytes in blocks it mapped on
# their own (hblkhd), and the heap it holds (arena)
_HEAP = """
import ctypes{kade}
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
mapped = libc.mallinfo2().hblkhd
block = bytearray(48 << 20)
print((libc.mallinfo2().hblkhd - mapped) >> 20)
del block
print(libc.mallinfo2().arena >> 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_glibc_keeps_a_million_rows_worth_of_freed_heap():
    """With kade imported, a 48 MB block (a million rows of a few numbers) comes from the
    heap, and the heap keeps it once freed, for the next one; by default glibc maps such a
    block on its own and gives it back when freed. A user's own glibc malloc settings
    (here MALLOC_TRIM_THRESHOLD_) leave glibc as they made it."""
    mapped, heap = (int(x) for x in _probe(_HEAP.format(kade="\nimport engine")))
    assert mapped == 0 and heap >= 48
    mapped, heap = (int(x) for x in _probe(_HEAP.format(kade="")))
    assert mapped >= 48 and heap < 48
    mapped, heap = (int(x) for x in _probe(_HEAP.format(kade="\nimport engine"), MALLOC_TRIM_THRESHOLD_="131072"))
    assert mapped >= 48 and heap < 48
